"""The offline verifier page in a real headless Chromium, every mode and version (SPEC.md §8, §15.4, §16.12,
§17.10, §17.20, §17.26): every genuine proof of a built snapshot says VALID; each tampering says INVALID naming
the entry, bucket and check. Screenshots of a valid and an invalid result per mode go to tests/artifacts/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from por.audit.webpage import export_verifier
from por.proofs.inclusion import Prover
from por.snapshot import build_snapshot

from .browser import dump_dom, proof_fragment, screenshot
from .conftest import SECRET

VECTORS = Path(__file__).resolve().parent / "vectors"


def assert_self_contained(text: str) -> None:
    """Nothing external: no script, style or frame is loaded from anywhere, and the CSP forbids the network."""
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", text, re.I)
    assert re.search(r"""Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'""", text)


def _result(dom: str) -> str:
    m = re.search(r'<div id="result">(.*?)</div>\s*<details>', dom, re.S)
    assert m, dom[-2000:]
    return m.group(1)


def _verdict(dom: str) -> str:
    m = re.search(r'<div id="verdict" class="(\w+)">([^<]*)</div>', dom)
    assert m, dom[-3000:]
    return m.group(1) + ": " + m.group(2)


def _page_verdict(page: Path, doc: dict) -> str:
    return _verdict(dump_dom(page, proof_fragment(json.dumps(doc))))


def _all_proofs(snapshot_dir: Path) -> dict[str, dict]:
    p = Prover(snapshot_dir)
    try:
        return {a: p.prove(a) for a in p.accounts()}
    finally:
        p.close()


def _clone(doc: dict) -> dict:
    return json.loads(json.dumps(doc))


def _flip(hex_text: str, byte: int) -> str:
    b = bytearray(bytes.fromhex(hex_text))
    b[byte] ^= 0x01
    return b.hex()


# ---------------------------------------------------------------- public, version 1

def test_verifier_page_valid_and_tampered(cli, built: Path, proofs, tmp_path: Path) -> None:
    page = tmp_path / "verifier.html"
    res = cli("export-verifier", built, "--out", page, "--json")
    assert res.exit_code == 0, res.output
    assert_self_contained(page.read_text())

    good = json.dumps(proofs["alice"])
    dom = dump_dom(page, proof_fragment(good))
    assert _verdict(dom).startswith("valid: VALID: alice is included")
    shown = _result(dom)
    assert "<td>0.5</td>" in shown and "<td>12.5</td>" in shown and "all buckets" in shown

    bad = json.loads(good)
    bad["entries"][1]["balances"]["USDT"] = "99500000"
    verdict = _page_verdict(page, bad)
    assert verdict.startswith("invalid: INVALID: entry 1 (bucket isolated): leaf and path do not lead"), verdict

    sib = json.loads(good)
    sib["entries"][0]["path"][1]["sums"]["BTC"] = "7"
    assert _page_verdict(page, sib).startswith("invalid: INVALID: entry 0 (bucket cross): leaf and path do not lead")

    other = json.loads(good)
    other["snapshot"]["root"] = "00" * 32
    assert _page_verdict(page, other).startswith("invalid: INVALID: proof.snapshot.root")

    screenshot(page, "verifier-valid.png", proof_fragment(good))
    screenshot(page, "verifier-tampered.png", proof_fragment(json.dumps(bad)))
    screenshot(page, "verifier-public-valid.png", proof_fragment(good))
    screenshot(page, "verifier-public-invalid.png", proof_fragment(json.dumps(bad)))


def test_export_verifier_matches_python(built: Path, proofs, tmp_path: Path) -> None:
    """Every proof the Python verifier accepts, the page accepts (same snapshot, same verdicts)."""
    page = tmp_path / "v.html"
    export_verifier(built, page)
    for account, doc in proofs.items():
        assert _page_verdict(page, doc).startswith(f"valid: VALID: {account} ")


# ---------------------------------------------------------------- margin (version 2), public and hiding

@pytest.fixture(scope="module")
def margin_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mbuilt") / "snap"
    build_snapshot(VECTORS / "margin" / "snapshot.toml", VECTORS / "margin" / "ledger.csv", out, secret=SECRET)
    return out


@pytest.fixture(scope="module")
def margin_hidden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mhidden") / "snap"
    build_snapshot(VECTORS / "margin" / "snapshot.toml", VECTORS / "margin" / "ledger.csv", out, secret=SECRET,
                   hiding=True)
    return out


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import EXAMPLES

    out = tmp_path_factory.mktemp("hidden") / "snap"
    build_snapshot(EXAMPLES / "snapshot.toml", EXAMPLES / "ledger.csv", out, secret=SECRET, hiding=True)
    return out


def test_margin_public_page(margin_built: Path, tmp_path: Path) -> None:
    page = tmp_path / "m.html"
    export_verifier(margin_built, page)
    assert_self_contained(page.read_text())
    proofs = _all_proofs(margin_built)
    for account, doc in proofs.items():
        assert _page_verdict(page, doc).startswith(f"valid: VALID: {account} "), account
    alice = proofs["alice"]
    dom = dump_dom(page, proof_fragment(json.dumps(alice)))
    shown = _result(dom)
    assert "net (equity − debt)" in shown and '<td class="neg">-10000</td>' in shown
    assert "36133.63875" in shown  # her collateral value after haircuts (SPEC §17.19's example)

    bal = _clone(alice)
    bal["entries"][0]["debt"]["USDT"] = "1"
    assert _page_verdict(page, bal).startswith("invalid: INVALID: entry 0 (bucket main): leaf and path do not lead")
    neg = _clone(alice)
    neg["entries"][0]["path"][1]["debt"]["USDT"] = "999999999999"
    verdict = _page_verdict(page, neg)
    assert verdict.startswith("invalid: INVALID: entry 0 (bucket main), path[1] (sibling at level 1): collateral value "
                              "is negative"), verdict
    price = _clone(alice)
    price["snapshot"]["metadata"]["margin"]["assets"][0]["price"] = "97123.46"
    assert _page_verdict(page, price).startswith("invalid: INVALID: proof.snapshot.metadata: proof metadata differs")

    # a page whose embedded snapshot had its price changed: the page's own snapshot check fails
    text = page.read_text()
    forged = tmp_path / "forged.html"
    forged.write_text(text.replace('"price":"97123.45"', '"price":"97123.46"'))
    assert _page_verdict(forged, alice).startswith("invalid: INVALID: snapshot.json")

    screenshot(page, "verifier-margin-valid.png", proof_fragment(json.dumps(alice)))
    screenshot(page, "verifier-margin-invalid.png", proof_fragment(json.dumps(neg)))


def test_hiding_page(hidden: Path, tmp_path: Path) -> None:
    page = tmp_path / "h.html"
    export_verifier(hidden, page)
    assert_self_contained(page.read_text())
    proofs = _all_proofs(hidden)
    for account, doc in proofs.items():
        assert _page_verdict(page, doc).startswith(f"valid: VALID: {account} "), account
    alice = proofs["alice"]
    dom = dump_dom(page, proof_fragment(json.dumps(alice)))
    assert "<td>0.5</td>" in _result(dom) and "range proof: all" in _result(dom)

    bal = _clone(alice)
    bal["entries"][0]["balances"]["BTC"] = "50000001"
    assert _page_verdict(page, bal).startswith("invalid: INVALID: entry 0 (bucket cross): leaf and path do not lead")
    sib = _clone(alice)
    sib["entries"][0]["path"][0]["commitments"]["BTC"] = alice["entries"][0]["path"][1]["commitments"]["BTC"]
    assert _page_verdict(page, sib).startswith("invalid: INVALID: entry 0 (bucket cross): leaf and path do not lead")
    rp = _clone(alice)
    rp["entries"][0]["range_proof"] = _flip(rp["entries"][0]["range_proof"], 200)
    verdict = _page_verdict(page, rp)
    assert re.match(r"invalid: INVALID: entry 0 \(bucket cross\), range_proof: (inner-product argument|polynomial "
                    r"check) failed", verdict), verdict
    screenshot(page, "verifier-hiding-valid.png", proof_fragment(json.dumps(alice)))
    screenshot(page, "verifier-hiding-invalid.png", proof_fragment(json.dumps(rp)))


def test_margin_hiding_page(margin_hidden: Path, tmp_path: Path) -> None:
    page = tmp_path / "mh.html"
    export_verifier(margin_hidden, page)
    proofs = _all_proofs(margin_hidden)
    for account, doc in proofs.items():
        assert _page_verdict(page, doc).startswith(f"valid: VALID: {account} "), account
    alice = proofs["alice"]
    assert "36133.63875" in _result(dump_dom(page, proof_fragment(json.dumps(alice))))
    crp = _clone(alice)
    crp["entries"][0]["collateral_range_proof"] = _flip(crp["entries"][0]["collateral_range_proof"], 150)
    verdict = _page_verdict(page, crp)
    assert re.match(r"invalid: INVALID: entry 0 \(bucket main\), collateral_range_proof: (inner-product argument|"
                    r"polynomial check) failed", verdict), verdict
    rp = _clone(alice)
    rp["entries"][0]["range_proof"] = _flip(rp["entries"][0]["range_proof"], 170)
    assert _page_verdict(page, rp).startswith("invalid: INVALID: entry 0 (bucket main), range_proof: ")
    sib = _clone(alice)
    sib["entries"][0]["path"][0]["equity_commitments"]["BTC"] = alice["entries"][0]["path"][1]["equity_commitments"]["BTC"]
    assert _page_verdict(page, sib).startswith("invalid: INVALID: entry 0 (bucket main): leaf and path do not lead")
    price = _clone(alice)
    price["snapshot"]["metadata"]["margin"]["assets"][1]["price"] = "2"
    assert _page_verdict(page, price).startswith("invalid: INVALID: proof.snapshot.metadata")
    seg = proofs["fund-client"]
    bl = _clone(seg)
    bl["entries"][0]["debt_blindings"]["BTC"] = "00" * 31 + "02"
    assert _page_verdict(page, bl).startswith("invalid: INVALID: entry 0 (bucket seg-1), own leaf: a bucket without "
                                              "allow_debt")
    screenshot(page, "verifier-margin-hiding-valid.png", proof_fragment(json.dumps(alice)))
    screenshot(page, "verifier-margin-hiding-invalid.png", proof_fragment(json.dumps(crp)))


# ---------------------------------------------------------------- zk (version 1 and 2): the library-built vectors

@pytest.mark.parametrize("name", ["zk", "margin-zk"])
def test_zk_pages(name: str, tmp_path: Path) -> None:
    base = VECTORS / "zk" / "mode" if name == "zk" else VECTORS / "margin-zk"
    page = tmp_path / f"{name}.html"
    export_verifier(base / "snapshot.json", page)
    text = page.read_text()
    assert_self_contained(text) and "'wasm-unsafe-eval'" in text
    alice = json.loads((base / "proof-alice.json").read_text())
    dom = dump_dom(page, proof_fragment(json.dumps(alice)))
    assert _verdict(dom).startswith("valid: VALID: alice is included"), _verdict(dom)
    assert "Groth16 proof" in _result(dom)
    e0 = alice["entries"][0]
    bucket = e0["bucket"]

    g = _clone(alice)
    g["entries"][0]["batch"]["proof"]["pi_c"] = _clone(alice["entries"][-1]["batch"]["proof"]["pi_a"]) \
        if len(alice["entries"]) > 1 else json.loads((base / "zk" / "0" / "1.json").read_text())["proof"]["pi_c"]
    verdict = _page_verdict(page, g)
    assert verdict.startswith(f"invalid: INVALID: entry 0 (bucket {bucket}), batch: Groth16 proof does not verify"), verdict
    s = _clone(alice)
    key = "debt" if name == "margin-zk" else "sums"
    sym = "USDT"
    s["entries"][0]["batch"][key][sym] = str(int(s["entries"][0]["batch"][key][sym]) + 1)
    assert _page_verdict(page, s).startswith(f"invalid: INVALID: entry 0 (bucket {bucket}), batch: Groth16 proof")
    bal = _clone(alice)
    field = "equity" if name == "margin-zk" else "balances"
    bal["entries"][0][field]["BTC"] = str(int(e0[field]["BTC"]) + 1)
    assert _page_verdict(page, bal).startswith(f"invalid: INVALID: entry 0 (bucket {bucket}), batch: Groth16 proof")
    if name == "margin-zk":
        price = _clone(alice)
        price["snapshot"]["metadata"]["margin"]["assets"][0]["price"] = "97123.46"
        assert _page_verdict(page, price).startswith("invalid: INVALID: proof.snapshot.metadata")
    screenshot(page, f"verifier-{name}-valid.png", proof_fragment(json.dumps(alice)))
    screenshot(page, f"verifier-{name}-invalid.png", proof_fragment(json.dumps(g)))
