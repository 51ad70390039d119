"""In-page verification time of the offline verifier page in headless Chromium (Debian's chromium).

    python benchmarks/bench_browser.py --hiding SNAPSHOT_DIR [--zk SNAPSHOT_JSON] [--runs 3]

Exports the page for the snapshot, proves one account (hiding: the first account of the store), opens the page
with the proof in its fragment and reads the page's own measurement (``#progress[data-ms]``: from the start of
verification to the verdict, including the page's one-time setup: the embedded snapshot's root check and, in
hiding mode, the generator table; not the page load). Each run is a fresh page load. Build the height-20,
4-asset hiding snapshot with ``python -m por.demo.examples --users 2000 --assets 4 --buckets 1 --out in`` and
``por build --config in/snapshot.toml --ledger in/ledger.csv --out snap --hiding --height 20``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from por.audit.webpage import export_verifier  # noqa: E402
from por.proofs.inclusion import Prover  # noqa: E402
from tests.browser import dump_dom, proof_fragment  # noqa: E402


def measure(page: Path, proof: dict, runs: int) -> tuple[list[float], str]:
    times, verdict = [], ""
    for _ in range(runs):
        dom = dump_dom(page, proof_fragment(json.dumps(proof)))
        verdict = re.search(r'<div id="verdict" class="\w+">([^<]*)</div>', dom).group(1)
        times.append(float(re.search(r'data-ms="([0-9.]+)"', dom).group(1)))
    return times, verdict


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hiding", type=Path)
    ap.add_argument("--zk", type=Path, default=ROOT / "tests" / "vectors" / "zk" / "mode" / "snapshot.json")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="por-bench-browser-"))
    rows = []
    if a.hiding:
        page = tmp / "hiding.html"
        export_verifier(a.hiding, page)
        p = Prover(a.hiding)
        try:
            account = next(iter(p.accounts()))
            proof = p.prove(account)
        finally:
            p.close()
        e = proof["entries"][0]
        m = (e["height"] + len(e["top_path"]) + 1) * len(e["balances"] if "balances" in e else e["equity"])
        times, verdict = measure(page, proof, a.runs)
        rows.append(("hiding", f"height {e['height']}, {len(proof['snapshot']['metadata']['assets'])} assets, m = {m}",
                     page.stat().st_size, times, verdict))
    if a.zk:
        page = tmp / "zk.html"
        export_verifier(a.zk, page)
        proof = json.loads((a.zk.parent / "proof-alice.json").read_text())
        times, verdict = measure(page, proof, a.runs)
        rows.append(("zk", f"{len(proof['entries'])} entries (one Groth16 proof each)", page.stat().st_size, times,
                     verdict))
    print("| mode | proof | page bytes | runs (ms) | median ms | verdict |")
    print("|---|---|---|---|---|---|")
    for mode, what, size, times, verdict in rows:
        print(f"| {mode} | {what} | {size} | {', '.join(f'{t:.0f}' for t in times)} | {statistics.median(times):.0f} "
              f"| {verdict[:60]} |")


if __name__ == "__main__":
    main()
