"""The offline verifier page in a real headless Chromium: right verdict for a valid and a tampered proof."""

from __future__ import annotations

import json
import re
from pathlib import Path

from por.audit.webpage import export_verifier

from .browser import dump_dom, proof_fragment, screenshot


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
    assert m, dom[-2000:]
    return m.group(1) + ": " + m.group(2)


def test_verifier_page_valid_and_tampered(cli, built: Path, proofs, tmp_path: Path) -> None:
    page = tmp_path / "verifier.html"
    res = cli("export-verifier", built, "--out", page, "--json")
    assert res.exit_code == 0, res.output
    text = page.read_text()
    assert_self_contained(text)

    good = json.dumps(proofs["alice"])
    dom = dump_dom(page, proof_fragment(good))
    assert _verdict(dom).startswith("valid: VALID: alice is included")
    shown = _result(dom)
    assert "<td>0.5</td>" in shown and "<td>12.5</td>" in shown

    bad = json.loads(good)
    bad["entries"][1]["balances"]["USDT"] = "99500000"
    dom = dump_dom(page, proof_fragment(json.dumps(bad)))
    verdict = _verdict(dom)
    assert verdict.startswith("invalid: INVALID: entry 1 (bucket isolated)"), verdict

    other = json.loads(good)
    other["snapshot"]["root"] = "00" * 32
    assert _verdict(dump_dom(page, proof_fragment(json.dumps(other)))).startswith("invalid:")

    screenshot(page, "verifier-valid.png", proof_fragment(good))
    screenshot(page, "verifier-tampered.png", proof_fragment(json.dumps(bad)))


def test_export_verifier_matches_python(built: Path, proofs, tmp_path: Path) -> None:
    """Every proof the Python verifier accepts, the page accepts (same snapshot, same verdicts)."""
    page = tmp_path / "v.html"
    export_verifier(built, page)
    for account, doc in proofs.items():
        assert _verdict(dump_dom(page, proof_fragment(json.dumps(doc)))).startswith(f"valid: VALID: {account} ")
