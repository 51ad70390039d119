"""Bitcoin side of reserve attestations: signatures (legacy signmessage, BIP-322 simple) and amounts.

Vectors:

* BIP-322 (bitcoin/bips ``bip-0322/basic-test-vectors.json`` and ``generated-test-vectors.json`` at commit
  7fe0b034ec967b52a5a28276419117326df93263 -- all "simple" vectors, all error vectors of the basic file, the
  "simple" error vectors and four "full" ones of the generated file; CC0;
  the unprefixed "" / "Hello World" signatures of the BIP's earlier text; the P2TR "Hello World" vector of
  the BIP-322 branch of Bitcoin Core (luke-jr's ``src/test/util_tests.cpp``), also used by bip322-js and
  the rust ``bip322`` crate);
* legacy signmessage: Bitcoin Core ``src/test/util_tests.cpp`` (``message_sign`` / ``message_verify``) and
  ``test/functional/rpc_signmessagewithprivkey.py``.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import pytest
from btclib.b58 import prv_key_data_from_wif
from btclib_wallet import bip322 as lib_bip322
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from por.core.errors import BadInput, ServiceUnavailable, VerificationFailed
from por.reserves.bitcoin import (
    MAX_MONEY,
    NETWORKS,
    SIGNING_ADDRESS_TYPES,
    BitcoinCoreRpc,
    address_for,
    load_utxo_snapshot,
    parse_address,
    parse_utxo_snapshot,
    sats_to_ledger_units,
    sign_message_bip322,
    sign_message_legacy,
    snapshot_document,
    verify_message,
)


def wif_bytes(wif: str) -> bytes:
    return prv_key_data_from_wif(wif).q.to_bytes(32, "big")


# ---------------------------------------------------------------------- BIP-322 official vectors

BIP_KEY = "L3VFeEujGtevx9w18HD1fhRbCH67Az2dpCymeRE1SoPK6XQtaN2k"
BIP_P2WPKH = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
BIP_P2TR = "bc1ppv609nr0vr25u07u95waq5lucwfm6tde4nydujnu8npg4q75mr5sxq8lt3"

# the BIP's text before 1.0.0 (no variant prefix): both RFC 6979 signatures for each message
BIP_UNPREFIXED = [
    ("", "AkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40ASEC"
         "x/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI="),
    ("", "AkgwRQIhAPkJ1Q4oYS0htvyuSFHLxRQpFAY56b70UvE7Dxazen0ZAiAtZfFz1S6T6I23MWI2lK/pcNTWncuyL8UL+oMdydVgzAEh"
         "AsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy"),
    ("Hello World", "AkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx"
                    "9a/sASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI="),
    ("Hello World", "AkgwRQIhAOzyynlqt93lOKJr+wmmxIens//zPzl9tqIOua93wO6MAiBi5n5EyAcPScOjf1lAqIUIQtr3zKNeavYabHyR"
                    "8eGhowEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy"),
]
P2TR_HELLO = "AUHd69PrJQEv+oKTfZ8l+WROBHuy9HKrbFCJu7U1iK2iiEy1vMU5EfMtjc+VSHM7aU0SDbak5IUZRVno2P5mjSafAQ=="

BASIC_TX_HASHES = [  # (message, address, message_hash, to_spend txid, to_sign txid)
    ("", "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l",
     "c90c269c4f8fcbe6880f72a721ddfbf1914268a794cbb21cfafee13770ae19f1",
     "c5680aa69bb8d860bf82d4e9cd3504b55dde018de765a91bb566283c545a99a7",
     "1e9654e951a5ba44c8604c4de6c67fd78a27e81dcadcfe1edf638ba3aaebaed6"),
    ("Hello World", "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l",
     "f0eb03b1a75ac6d9847f55c624a99169b5dccba2a31f5b23bea77ba270de0a7a",
     "b79d196740ad5217771c1098fc4a4b51e0535c32236c71f1ea4d61a2d603352b",
     "88737ae86f2077145f93cc4b153ae9a1cb8d56afa511988c149c5c8c9d93bddf"),
    ("UTF-8 support: öäüéàè 测试文本 😄", "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l",
     "43936b237ea38c7794eb5d755e0d220b6db92ebfc5c8f482759d22b1286376d7",
     "c8f4f525fe8afb1bc09b44175bd2096f079c98425e8a1be676b712add1fb62f0",
     "8f488e06b89eafd019ec528109eafaf7f1d1811fd617aa1eeb9658f1c1be6586"),
]
BASIC_SIMPLE = [  # (type, address, message, signature)
    ("p2wpkh", "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l",
     "",
     ("smpAkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40A"
      "SECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=")),
    ("p2wpkh", "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l",
     "",
     ("smpAkgwRQIhAPkJ1Q4oYS0htvyuSFHLxRQpFAY56b70UvE7Dxazen0ZAiAtZfFz1S6T6I23MWI2lK/pcNTWncuyL8UL+oMdydVgz"
      "AEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy")),
    ("p2wpkh", "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l",
     "Hello World",
     ("smpAkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9a/sA"
      "SECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=")),
    ("p2wpkh", "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l",
     "Hello World",
     ("smpAkgwRQIhAOzyynlqt93lOKJr+wmmxIens//zPzl9tqIOua93wO6MAiBi5n5EyAcPScOjf1lAqIUIQtr3zKNeavYabHyR8eGho"
      "wEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy")),
    ("p2wsh-multisig-3of3", "bc1qp0ahvfh83088w49k405szqgg4f3pptr7p2g06tdxfjcd40z4lh4q95lsz9",
     "This will be a p2wsh 3-of-3 multisig BIP 322 signed message",
     ("smpBQBHMEQCIFX9aaqPJWq2Ff2kpen5bFDTid+ehgUOpHV0LfjncXy4AiA3GNicF7aKPzdpa9PCpmaYQs3pHd+qbvvhXdxOCKCAM"
      "AFIMEUCIQD/ELXg6CNYyUQijCg96JtgvgjZb9dsl1Ctof4QAeyTcQIgVM/1AAblFl/DCt6A1gJg+T/i2qU5SQD09+chFJzolRwBS"
      "DBFAiEAlqRfSFyWNVQhvaCnmeV5tyneiCWMTcFbuujoD/pFa3wCIGnZjfQb8NolSYq9asV+ZeBSkCGHJcqnaV4JYS5MYPEGAWlTI"
      "QJ1aLEfEi/4p7wcV+XHZCBVvGGJZ7L3v+jhH+mZA8lN0yECCovfec+kIdllXpKCgA8RX/HZ2x5yHOtCSKP8/sf6pnwhAwxSng6kC"
      "gCXXSAmJOOZFdr3vdK3HzGqCFloOHgc5fM6U64=")),
    ("p2tr", "bc1pss0zhytly75awhm6x2hhvd5lnzv3vssgrf9axfheq8ldyzn88ges79fler",
     "No prefix fallback",
     "AUCJYOwOjxYAvatTAGYaVlNXBVyFuc4MwNQkOuK2tl8xhfKDONd0NjfYyNSYcRqeCp8hsAnCEPHAVEkO9h6vbQ/R"),
]
GENERATED_SIMPLE = [  # (type, address, message, signature)
    ("p2wpkh", "bc1qqthe0hz8klx90e7stf6shclhsvqd5ly96pn53v",
     "2V6TUTMSH4VQ3Z7WZWKYD7DFNH",
     ("smpAkgwRQIhALC6hdfxNy1n45d7UXSskRBdfZW0Al259E1kDMpipdYkAiAJPfZqb+WurZuf1apU5xeE6Igui9dvt5tihQLDvxlY1"
      "AEhAqbnruyo677ktQjio7XOchO3w51Dh9AbRVngha5jtNfT")),
    ("p2tr", "bc1pcquvhrqv0q68t4m0hfq6tpn006qrskyc7yrqnp2uyrf2emg3wynsdjyk38",
     "PURVOQ544B6HUATVBJZN5EZJUU",
     "smpAUB6B2Rbupzua8LTQIF06516wzl+cwKy1be8RgoiW0riyXdKwe6GTz/5Hnb37m67pJwIKCh+D5jDueG6KpvYpmu8"),
    ("p2wsh-multisig-2of2", "bc1qw6g0rgrpuxvj4edkwtvzpmt3c5m08mhp8nuk3mrk4erufvlczp5ssdscjd",
     "G7ZTXXOVJFHGDD6XYJAGBAMT5A",
     ("smpBABIMEUCIQCKl1f9Cj26k0fFWE48+O4ibhYJYPytbDZWJRaaG9BybwIgCbk+3BViWkpuu2RI+41dwtlQ/m/01G860pTFCzDFf"
      "okBSDBFAiEA0O77DJsaM7IO+Ht06sp3umzXB64CNNOwf2isZuPfdmwCIGlggOwRSkXsqlPhE1gMdd5hf7ycL33Orfrr4v/XnMGSA"
      "UdSIQNsu/OwZurHvJMoiJoSAmmCHLoqIc5Wblh+rek+7rhASCECgYVkUspeAxwRfM6v4GRBhN/gGxTfpPqZuOlBIYZxTJZSrg==")),
    ("p2wsh-multisig-3of3", "bc1qazhmhwl9sxgjmwnd96hh926s3x5l0cf64yy6hvyn6qms438x550qy5sgva",
     "Z3SB7SRL555ZGOHVMYT5WG7RIZ",
     ("smpBQBHMEQCICNI6H6b+VCZV9Z2H6EW5hPrE1buC6SJuy2ljSNmQlGfAiASbm5UrA8KH6TwF6evx7COV+i27ubiq2v9TyLYPOO63"
      "gFIMEUCIQCMOFnJbg0sy88G6wUXjv5stjVgfvAokOogWsisdkAnlAIgETfBw7kJhISFu9vIomFcEF/1NsN6c0h3KjNcpmNAZtMBS"
      "DBFAiEA/lUU+wBeA3prt8vHRpcQN763OYZ8L61DfN0QI/gkHpMCIB2qHwgoXNTH0sdqeAMD2ah7dSTie2bflax3Q3I/GibQAWlTI"
      "QKo003Zjj9Jg/kT7sOA7cTdIKmzsrIYBAuPd9hj8FZuHCEC6BdalMtwbjcx2vJjVelv7BJml0rY7Q5ze+PWen6tb5shAytperlYB"
      "s69tbn86t3pINqXy0NzttKZKi6Y8X+USQXaU64=")),
]
BASIC_ERRORS = [  # (description, address, message, signature)
    ("invalid base64 encoding",
     "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l", "",
     "not-valid-base64!!!"),
    ("empty signature",
     "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l", "",
     ""),
    ("wrong message for valid simple p2wpkh signature (empty message was signed)",
     "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l", "Wrong message that was not signed",
     ("smpAkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40A"
      "SECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=")),
    ("wrong address for valid simple p2wpkh signature (signed for different address)",
     "bc1qp0ahvfh83088w49k405szqgg4f3pptr7p2g06tdxfjcd40z4lh4q95lsz9", "",
     ("smpAkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40A"
      "SECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=")),
    ("empty witness stack (single zero byte)",
     "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l", "",
     "smpAA=="),
    ("wrong message for valid simple p2wsh 3-of-3 multisig signature",
     "bc1qp0ahvfh83088w49k405szqgg4f3pptr7p2g06tdxfjcd40z4lh4q95lsz9", "This is not the message that was signed",
     ("smpBQBHMEQCIFX9aaqPJWq2Ff2kpen5bFDTid+ehgUOpHV0LfjncXy4AiA3GNicF7aKPzdpa9PCpmaYQs3pHd+qbvvhXdxOCKCAM"
      "AFIMEUCIQD/ELXg6CNYyUQijCg96JtgvgjZb9dsl1Ctof4QAeyTcQIgVM/1AAblFl/DCt6A1gJg+T/i2qU5SQD09+chFJzolRwBS"
      "DBFAiEAlqRfSFyWNVQhvaCnmeV5tyneiCWMTcFbuujoD/pFa3wCIGnZjfQb8NolSYq9asV+ZeBSkCGHJcqnaV4JYS5MYPEGAWlTI"
      "QJ1aLEfEi/4p7wcV+XHZCBVvGGJZ7L3v+jhH+mZA8lN0yECCovfec+kIdllXpKCgA8RX/HZ2x5yHOtCSKP8/sf6pnwhAwxSng6kC"
      "gCXXSAmJOOZFdr3vdK3HzGqCFloOHgc5fM6U64=")),
    ("invalid signature prefix",
     "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l", "",
     "fooAA=="),
    ("incorrect prefix type",
     "bc1pyrgrm6cu6n54jrvkdjd9rvyd3xfyu84s2623awu2srn6mxhscwpsm5644w", "incorrect prefix",
     "fulAUDZwFXUp+adN+/UZj5dVrGAbB3zKs1Vcalz5fCF9srxS63eSWNGvH1NYbrBkPt1BJDUyWUz9zgUxfc63/QheT6M"),
]
GENERATED_ERRORS = [  # (description, address, message, signature)
    ("wrong message for p2wpkh simple signature",
     "bc1qqthe0hz8klx90e7stf6shclhsvqd5ly96pn53v", "EFGJ4AZYXDV7NDUDSUDB3NCDUC",
     ("smpAkgwRQIhALC6hdfxNy1n45d7UXSskRBdfZW0Al259E1kDMpipdYkAiAJPfZqb+WurZuf1apU5xeE6Igui9dvt5tihQLDvxlY1"
      "AEhAqbnruyo677ktQjio7XOchO3w51Dh9AbRVngha5jtNfT")),
    ("wrong signer for p2wpkh simple signature",
     "bc1qgg6lpr05az2l5kz402ddz5ez7fdu25kgmd40lf", "2V6TUTMSH4VQ3Z7WZWKYD7DFNH",
     ("smpAkgwRQIhALC6hdfxNy1n45d7UXSskRBdfZW0Al259E1kDMpipdYkAiAJPfZqb+WurZuf1apU5xeE6Igui9dvt5tihQLDvxlY1"
      "AEhAqbnruyo677ktQjio7XOchO3w51Dh9AbRVngha5jtNfT")),
    ("wrong message for p2tr simple signature",
     "bc1pcquvhrqv0q68t4m0hfq6tpn006qrskyc7yrqnp2uyrf2emg3wynsdjyk38", "56VM6YK6Y76XTBXNPITF232EPX",
     "smpAUB6B2Rbupzua8LTQIF06516wzl+cwKy1be8RgoiW0riyXdKwe6GTz/5Hnb37m67pJwIKCh+D5jDueG6KpvYpmu8"),
    ("wrong signer for p2tr simple signature",
     "bc1pltvk000nd54v3hrrcn7lsffdra72hphpm40rhzf9hn8arqkgermq2p9029", "PURVOQ544B6HUATVBJZN5EZJUU",
     "smpAUB6B2Rbupzua8LTQIF06516wzl+cwKy1be8RgoiW0riyXdKwe6GTz/5Hnb37m67pJwIKCh+D5jDueG6KpvYpmu8"),
    ("wrong message for p2wsh-multisig-2of2 simple signature",
     "bc1qw6g0rgrpuxvj4edkwtvzpmt3c5m08mhp8nuk3mrk4erufvlczp5ssdscjd", "DL2KXDPQAN63YIQPIP34O3XYVX",
     ("smpBABIMEUCIQCKl1f9Cj26k0fFWE48+O4ibhYJYPytbDZWJRaaG9BybwIgCbk+3BViWkpuu2RI+41dwtlQ/m/01G860pTFCzDFf"
      "okBSDBFAiEA0O77DJsaM7IO+Ht06sp3umzXB64CNNOwf2isZuPfdmwCIGlggOwRSkXsqlPhE1gMdd5hf7ycL33Orfrr4v/XnMGSA"
      "UdSIQNsu/OwZurHvJMoiJoSAmmCHLoqIc5Wblh+rek+7rhASCECgYVkUspeAxwRfM6v4GRBhN/gGxTfpPqZuOlBIYZxTJZSrg==")),
    ("wrong signer for p2wsh-multisig-2of2 simple signature",
     "bc1q47vnwr6fsarstmmw89wrkvl89540sn5g79x75ms8aly9rrsnq8eqh3v9gz", "G7ZTXXOVJFHGDD6XYJAGBAMT5A",
     ("smpBABIMEUCIQCKl1f9Cj26k0fFWE48+O4ibhYJYPytbDZWJRaaG9BybwIgCbk+3BViWkpuu2RI+41dwtlQ/m/01G860pTFCzDFf"
      "okBSDBFAiEA0O77DJsaM7IO+Ht06sp3umzXB64CNNOwf2isZuPfdmwCIGlggOwRSkXsqlPhE1gMdd5hf7ycL33Orfrr4v/XnMGSA"
      "UdSIQNsu/OwZurHvJMoiJoSAmmCHLoqIc5Wblh+rek+7rhASCECgYVkUspeAxwRfM6v4GRBhN/gGxTfpPqZuOlBIYZxTJZSrg==")),
    ("wrong message for p2wsh-multisig-3of3 simple signature",
     "bc1qazhmhwl9sxgjmwnd96hh926s3x5l0cf64yy6hvyn6qms438x550qy5sgva", "UKLIJM5HKKQEIFJ44R7UIQFMYL",
     ("smpBQBHMEQCICNI6H6b+VCZV9Z2H6EW5hPrE1buC6SJuy2ljSNmQlGfAiASbm5UrA8KH6TwF6evx7COV+i27ubiq2v9TyLYPOO63"
      "gFIMEUCIQCMOFnJbg0sy88G6wUXjv5stjVgfvAokOogWsisdkAnlAIgETfBw7kJhISFu9vIomFcEF/1NsN6c0h3KjNcpmNAZtMBS"
      "DBFAiEA/lUU+wBeA3prt8vHRpcQN763OYZ8L61DfN0QI/gkHpMCIB2qHwgoXNTH0sdqeAMD2ah7dSTie2bflax3Q3I/GibQAWlTI"
      "QKo003Zjj9Jg/kT7sOA7cTdIKmzsrIYBAuPd9hj8FZuHCEC6BdalMtwbjcx2vJjVelv7BJml0rY7Q5ze+PWen6tb5shAytperlYB"
      "s69tbn86t3pINqXy0NzttKZKi6Y8X+USQXaU64=")),
    ("wrong signer for p2wsh-multisig-3of3 simple signature",
     "bc1qnckc2q6804depn2240l66p93e0mscp7vd9ndptfuznex86ehpcvseq6e8a", "Z3SB7SRL555ZGOHVMYT5WG7RIZ",
     ("smpBQBHMEQCICNI6H6b+VCZV9Z2H6EW5hPrE1buC6SJuy2ljSNmQlGfAiASbm5UrA8KH6TwF6evx7COV+i27ubiq2v9TyLYPOO63"
      "gFIMEUCIQCMOFnJbg0sy88G6wUXjv5stjVgfvAokOogWsisdkAnlAIgETfBw7kJhISFu9vIomFcEF/1NsN6c0h3KjNcpmNAZtMBS"
      "DBFAiEA/lUU+wBeA3prt8vHRpcQN763OYZ8L61DfN0QI/gkHpMCIB2qHwgoXNTH0sdqeAMD2ah7dSTie2bflax3Q3I/GibQAWlTI"
      "QKo003Zjj9Jg/kT7sOA7cTdIKmzsrIYBAuPd9hj8FZuHCEC6BdalMtwbjcx2vJjVelv7BJml0rY7Q5ze+PWen6tb5shAytperlYB"
      "s69tbn86t3pINqXy0NzttKZKi6Y8X+USQXaU64=")),
    ("wrong message for p2pkh full signature",
     "13vU5PUSuArDXJdCWZvUFEbgJ2wcmtSJWn", "TCHG6CQ5E2T5S4S7DPLAEFVDY2",
     ("fulAgAAAAGn3Z6t/gsHNyHdgZTOVro0Hej+qbd/ilU1ACalKoHX3gAAAABqRzBEAiB+8t/tm8Jm6zYv9JGZZVlAUjmqg7ZglIA39"
      "U+bim8EKQIgDv3E5cHOagN+xYgN3ZQjTYlAJp/WyslwJWuFP1TmM3IBIQJcPK2h9SY+Ki1oussvHnMdFAhJgsYBFPl+rNcMv9P1R"
      "OAHAAABAAAAAAAAAAABauAHAAA=")),
    ("wrong signer for p2pkh full signature",
     "1BxMhvfWLnGLqVhJ3j39oDBk7qf5D86BFe", "MOISC5NCQ42ADH2SUXLELUJOWH",
     ("fulAgAAAAGn3Z6t/gsHNyHdgZTOVro0Hej+qbd/ilU1ACalKoHX3gAAAABqRzBEAiB+8t/tm8Jm6zYv9JGZZVlAUjmqg7ZglIA39"
      "U+bim8EKQIgDv3E5cHOagN+xYgN3ZQjTYlAJp/WyslwJWuFP1TmM3IBIQJcPK2h9SY+Ki1oussvHnMdFAhJgsYBFPl+rNcMv9P1R"
      "OAHAAABAAAAAAAAAAABauAHAAA=")),
    ("wrong message for p2wpkh full signature",
     "bc1qrqtlzcq86850yzgsyq9sssawx2qxlx5yq3xpkd", "VENQMXVEGEJAAXJV5V24T6G5UU",
     ("fulAgAAAAABAUrfzHHOLAKmgCIFSTT3krp+cQxj1BDPBN4GBg3tRmFXAAAAAADgBwAAAQAAAAAAAAAAAWoCSDBFAiEAjYj85zyhQ"
      "Ka9DbMO0reDwdhkNwKJkF3q2qFcijXDgMUCIAaQ75s3fwqrCeYIUJugLvhxZFxQIVquGN90vIKCW3QLASEDMurnDzvc0zABUwVwC"
      "ADfGXoDx/M3SQnYt7e3IHDoU3PgBwAA")),
    ("wrong signer for p2wpkh full signature",
     "bc1q55chmwm4x8aeye0h9c0mryra2ly8k8fh3scqgj", "KLE5MMJBTNF4AVZXIO3GIL5UWF",
     ("fulAgAAAAABAUrfzHHOLAKmgCIFSTT3krp+cQxj1BDPBN4GBg3tRmFXAAAAAADgBwAAAQAAAAAAAAAAAWoCSDBFAiEAjYj85zyhQ"
      "Ka9DbMO0reDwdhkNwKJkF3q2qFcijXDgMUCIAaQ75s3fwqrCeYIUJugLvhxZFxQIVquGN90vIKCW3QLASEDMurnDzvc0zABUwVwC"
      "ADfGXoDx/M3SQnYt7e3IHDoU3PgBwAA")),
]


@pytest.mark.parametrize(("message", "address", "message_hash", "to_spend", "to_sign"), BASIC_TX_HASHES)
def test_bip322_transaction_hashes(message, address, message_hash, to_spend, to_sign):
    """The library's to_spend / to_sign construction matches the BIP's hashes."""
    msg = message.encode("utf-8")
    assert lib_bip322.message_hash(msg).hex() == message_hash
    spend = lib_bip322.to_spend(msg, parse_address(address).script_pubkey)
    assert spend.id.hex() == to_spend
    assert lib_bip322.to_sign(spend).id.hex() == to_sign


@pytest.mark.parametrize(("kind", "address", "message", "signature"), BASIC_SIMPLE + GENERATED_SIMPLE)
def test_bip322_official_simple_vectors_verify(kind, address, message, signature):
    assert verify_message(address, message, signature) == "bip322-simple"
    bare = signature[3:] if signature.startswith("smp") else signature
    assert verify_message(address, message, bare) == "bip322-simple"  # pre-1.0.0 form, no prefix


@pytest.mark.parametrize(("message", "signature"), BIP_UNPREFIXED)
def test_bip322_hello_world_p2wpkh(message, signature):
    assert verify_message(BIP_P2WPKH, message, signature) == "bip322-simple"
    assert verify_message(BIP_P2WPKH, message, "smp" + signature) == "bip322-simple"
    with pytest.raises(VerificationFailed, match="does not satisfy"):
        verify_message(BIP_P2WPKH, message + "!", signature)


def test_bip322_hello_world_p2tr():
    assert verify_message(BIP_P2TR, "Hello World", P2TR_HELLO) == "bip322-simple"
    with pytest.raises(VerificationFailed, match="does not satisfy the P2TR"):
        verify_message(BIP_P2TR, "Hello World - This should fail", P2TR_HELLO)
    with pytest.raises(VerificationFailed, match="does not satisfy"):
        verify_message(BIP_P2TR, "", P2TR_HELLO)


def test_bip322_vector_key_gives_vector_addresses_and_signature():
    key = wif_bytes(BIP_KEY)
    assert address_for(key, "p2wpkh", "mainnet") == BIP_P2WPKH
    assert address_for(key, "p2tr", "mainnet") == BIP_P2TR
    assert address_for(key, "p2wpkh", "testnet") == "tb1q9vza2e8x573nczrlzms0wvx3gsqjx7vaxwd45v"
    assert address_for(key, "p2wpkh", "regtest") == "bcrt1q9vza2e8x573nczrlzms0wvx3gsqjx7vay85cr9"
    assert address_for(key, "p2tr", "regtest") == "bcrt1ppv609nr0vr25u07u95waq5lucwfm6tde4nydujnu8npg4q75mr5su3mkyy"
    assert address_for(key, "p2pkh", "mainnet") == "14vV3aCHBeStb5bkenkNHbe2YAFinYdXgc"
    assert address_for(key, "p2pkh", "regtest") == "mjSSLdHFzft9NC5NNMik7WrMQ9rRhMhNpT"
    assert address_for(key, "p2sh-p2wpkh", "mainnet") == "37qyp7jQAzqb2rCBpMvVtLDuuzKAUCVnJb"
    assert address_for(key, "p2sh-p2wpkh", "testnet") == "2MyQBsrfRnTLwEdpjVVYNWHDB8LXLJUcub9"
    # ECDSA signing is RFC 6979 deterministic (no low-R grinding), as the BIP's reference: same bytes
    assert sign_message_bip322(key, "p2wpkh", "Hello World") == "smp" + BIP_UNPREFIXED[3][1]
    assert sign_message_bip322(key, "p2wpkh", "", prefix=False) == BIP_UNPREFIXED[1][1]


@pytest.mark.parametrize(("description", "address", "message", "signature"), BASIC_ERRORS + GENERATED_ERRORS)
def test_bip322_official_error_vectors_rejected(description, address, message, signature):
    with pytest.raises(VerificationFailed) as exc:
        verify_message(address, message, signature)
    assert exc.value.exit_code == 1
    assert address in str(exc.value)


def test_bip322_full_and_proof_of_funds_named_in_the_error():
    with pytest.raises(VerificationFailed, match="BIP-322 full signatures .'ful' prefix. are not accepted"):
        verify_message(BIP_P2WPKH, "", "ful" + BIP_UNPREFIXED[0][1])
    with pytest.raises(VerificationFailed, match="proof-of-funds"):
        verify_message(BIP_P2WPKH, "", "pofcHNidP8B")


# ---------------------------------------------------------------------- the ownership message (SPEC.md §13)

OWNERSHIP = ("por reserves attestation v1\nsnapshot: acme-2026-11-20\n"
             "root: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\nchain: bitcoin\n"
             "address: {address}\nblock: 820000")
SPEC_BIP322 = ("smpAkgwRQIhAIXsqY0NH9nCMl9NKyLuN992KWIglqz11jNP1nKnerFmAiBwvE2XgRpiA02y5dPVtCMUkjxs9cUHsZHZVeBCJ+"
               "Jm6gEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy")
SPEC_LEGACY = "IJryP+17lJmkHE/C+fTXquMpXAbWL/DSw02WKt2OQEl5LPLXveSt3q4MD1d0wwYA3gxP06Xe7TQMDJzhcYOsV4Q="


def test_spec_ownership_vectors():
    key = wif_bytes(BIP_KEY)
    p2wpkh_msg = OWNERSHIP.format(address=BIP_P2WPKH)
    assert len(p2wpkh_msg.encode()) == 205
    assert sign_message_bip322(key, "p2wpkh", p2wpkh_msg) == SPEC_BIP322
    assert verify_message(BIP_P2WPKH, p2wpkh_msg, SPEC_BIP322) == "bip322-simple"
    p2pkh = "14vV3aCHBeStb5bkenkNHbe2YAFinYdXgc"
    p2pkh_msg = OWNERSHIP.format(address=p2pkh)
    assert sign_message_legacy(key, p2pkh_msg) == SPEC_LEGACY
    assert verify_message(p2pkh, p2pkh_msg, SPEC_LEGACY) == "legacy"
    # bound to snapshot, root, chain, address and height: any other message fails
    for other in (p2wpkh_msg.replace("acme-2026-11-20", "acme-2026-11-21"), p2wpkh_msg.replace("1f\n", "1e\n"),
                  p2wpkh_msg.replace("820000", "820001"), p2wpkh_msg.replace("bitcoin", "ethereum"),
                  p2wpkh_msg + "\n"):
        with pytest.raises(VerificationFailed):
            verify_message(BIP_P2WPKH, other, SPEC_BIP322)
    with pytest.raises(VerificationFailed):
        verify_message(p2pkh, p2pkh_msg.replace("820000", "820001"), SPEC_LEGACY)
    p2tr_msg = OWNERSHIP.format(address=BIP_P2TR)
    p2tr_sig = sign_message_bip322(key, "p2tr", p2tr_msg)  # BIP-340 with fresh auxiliary randomness
    assert verify_message(BIP_P2TR, p2tr_msg, p2tr_sig) == "bip322-simple"
    with pytest.raises(VerificationFailed):
        verify_message(BIP_P2TR, p2tr_msg.replace("820000", "820001"), p2tr_sig)


# ---------------------------------------------------------------------- legacy signmessage (Bitcoin Core vectors)

CORE_KEY = bytes.fromhex("d97f5108f11cda6eeebaaa420fef0726b1f898060b98489fa3098463c0032866")
CORE_ADDRESS = "15CRxFdyRpGZLW9w8HnHvVduizdL5jKNbs"
CORE_SIGNATURE = "IPojfrX2dfPnH26UegfbGQQLrdK844DlHq5157/P6h57WyuS/Qsl+h/WSVGDF4MUi4rWSswW38oimDYfNNUBUOk="


def test_legacy_bitcoin_core_message_sign_vector():
    assert address_for(CORE_KEY, "p2pkh", "mainnet") == CORE_ADDRESS
    assert sign_message_legacy(CORE_KEY, "Trust no one") == CORE_SIGNATURE
    assert verify_message(CORE_ADDRESS, "Trust no one", CORE_SIGNATURE) == "legacy"
    with pytest.raises(VerificationFailed, match="legacy signature does not verify"):
        verify_message(CORE_ADDRESS, "I never signed this", CORE_SIGNATURE)


def test_legacy_bitcoin_core_message_verify_vectors():
    assert verify_message("11canuhp9X2NocwCq7xNrQYTmUgZAnLK3", "Trust me",
                          "IIcaIENoYW5jZWxsb3Igb24gYnJpbmsgb2Ygc2Vjb25kIGJhaWxvdXQgZm9yIGJhbmtzIAaHRtbCeDZINyavx14=") \
        == "legacy"
    with pytest.raises(VerificationFailed, match="not a valid Bitcoin address"):
        verify_message("invalid address", "message too", CORE_SIGNATURE)
    with pytest.raises(VerificationFailed, match="not valid base64"):
        verify_message("1KqbBpLy5FARmTPD4VZnDDpYjkUvkr82Pm", "m", "invalid signature, not in base64 encoding")
    with pytest.raises(VerificationFailed, match="header byte 0"):  # Core: ERR_PUBKEY_NOT_RECOVERED
        verify_message("1KqbBpLy5FARmTPD4VZnDDpYjkUvkr82Pm", "m", "A" * 87 + "=")
    with pytest.raises(VerificationFailed, match="does not verify"):  # a P2SH that is not this key's
        verify_message("3B5fQsEXEaV8v6U3ejYc8XaKXAkyQj2MjV", "Trust no one", CORE_SIGNATURE)


def test_legacy_bitcoin_core_testnet_vector_and_segwit_extension():
    key = wif_bytes("cUeKHd5orzT3mz8P9pxyREHfsWtVfgsfDjiZZBcjUBAaGk1BTj7N")
    sig = "INbVnW4e6PeRmsv2Qgu8NuopvrVjkcxob+sX8OcZG0SALhWybUjzMLPdAsXI46YZGb0KQTRii+wWIQzRpG/U+S0="
    message = "This is just a test message"
    assert sign_message_legacy(key, message) == sig
    assert address_for(key, "p2pkh", "testnet") == "mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB"
    assert verify_message("mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB", message, sig, network="testnet") == "legacy"
    assert verify_message("mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB", message, sig, network="regtest") == "legacy"
    # Bitcoin Core refuses this signature for the key's segwit addresses; the Electrum convention (header
    # 31-34 of a compressed key also for P2WPKH / P2SH-P2WPKH) accepts it -- documented in SPEC.md §13
    for kind in ("p2wpkh", "p2sh-p2wpkh"):
        assert verify_message(address_for(key, kind, "testnet"), message, sig) == "legacy"
    with pytest.raises(VerificationFailed, match="cannot prove a P2TR address"):
        verify_message(address_for(key, "p2tr", "testnet"), message, sig)


@pytest.mark.parametrize("network", NETWORKS)
def test_legacy_round_trip_every_address_type(network):
    key = bytes.fromhex("11" * 32)
    msg = "por reserves attestation v1\nsnapshot: s\nblock: 1 — ünïcödé"
    p2pkh = address_for(key, "p2pkh", network)
    sig = sign_message_legacy(key, msg)
    assert base64.b64decode(sig)[0] in range(31, 35)
    assert verify_message(p2pkh, msg, sig, network=network) == "legacy"
    unc = address_for(key, "p2pkh", network, compressed=False)
    sig_unc = sign_message_legacy(key, msg, compressed=False)
    assert base64.b64decode(sig_unc)[0] in range(27, 31)
    assert verify_message(unc, msg, sig_unc) == "legacy"
    with pytest.raises(VerificationFailed):  # the compressed-key signature is not the uncompressed address's
        verify_message(unc, msg, sig)
    for kind, headers in (("p2sh-p2wpkh", range(35, 39)), ("p2wpkh", range(39, 43))):
        addr = address_for(key, kind, network)
        bip137 = sign_message_legacy(key, msg, address=addr)  # Trezor / BIP-137 header
        assert base64.b64decode(bip137)[0] in headers
        assert verify_message(addr, msg, bip137) == "legacy"
        with pytest.raises(VerificationFailed, match="does not fit a P2PKH address"):
            verify_message(p2pkh, msg, bip137)
    with pytest.raises(VerificationFailed, match="does not fit a P2WPKH"):  # P2SH-P2WPKH header, P2WPKH address
        verify_message(address_for(key, "p2wpkh", network), msg,
                       sign_message_legacy(key, msg, address=address_for(key, "p2sh-p2wpkh", network)))


# ---------------------------------------------------------------------- BIP-322 round trips


@pytest.mark.parametrize("kind", ["p2wpkh", "p2tr"])
@pytest.mark.parametrize("network", NETWORKS)
def test_bip322_round_trip(kind, network):
    key = bytes.fromhex("22" * 32)
    msg = "por reserves attestation v1\nchain: bitcoin"
    addr = address_for(key, kind, network)
    assert parse_address(addr, network).type == kind
    sig = sign_message_bip322(key, kind, msg)
    assert sig.startswith("smp")
    assert verify_message(addr, msg, sig, network=network) == "bip322-simple"
    assert verify_message(addr.upper(), msg, sign_message_bip322(key, kind, msg, prefix=False)) == "bip322-simple"
    other = address_for(bytes.fromhex("33" * 32), kind, network)
    with pytest.raises(VerificationFailed, match="does not satisfy"):
        verify_message(other, msg, sig)
    with pytest.raises(VerificationFailed, match="does not satisfy"):
        verify_message(addr, msg + " ", sig)


# ---------------------------------------------------------------------- rejections


def _flip(sig_b64: str, index: int, *, prefix: str = "") -> str:
    raw = bytearray(base64.b64decode(sig_b64[len(prefix):]))
    raw[index] ^= 0x01
    return prefix + base64.b64encode(bytes(raw)).decode()


def test_tampered_signatures_rejected():
    # legacy: r, s and the header's recovery id
    for i in (1, 20, 40, 64):
        with pytest.raises(VerificationFailed):
            verify_message(CORE_ADDRESS, "Trust no one", _flip(CORE_SIGNATURE, i))
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_message(CORE_ADDRESS, "Trust no one", _flip(CORE_SIGNATURE, 0))  # header 32 -> 33
    # BIP-322 P2WPKH: inside the DER signature, the sighash byte, the public key
    sig = "smp" + BIP_UNPREFIXED[3][1]
    for i in (10, 40, 72, 74, 100):
        with pytest.raises(VerificationFailed):
            verify_message(BIP_P2WPKH, "Hello World", _flip(sig, i, prefix="smp"))
    # BIP-322 P2TR: the Schnorr signature and its sighash byte (0x01 -> 0x00 changes the sighash)
    for i in (2, 33, 65):
        with pytest.raises(VerificationFailed):
            verify_message(BIP_P2TR, "Hello World", _flip(P2TR_HELLO, i))


def test_wrong_address_rejected():
    with pytest.raises(VerificationFailed):
        verify_message("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "Trust no one", CORE_SIGNATURE)
    with pytest.raises(VerificationFailed, match="does not satisfy"):
        verify_message("bc1qqthe0hz8klx90e7stf6shclhsvqd5ly96pn53v", "Hello World", BIP_UNPREFIXED[3][1])
    with pytest.raises(VerificationFailed, match="needs a native segwit address"):  # the key's own P2PKH
        verify_message("14vV3aCHBeStb5bkenkNHbe2YAFinYdXgc", "Hello World", BIP_UNPREFIXED[3][1])
    with pytest.raises(VerificationFailed, match="native segwit"):  # P2SH-P2WPKH needs the full form
        verify_message("37qyp7jQAzqb2rCBpMvVtLDuuzKAUCVnJb", "Hello World", BIP_UNPREFIXED[3][1])
    with pytest.raises(VerificationFailed, match="invalid checksum"):
        verify_message(BIP_P2WPKH[:-1] + "m", "Hello World", BIP_UNPREFIXED[3][1])
    with pytest.raises(VerificationFailed, match="mixed case"):
        verify_message("bc1Q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l", "Hello World", BIP_UNPREFIXED[3][1])
    with pytest.raises(VerificationFailed, match="is a mainnet address, not a regtest address"):
        verify_message(BIP_P2WPKH, "Hello World", BIP_UNPREFIXED[3][1], network="regtest")
    with pytest.raises(VerificationFailed, match="not a mainnet address"):
        verify_message("tb1q9vza2e8x573nczrlzms0wvx3gsqjx7vaxwd45v", "Hello World", BIP_UNPREFIXED[3][1],
                       network="mainnet")
    with pytest.raises(BadInput, match="unknown Bitcoin network"):  # a caller's mistake, not a bad signature
        verify_message(BIP_P2WPKH, "Hello World", BIP_UNPREFIXED[3][1], network="bitcoin")


@pytest.mark.parametrize("bad", [
    "",
    "   ",
    "not base64!",
    CORE_SIGNATURE.rstrip("="),                        # padding missing
    CORE_SIGNATURE[:40] + " " + CORE_SIGNATURE[40:],   # whitespace inside
    CORE_SIGNATURE.replace("/", "_"),                   # URL-safe alphabet
    CORE_SIGNATURE[:-2] + "l=",                         # non-zero padding bits: not canonical
    "smp",                                              # prefix and nothing
    "smp" + CORE_SIGNATURE,                             # a legacy signature is no witness stack
    "AA==",                                             # empty witness stack, unprefixed
    base64.b64encode(b"\x02\x05abc").decode(),          # truncated witness stack
    base64.b64encode(b"\x01\x01a\x00").decode(),        # trailing bytes after the stack
    "ü" * 8,
])
def test_malformed_signatures_rejected(bad):
    with pytest.raises(VerificationFailed):
        verify_message(CORE_ADDRESS, "Trust no one", bad)
    with pytest.raises(VerificationFailed):
        verify_message(BIP_P2WPKH, "Hello World", bad)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=200), prefixed=st.booleans())
def test_arbitrary_signature_bytes_only_ever_fail_cleanly(raw, prefixed):
    text = ("smp" if prefixed else "") + base64.b64encode(raw).decode()
    p2wsh = "bc1qp0ahvfh83088w49k405szqgg4f3pptr7p2g06tdxfjcd40z4lh4q95lsz9"
    for address in (CORE_ADDRESS, BIP_P2WPKH, BIP_P2TR, p2wsh):
        with pytest.raises(VerificationFailed):
            verify_message(address, "Hello World", text)


def test_surrounding_whitespace_of_the_signature_is_ignored():
    assert verify_message(CORE_ADDRESS, "Trust no one", f"  {CORE_SIGNATURE}\n") == "legacy"


def test_signature_must_be_text():
    with pytest.raises(VerificationFailed, match="base64 text"):
        verify_message(CORE_ADDRESS, "Trust no one", base64.b64decode(CORE_SIGNATURE))  # type: ignore[arg-type]


def test_legacy_header_out_of_range():
    raw = bytearray(base64.b64decode(CORE_SIGNATURE))
    raw[0] = 43
    with pytest.raises(VerificationFailed, match="header byte 43 is outside 27-42"):
        verify_message(CORE_ADDRESS, "Trust no one", base64.b64encode(bytes(raw)).decode())


def test_signing_helpers_validate_input():
    with pytest.raises(BadInput):
        sign_message_legacy(b"\x00" * 32, "m")
    with pytest.raises(BadInput):
        sign_message_legacy(b"\x01" * 31, "m")
    with pytest.raises(BadInput):
        sign_message_legacy(bytes.fromhex("ff" * 32), "m")
    with pytest.raises(BadInput):
        sign_message_bip322(CORE_KEY, "p2pkh", "m")
    with pytest.raises(BadInput):
        address_for(CORE_KEY, "p2wsh", "mainnet")
    with pytest.raises(BadInput):
        address_for(CORE_KEY, "p2wpkh", "liquid")
    with pytest.raises(BadInput):
        address_for(CORE_KEY, "p2wpkh", "mainnet", compressed=False)
    with pytest.raises(BadInput, match="cannot sign"):  # an address that is not this key's
        sign_message_legacy(CORE_KEY, "m", address=BIP_P2WPKH)
    assert set(SIGNING_ADDRESS_TYPES) == {"p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr"}


def test_parse_address_networks():
    assert parse_address(BIP_P2WPKH).networks == ("mainnet",)
    assert parse_address("tb1q9vza2e8x573nczrlzms0wvx3gsqjx7vaxwd45v").networks == ("testnet", "signet")
    assert parse_address("bcrt1q9vza2e8x573nczrlzms0wvx3gsqjx7vay85cr9").networks == ("regtest",)
    assert parse_address("mjSSLdHFzft9NC5NNMik7WrMQ9rRhMhNpT").networks == ("testnet", "signet", "regtest")
    assert parse_address("2MyQBsrfRnTLwEdpjVVYNWHDB8LXLJUcub9").type == "p2sh"
    assert parse_address("bc1qp0ahvfh83088w49k405szqgg4f3pptr7p2g06tdxfjcd40z4lh4q95lsz9").type == "p2wsh"
    assert parse_address(BIP_P2WPKH.upper()).canonical == BIP_P2WPKH
    for bad in ("", " " + BIP_P2WPKH, "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "0x" + "00" * 20, "1" * 30):
        with pytest.raises(BadInput):
            parse_address(bad)
    with pytest.raises(BadInput, match="not a mainnet address"):
        parse_address("mjSSLdHFzft9NC5NNMik7WrMQ9rRhMhNpT", "mainnet")
    with pytest.raises(BadInput, match="unknown Bitcoin network"):
        parse_address(BIP_P2WPKH, "main")


# ---------------------------------------------------------------------- UTXO snapshot

TXID_A = "a" * 64
TXID_B = "0123456789abcdef" * 4
BLOCK = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054"
REG_1 = "bcrt1q9vza2e8x573nczrlzms0wvx3gsqjx7vay85cr9"
REG_2 = "mjSSLdHFzft9NC5NNMik7WrMQ9rRhMhNpT"


def snapshot_doc(**over) -> dict:
    doc = {
        "format": "por-utxo-snapshot", "version": 1, "network": "regtest", "height": 150,
        "block_hash": BLOCK,
        "utxos": [
            {"txid": TXID_A, "vout": 0, "address": REG_1, "value_sats": "150000000"},
            {"txid": TXID_A, "vout": 1, "address": REG_1, "value_sats": "2500"},
            {"txid": TXID_B, "vout": 0, "address": REG_2, "value_sats": "1"},
            {"txid": TXID_B, "vout": 7, "address": REG_1.upper(), "value_sats": "0"},
        ],
    }
    doc.update(over)
    return doc


def write(tmp_path: Path, doc, name="utxos.json") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


def test_snapshot_balances(tmp_path):
    snap = load_utxo_snapshot(write(tmp_path, snapshot_doc()), network="regtest", height=150)
    assert (snap.network, snap.height, snap.block_hash) == ("regtest", 150, BLOCK)
    assert len(snap.utxos) == 4 and snap.source.endswith("utxos.json")
    assert snap.balance(REG_1) == 150_002_500
    assert snap.balance(REG_1.upper()) == 150_002_500  # bech32 is case-insensitive
    assert snap.balance(REG_2) == 1
    assert snap.balance("bcrt1ppv609nr0vr25u07u95waq5lucwfm6tde4nydujnu8npg4q75mr5su3mkyy") == 0
    assert snap.total() == 150_002_501
    assert snap.addresses() == sorted([REG_1, REG_2])
    with pytest.raises(BadInput, match="not a regtest address"):
        snap.balance(BIP_P2WPKH)
    # the document round-trips
    again = parse_utxo_snapshot(json.loads(json.dumps(snapshot_document(snap))))
    assert again.utxos == snap.utxos


def test_snapshot_empty_and_max_money(tmp_path):
    assert load_utxo_snapshot(write(tmp_path, snapshot_doc(utxos=[]))).total() == 0
    one = {"txid": TXID_A, "vout": 0, "address": REG_1, "value_sats": str(MAX_MONEY)}
    assert load_utxo_snapshot(write(tmp_path, snapshot_doc(utxos=[one]))).balance(REG_1) == MAX_MONEY


def utxo(**over) -> dict:
    u = {"txid": TXID_A, "vout": 0, "address": REG_1, "value_sats": "5"}
    u.update(over)
    return u


@pytest.mark.parametrize(("doc", "field", "reason"), [
    (snapshot_doc(format="por-utxos"), "format", "por-utxo-snapshot"),
    (snapshot_doc(version=2), "version", "unsupported version"),
    (snapshot_doc(version=True), "version", "unsupported version"),
    (snapshot_doc(version="1"), "version", "unsupported version"),
    (snapshot_doc(network="bitcoin"), "network", "must be one of"),
    (snapshot_doc(height=-1), "height", "JSON integer"),
    (snapshot_doc(height=1.0), "height", "JSON integer"),
    (snapshot_doc(height="150"), "height", "JSON integer"),
    (snapshot_doc(height=False), "height", "JSON integer"),
    (snapshot_doc(block_hash=BLOCK.upper()), "block_hash", "lowercase hex"),
    (snapshot_doc(block_hash=BLOCK[:-2]), "block_hash", "lowercase hex"),
    (snapshot_doc(utxos={}), "utxos", "JSON array"),
    (snapshot_doc(utxos=[[]]), "utxos[0]", "JSON object"),
    (snapshot_doc(utxos=[utxo(txid="A" * 64)]), "utxos[0].txid", "lowercase hex"),
    (snapshot_doc(utxos=[utxo(txid=TXID_A + "00")]), "utxos[0].txid", "lowercase hex"),
    (snapshot_doc(utxos=[utxo(vout=-1)]), "utxos[0].vout", "vout"),
    (snapshot_doc(utxos=[utxo(vout=2**32)]), "utxos[0].vout", "vout"),
    (snapshot_doc(utxos=[utxo(vout="0")]), "utxos[0].vout", "vout"),
    (snapshot_doc(utxos=[utxo(address=BIP_P2WPKH)]), "utxos[0].address", "not a regtest address"),
    (snapshot_doc(utxos=[utxo(address="bcrt1q9vza2e8x573nczrlzms0wvx3gsqjx7vay85cr8")]), "utxos[0].address",
     "checksum"),
    (snapshot_doc(utxos=[utxo(address=123)]), "utxos[0].address", "must be a string"),
    (snapshot_doc(utxos=[utxo(value_sats=5)]), "utxos[0].value_sats", "decimal string"),
    (snapshot_doc(utxos=[utxo(value_sats="05")]), "utxos[0].value_sats", "decimal string"),
    (snapshot_doc(utxos=[utxo(value_sats="-5")]), "utxos[0].value_sats", "decimal string"),
    (snapshot_doc(utxos=[utxo(value_sats="5.0")]), "utxos[0].value_sats", "decimal string"),
    (snapshot_doc(utxos=[utxo(value_sats="1e3")]), "utxos[0].value_sats", "decimal string"),
    (snapshot_doc(utxos=[utxo(value_sats=" 5")]), "utxos[0].value_sats", "decimal string"),
    (snapshot_doc(utxos=[utxo(value_sats="")]), "utxos[0].value_sats", "decimal string"),
    (snapshot_doc(utxos=[utxo(value_sats="٥")]), "utxos[0].value_sats", "decimal string"),  # Arabic-Indic 5
    (snapshot_doc(utxos=[utxo(value_sats=str(MAX_MONEY + 1))]), "utxos[0].value_sats", "21 million"),
    (snapshot_doc(utxos=[utxo(value_sats="9" * 40)]), "utxos[0].value_sats", "decimal string"),
    (snapshot_doc(utxos=[utxo(), utxo(address=REG_2)]), "utxos[1]", "duplicate outpoint"),
    (snapshot_doc(utxos=[utxo(value_sats=str(MAX_MONEY)), utxo(vout=1, value_sats="1")]), "utxos",
     "more than the 21 million"),
    (snapshot_doc(utxos=[utxo(extra=1)]), "utxos[0]", "unknown key"),
    (snapshot_doc(utxos=[{"txid": TXID_A, "vout": 0, "address": REG_1}]), "utxos[0]", "missing key"),
])
def test_snapshot_field_errors(tmp_path, doc, field, reason):
    path = write(tmp_path, doc)
    with pytest.raises(BadInput) as exc:
        load_utxo_snapshot(path)
    assert exc.value.field == field
    assert exc.value.file == str(path)
    assert reason in exc.value.reason
    assert exc.value.exit_code == 2


def test_snapshot_document_errors(tmp_path):
    doc = snapshot_doc()
    del doc["height"]
    with pytest.raises(BadInput, match="missing key.*height"):
        load_utxo_snapshot(write(tmp_path, doc))
    with pytest.raises(BadInput, match="unknown key.*comment"):
        load_utxo_snapshot(write(tmp_path, snapshot_doc(comment="x")))
    with pytest.raises(BadInput, match="must be a JSON object"):
        load_utxo_snapshot(write(tmp_path, "[]"))
    text = json.dumps(snapshot_doc(), indent=1)
    with pytest.raises(BadInput, match="duplicate key 'network'"):
        load_utxo_snapshot(write(tmp_path, text.replace('"network": "regtest"',
                                                        '"network": "regtest", "network": "mainnet"')))
    with pytest.raises(BadInput) as exc:
        load_utxo_snapshot(write(tmp_path, text.replace('"height": 150', '"height": 150,,')))
    assert exc.value.line is not None and exc.value.column is not None
    assert f"{exc.value.file}:{exc.value.line}:{exc.value.column}" in str(exc.value)
    with pytest.raises(BadInput, match="NaN"):
        load_utxo_snapshot(write(tmp_path, text.replace('"height": 150', '"height": NaN')))
    bad = tmp_path / "latin1.json"
    bad.write_bytes(text.replace("regtest", "r\xe9gtest").encode("latin-1"))
    with pytest.raises(BadInput, match="not UTF-8"):
        load_utxo_snapshot(bad)
    with pytest.raises(BadInput, match="cannot read") as exc:
        load_utxo_snapshot(tmp_path / "missing.json")
    assert exc.value.file.endswith("missing.json")


def test_snapshot_must_match_the_attestation(tmp_path):
    path = write(tmp_path, snapshot_doc())
    with pytest.raises(BadInput, match="for regtest, the attestation for mainnet") as exc:
        load_utxo_snapshot(path, network="mainnet")
    assert exc.value.field == "network"
    with pytest.raises(BadInput, match="at height 150, the attestation at 151") as exc:
        load_utxo_snapshot(path, height=151)
    assert exc.value.field == "height"


# ---------------------------------------------------------------------- units


@pytest.mark.parametrize(("sats", "decimals", "units"), [
    (0, 2, 0),
    (1, 2, 0),                       # 0.00000001 BTC is 0.000001 cents: rounds down to 0
    (999_999, 2, 0),
    (1_000_000, 2, 1),
    (123_456_789, 2, 123),           # 1.23456789 BTC -> 1.23
    (123_456_789, 0, 1),
    (99_999_999, 0, 0),
    (123_456_789, 8, 123_456_789),
    (123_456_789, 6, 1_234_567),
    (1, 18, 10**10),
    (MAX_MONEY, 18, 21_000_000 * 10**18),
])
def test_sats_to_ledger_units_rounds_down(sats, decimals, units):
    assert sats_to_ledger_units(sats, decimals) == units


@pytest.mark.parametrize(("sats", "decimals"), [(-1, 2), (1, -1), (1.0, 2), (True, 2), ("1", 2), (1, 2.0)])
def test_sats_to_ledger_units_rejects_non_integers(sats, decimals):
    with pytest.raises(BadInput):
        sats_to_ledger_units(sats, decimals)


# ---------------------------------------------------------------------- Bitcoin Core RPC: only what runs here


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rpc_unreachable_is_service_unavailable():
    rpc = BitcoinCoreRpc(f"http://127.0.0.1:{_closed_port()}", "user", "secret", timeout=2)
    start = time.monotonic()
    for call in (rpc.getblockcount, lambda: rpc.getblockhash(1),
                 lambda: rpc.scan([REG_1], "regtest")):
        with pytest.raises(ServiceUnavailable, match="unreachable") as exc:
            call()
        assert exc.value.exit_code == 3
        assert "secret" not in str(exc.value)
    assert time.monotonic() - start < 10


def test_rpc_url_validation_and_credentials_kept_out_of_the_url():
    for bad in ("127.0.0.1:8332", "ftp://127.0.0.1:8332", "http://"):
        with pytest.raises(BadInput):
            BitcoinCoreRpc(bad)
    rpc = BitcoinCoreRpc("http://alice:s%40cret@127.0.0.1:18443/wallet/w")
    assert rpc.url == "http://127.0.0.1:18443/wallet/w"
    assert "cret" not in repr(rpc)
    with pytest.raises(BadInput, match="not a regtest address"):  # addresses are checked before any call
        BitcoinCoreRpc(f"http://127.0.0.1:{_closed_port()}").scan([BIP_P2WPKH], "regtest")
