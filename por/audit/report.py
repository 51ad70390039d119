"""The auditor's self-contained HTML report (no scripts, no external resources; an inline SVG chart)."""

from __future__ import annotations

import html
from pathlib import Path

from por.audit.audit import FullAudit
from por.core.fileio import atomic_write_bytes, atomic_write_json

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#1c2430}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}code{background:#eef1f5;padding:0 .25rem;border-radius:3px}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #cfd6df;padding:.3rem .5rem;vertical-align:top}
th{background:#f3f5f8;text-align:left}.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#135c2a;font-weight:600}.fail{color:#8a1c1c;font-weight:600}
.banner{padding:.8rem 1rem;border-radius:6px;font-weight:700;margin:1rem 0}
.ok{background:#e3f6e8;border:1px solid #8fd3a3}.bad{background:#fde8e8;border:1px solid #f0a3a3}
.meta{color:#58636f;word-break:break-all}
"""


def _ratio_bp(c: dict) -> int | None:
    r = c.get("ratio", "")
    if not r.endswith("%"):
        return None
    whole, frac = r[:-1].split(".")
    return int(whole) * 100 + int(frac)


def _chart(coverage: list[dict]) -> str:
    rows = [(f"{c['bucket']} / {c['asset']}", _ratio_bp(c)) for c in coverage if _ratio_bp(c) is not None]
    if not rows:
        return "<p>No bucket with liabilities to chart.</p>"
    bar_h, label_w, width = 22, 180, 520
    top = 30000  # bars are drawn up to 300 %; the label always shows the exact ratio
    scale = lambda bp: min(bp, top) * width // top  # noqa: E731  (integer pixels)
    h = bar_h * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 80}" height="{h}" role="img" '
             'aria-label="reserve ratio per bucket and asset">']
    x100 = label_w + scale(10000)
    for i, (label, bp) in enumerate(rows):
        y = 10 + i * bar_h
        color = "#2e9e57" if bp >= 10000 else "#c0392b"
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12">{html.escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(1, scale(bp))}" height="{bar_h - 6}" fill="{color}"/>')
        parts.append(f'<text x="{label_w + scale(bp) + 6}" y="{y + 15}" font-size="12">{bp // 100}.{bp % 100:02d}%</text>')
    parts.append(f'<line x1="{x100}" y1="4" x2="{x100}" y2="{h - 16}" stroke="#1c2430" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{x100}" y="{h - 4}" text-anchor="middle" font-size="11">100 %</text></svg>')
    return "".join(parts)


def render_html(audit: FullAudit) -> str:
    snap = audit.report.snapshot
    title = f"por audit report — {snap.config.snapshot_id}" if snap else "por audit report"
    e = html.escape
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
           f"content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>{e(title)}</title>"
           f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"]
    if snap:
        out.append(f"<p class='meta'>As of {e(snap.config.as_of)} · root <code>{snap.root.hex()}</code> · "
                   f"{audit.report.rows} ledger rows</p>")
    passed = sum(c.ok for c in audit.report.checks)
    cls, word = ("ok", "PASSED") if audit.ok else ("bad", "FAILED")
    out.append(f"<div class='banner {cls}' id='verdict'>AUDIT {word}: {passed} of {len(audit.report.checks)} "
               "checks passed</div>")
    if audit.coverage:
        margin = "equity" in audit.coverage[0]
        out.append("<h2>Reserves vs liabilities per bucket and asset</h2>" + _chart(audit.coverage))
        if margin:
            out.append("<p>Margin accounts: the liability of a bucket and asset is its requirement "
                       "max(equity − debt, 0).</p>")
        out.append("<table><tr><th>bucket</th><th>asset</th>"
                   + ("<th class='num'>equity</th><th class='num'>debt</th><th class='num'>net</th>"
                      "<th class='num'>requirement</th>" if margin else "<th class='num'>liabilities</th>")
                   + "<th class='num'>reserves</th><th class='num'>ratio</th><th>result</th></tr>")
        for c in audit.coverage:
            res = {True: "<span class='pass'>covered</span>", False: "<span class='fail'>SHORT</span>",
                   None: "–"}[c["covered"]]
            figures = "".join(f"<td class='num'>{e(str(c[k]))}</td>" for k in ("equity", "debt", "net")) if margin else ""
            out.append(f"<tr><td>{e(c['bucket'])}</td><td>{e(c['asset'])}</td>{figures}"
                       f"<td class='num'>{e(str(c['liabilities']))}"
                       f"</td><td class='num'>{e(c['reserves'])}</td><td class='num'>{e(c['ratio'])}</td><td>{res}</td></tr>")
        out.append("</table>")
        if audit.proprietary:
            out.append("<p>Proprietary funds (reported, never counted for clients): " +
                       ", ".join(f"{e(v)} {e(k)}" for k, v in audit.proprietary.items()) + "</p>")
    elif snap and snap.hiding:
        out.append("<p>Hiding mode: bucket liabilities are committed, not published.</p>")
    elif snap and snap.margin is not None:
        from por.core.ledger import format_amount

        out.append("<h2>Liabilities per bucket and asset (margin accounts)</h2><table><tr><th>bucket</th>"
                   "<th>kind</th><th>asset</th><th class='num'>equity</th><th class='num'>debt</th>"
                   "<th class='num'>net</th><th class='num'>requirement</th></tr>")
        for b in snap.buckets:
            for i, a in enumerate(snap.config.assets):
                vals = (b.equity[i], b.debt[i], b.equity[i] - b.debt[i], b.totals[i])
                out.append(f"<tr><td>{e(b.id)}</td><td>{e(b.kind)}</td><td>{e(a.symbol)}</td>" + "".join(
                    f"<td class='num'>{format_amount(v, a.decimals)}</td>" for v in vals) + "</tr>")
        out.append("</table><p>requirement = max(equity − debt, 0): what the bucket's reserves must cover.</p>")
    elif snap:
        out.append("<h2>Liabilities per bucket</h2><table><tr><th>bucket</th><th>kind</th>" +
                   "".join(f"<th class='num'>{e(a.symbol)}</th>" for a in snap.config.assets) + "</tr>")
        from por.core.ledger import format_amount

        for b in snap.buckets:
            out.append(f"<tr><td>{e(b.id)}</td><td>{e(b.kind)}</td>" + "".join(
                f"<td class='num'>{format_amount(v, a.decimals)}</td>" for v, a in zip(b.totals, snap.config.assets)) + "</tr>")
        out.append("</table>")
    out.append("<h2>Checks</h2><table><tr><th>check</th><th>result</th><th>why</th></tr>")
    for c in audit.report.checks:
        res = "<span class='pass'>pass</span>" if c.ok else "<span class='fail'>FAIL</span>"
        out.append(f"<tr><td>{e(c.name)}</td><td>{res}</td><td>{e(c.detail)}</td></tr>")
    out.append("</table></body></html>\n")
    return "".join(out)


def write_report(audit: FullAudit, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir`` (created if needed), atomically each."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    j, h = out_dir / "report.json", out_dir / "report.html"
    atomic_write_json(j, audit.to_dict())
    atomic_write_bytes(h, render_html(audit).encode("utf-8"))
    return j, h
