"""Run the fuzz harnesses: ``python -m fuzz.run --seconds N`` (a long run; not part of pytest).

    python -m fuzz.run --seconds 600                    # every harness, 600 s in all, mutation engine
    python -m fuzz.run --seconds 60 --harness proof_public --engine atheris
    python -m fuzz.run --inputs 300 --seed 1 --json out.json

Engines: ``mutate`` (fuzz/engine.py: deterministic for a seed, outcome-guided) and ``atheris``
(coverage-guided libFuzzer, fuzz/atheris_main.py; one subprocess per harness). Findings are written to
``fuzz/crashes/<harness>/<sha1>`` (inputs) and listed in the JSON summary; the exit status is 1 when there
is any. Each input is bounded in time (``--time-bound``) and the run in memory (``--rss-mb``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _save(findings: list[dict], data_of: dict[str, bytes]) -> None:
    for f in findings:
        d = HERE / "crashes" / f["harness"]
        d.mkdir(parents=True, exist_ok=True)
        if f["sha1"] in data_of:
            (d / f["sha1"]).write_bytes(data_of[f["sha1"]])


def run_mutate(names: list[str], args: argparse.Namespace) -> list[dict]:
    from fuzz.engine import fuzz
    from fuzz.harnesses import HARNESSES

    out = []
    per = args.seconds / len(names) if args.seconds else None
    for name in names:
        h = HARNESSES[name]
        inputs = None if per is not None else max(1, args.inputs // h.cost)
        st = fuzz(h, inputs=inputs, seconds=per, seed=args.seed, time_bound=args.time_bound,
                  rss_bound_mb=args.rss_mb)
        d = st.to_dict()
        d["engine"] = "mutate"
        _save(d["findings"], {hashlib.sha1(f.data).hexdigest(): f.data for f in st.findings})
        print(f"{name:24} {st.inputs:7} inputs  {st.accepted:6} ok {st.exit1:6} exit 1 {st.exit2:7} exit 2  "
              f"pool {st.pool:4}  {st.seconds:6.1f} s  slowest {st.slowest:5.2f} s  "
              f"+{st.rss_growth_mb:.0f} MiB  findings {len(st.findings)}", file=sys.stderr, flush=True)
        out.append(d)
    return out


_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_STAT = re.compile(r"#(\d+)\s")


def run_atheris(names: list[str], args: argparse.Namespace) -> list[dict]:
    from fuzz.harnesses import HARNESSES

    out = []
    per = max(5, int((args.seconds or 60) / len(names)))
    for name in names:
        work = HERE / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        for _, data in HARNESSES[name].seeds():
            (work / hashlib.sha1(data).hexdigest()).write_bytes(data)
        crashes = HERE / "crashes" / name
        crashes.mkdir(parents=True, exist_ok=True)
        before = set(crashes.iterdir())
        cmd = [sys.executable, "-m", "fuzz.atheris_main", name, str(work), f"-max_total_time={per}",
               f"-timeout={int(max(1, args.time_bound * 4))}", f"-rss_limit_mb={int(args.rss_mb + 512)}",
               f"-artifact_prefix={crashes}/", f"-seed={args.seed + 1}", "-print_final_stats=1",
               f"-max_len={max([len(d) for _, d in HARNESSES[name].seeds()] + [4096]) * 2}"]
        t = time.monotonic()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=per * 3 + 120)
        runs = _DONE.search(p.stderr)
        stat = _STAT.findall(p.stderr)
        n = int(runs.group(1)) if runs else int(stat[-1]) if stat else 0
        found = sorted(set(crashes.iterdir()) - before)
        findings = [{"harness": name, "kind": f.name.split("-")[0], "detail": p.stderr[-3000:], "sha1": f.name,
                     "size": f.stat().st_size} for f in found]
        print(f"{name:24} {n:7} inputs (atheris)  {time.monotonic() - t:6.1f} s  corpus {len(list(work.iterdir()))}"
              f"  findings {len(findings)}", file=sys.stderr, flush=True)
        out.append({"harness": name, "engine": "atheris", "inputs": n, "seconds": round(time.monotonic() - t, 1),
                    "corpus": len(list(work.iterdir())), "findings": findings})
    return out


def main(argv: list[str] | None = None) -> int:
    from fuzz.harnesses import HARNESSES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, help="total time, shared by the harnesses")
    ap.add_argument("--inputs", type=int, default=200, help="mutants per harness (divided by its cost) without --seconds")
    ap.add_argument("--harness", action="append", choices=sorted(HARNESSES), help="only these (repeatable)")
    ap.add_argument("--engine", choices=("mutate", "atheris"), default="mutate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-bound", type=float, default=2.0, help="seconds one input may take")
    ap.add_argument("--rss-mb", type=float, default=512.0, help="how much the peak RSS may grow")
    ap.add_argument("--json", type=Path, help="write the summary here")
    args = ap.parse_args(argv)
    names = args.harness or list(HARNESSES)
    t = time.monotonic()
    results = (run_atheris if args.engine == "atheris" else run_mutate)(names, args)
    summary = {"engine": args.engine, "seed": args.seed, "seconds": round(time.monotonic() - t, 1),
               "time_bound_s": args.time_bound, "rss_bound_mb": args.rss_mb,
               "inputs": sum(r["inputs"] for r in results), "findings": sum(len(r["findings"]) for r in results),
               "harnesses": results}
    text = json.dumps(summary, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        print(text)
    return 1 if summary["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
