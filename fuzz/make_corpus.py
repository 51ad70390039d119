"""Write the seed corpus: fuzz/corpus/<harness>/*, and the trusted documents the harnesses check against
(fuzz/corpus/_trusted/). Seeds are genuine documents: the test vectors, plus a transparency log, a reserves
attestation and a UTXO snapshot made here with fixed keys. Run once; the corpus is committed.

    python -m fuzz.make_corpus
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"
EXAMPLES = ROOT / "examples"
CORPUS = Path(__file__).resolve().parent / "corpus"
TRUSTED = CORPUS / "_trusted"

KEY_ETH = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
KEY_BTC = bytes(range(1, 33))
TXID = "0123456789abcdef" * 4
BLOCK_HASH = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054"


def seed(harness: str, name: str, data: bytes | str) -> None:
    d = CORPUS / harness
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


def copy(harness: str, name: str, src: Path) -> None:
    seed(harness, name, src.read_bytes())


def trusted(name: str, data: bytes | str) -> Path:
    TRUSTED.mkdir(parents=True, exist_ok=True)
    p = TRUSTED / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    # ledgers and configs
    copy("ledger_csv", "example.csv", EXAMPLES / "ledger.csv")
    seed("ledger_csv", "quoted.csv", '\ufeffBTC,"account_id",bucket\r\n1.5,"a ""quoted"", id",cross\r\n\r\n0,b,isolated\r\n')
    seed("ledger_csv", "margin.csv", (VECTORS / "margin" / "ledger.csv").read_text())
    rows = [line.split(",") for line in (EXAMPLES / "ledger.csv").read_text().splitlines()]
    jsonl = "\n".join(json.dumps({**{"account_id": r[0], "bucket": r[1]}, **dict(zip(rows[0][2:], r[2:]))})
                      for r in rows[1:]) + "\n"
    seed("ledger_jsonl", "example.jsonl", jsonl)
    seed("ledger_jsonl", "numbers.jsonl", '{"account_id":"a","bucket":"cross","BTC":1.5,"ETH":2}\r\n\n'
                                          '{"bucket":"isolated","account_id":"b","USDT":"0"}\n')
    copy("config", "example.toml", EXAMPLES / "snapshot.toml")
    copy("config", "margin.toml", VECTORS / "margin" / "snapshot.toml")
    copy("config", "zk.toml", VECTORS / "zk" / "mode" / "snapshot.toml")
    # snapshots, proofs, solvency
    snaps = {"public": VECTORS / "expected-snapshot.json", "hiding": VECTORS / "hiding" / "expected-snapshot.json",
             "margin": VECTORS / "margin" / "expected-snapshot.json",
             "margin_hiding": VECTORS / "margin-hiding" / "expected-snapshot.json",
             "zk": VECTORS / "zk" / "mode" / "snapshot.json", "margin_zk": VECTORS / "margin-zk" / "snapshot.json"}
    proofs = {"public": VECTORS / "proof-alice.json", "hiding": VECTORS / "hiding" / "proof-alice.json",
              "margin": VECTORS / "margin" / "proof-alice.json",
              "margin_hiding": VECTORS / "margin-hiding" / "proof-alice.json",
              "zk": VECTORS / "zk" / "mode" / "proof-alice.json",
              "margin_zk": VECTORS / "margin-zk" / "proof-alice.json"}
    for mode, path in snaps.items():
        copy("snapshot", f"{mode}.json", path)
        trusted(f"snapshot-{mode}.json", path.read_bytes())
    for mode, path in proofs.items():
        copy(f"proof_{mode}", "alice.json", path)
    for mode in ("hiding", "margin_hiding"):
        sub = VECTORS / mode.replace("_", "-")
        copy(f"solvency_{mode}", "solvency.json", sub / "solvency.json")
        copy("solvency_reserves", f"{mode}.json", sub / "reserves.json")
    # range proofs (the hex of every range proof in the hiding vectors)
    for mode in ("hiding", "margin_hiding"):
        doc = json.loads(proofs[mode].read_text())
        for e in doc["entries"]:
            seed("rangeproof", f"{mode}-{e['bucket']}.hex", e["range_proof"])
        solvency = json.loads((VECTORS / mode.replace("_", "-") / "solvency.json").read_text())
        seed("rangeproof", f"{mode}-solvency.hex", solvency["range_proof"])
    # Groth16 documents and zk batch proofs
    copy("groth16_proof", "proof.json", VECTORS / "zk" / "proof.json")
    copy("groth16_vk", "verification_key.json", VECTORS / "zk" / "verification_key.json")
    trusted("groth16-vk.json", (VECTORS / "zk" / "verification_key.json").read_bytes())
    trusted("groth16-proof.json", (VECTORS / "zk" / "proof.json").read_bytes())
    trusted("groth16-public.json", (VECTORS / "zk" / "public.json").read_bytes())
    for sub in ("zk/mode/zk/0/0.json", "zk/mode/zk/1/0.json"):
        copy("zk_batch", sub.replace("/", "_"), VECTORS / sub)
    for sub in ("margin-zk/zk/0/0.json",):
        copy("zk_batch_margin", sub.replace("/", "_"), VECTORS / sub)
    _log()
    _reserves()
    print(f"corpus written to {CORPUS}")


def _log() -> None:
    """A log of two snapshots: its heads, an inclusion proof and a consistency proof."""
    from por.log.store import TransparencyLog
    from por.snapshot import load_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "log.key"
        key.write_text("11" * 32 + "\n")
        key.chmod(0o600)
        log = TransparencyLog.create(Path(tmp) / "log", key_path=key)
        log.append(load_snapshot(VECTORS / "expected-snapshot.json"))
        old = log.head().to_dict()
        log.append(load_snapshot(VECTORS / "margin" / "expected-snapshot.json"))
        log.append(load_snapshot(VECTORS / "zk" / "mode" / "snapshot.json"))
        new = log.head().to_dict()
        incl = log.prove_inclusion(json.loads((VECTORS / "expected-snapshot.json").read_text())
                                   ["metadata"]["snapshot_id"])
        cons = log.prove_consistency(1)
        log.close()
    dump = lambda d: json.dumps(d, indent=2, sort_keys=True) + "\n"  # noqa: E731
    seed("log_head", "head-1.json", dump(old))
    seed("log_head", "head-2.json", dump(new))
    seed("log_inclusion", "inclusion.json", dump(incl))
    seed("log_consistency", "consistency.json", dump(cons))
    trusted("log-head-1.json", dump(old))
    trusted("log-head-2.json", dump(new))


def _reserves() -> None:
    """An attestation of an Ethereum and a Bitcoin address, and the UTXO snapshot the Bitcoin one reads."""
    from por.reserves.attestation import ownership_message
    from por.reserves.bitcoin_address import address_for
    from por.reserves.bitcoin_message import sign_message_bip322, sign_message_legacy
    from por.reserves.chain import account_from_key
    from por.reserves.ethereum import sign_message

    snap = json.loads((VECTORS / "expected-snapshot.json").read_text())
    sid, root = snap["metadata"]["snapshot_id"], snap["root"]
    buckets = [b["id"] for b in snap["metadata"]["buckets"]]
    assets = {a["symbol"] for a in snap["metadata"]["assets"]}
    eth_addr = account_from_key(KEY_ETH).address
    btc_wpkh = address_for(KEY_BTC, "p2wpkh", "regtest")
    btc_pkh = address_for(KEY_BTC, "p2pkh", "regtest")
    eth_asset = "ETH" if "ETH" in assets else sorted(assets)[0]
    btc_asset = "BTC" if "BTC" in assets else sorted(assets)[0]
    utxos = {"format": "por-utxo-snapshot", "version": 1, "network": "regtest", "height": 150,
             "block_hash": BLOCK_HASH,
             "utxos": [{"txid": TXID, "vout": 0, "address": btc_wpkh, "value_sats": "150000000"},
                       {"txid": TXID, "vout": 1, "address": btc_pkh, "value_sats": "2500"}]}
    dump = lambda d: json.dumps(d, indent=2, sort_keys=True) + "\n"  # noqa: E731
    seed("utxo_snapshot", "utxos.json", dump(utxos))
    trusted("utxos.json", dump(utxos))
    doc = {"format": "por-reserves", "version": 1, "snapshot_id": sid, "root": root,
           "chains": {"ethereum": {"block": 7}, "bitcoin": {"height": 150, "network": "regtest",
                                                           "utxo_snapshot": "utxos.json"}},
           "addresses": [
               {"chain": "ethereum", "address": eth_addr, "bucket": buckets[0],
                "assets": [{"asset": eth_asset, "kind": "native"}],
                "signature": sign_message(KEY_ETH, ownership_message(sid, root, "ethereum", eth_addr, 7))},
               {"chain": "bitcoin", "address": btc_wpkh, "bucket": buckets[-1],
                "assets": [{"asset": btc_asset, "kind": "native"}],
                "signature": sign_message_bip322(KEY_BTC, "p2wpkh", ownership_message(sid, root, "bitcoin",
                                                                                       btc_wpkh, 150))},
               {"chain": "bitcoin", "address": btc_pkh, "bucket": "proprietary",
                "assets": [{"asset": btc_asset, "kind": "native", "decimals": 8}],
                "signature": sign_message_legacy(KEY_BTC, ownership_message(sid, root, "bitcoin", btc_pkh, 150))},
           ]}
    seed("reserves", "reserves.json", dump(doc))


if __name__ == "__main__":
    main()
