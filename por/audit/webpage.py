"""The self-contained browser verifier page (``por export-verifier``).

One static HTML file for one snapshot, in every mode and version (public, hiding and zk; version 1, and
version 2 with margin accounts): the published snapshot.json embedded as data, and the JavaScript verifier of
``por/web/js/`` (SPEC.md §8, §15.4, §16.12, §17.10, §17.20, §17.26), bundled at export time with the pinned
libraries it uses from ``node_modules`` (``@noble/curves`` and ``@noble/hashes`` for secp256k1 and SHA-256;
snarkjs' browser build for the Groth16 pairing check of zk pages), their licences noted in the page. It
loads nothing and sends nothing: its Content-Security-Policy forbids any network access (zk pages also allow
WebAssembly compilation, which snarkjs' pairing needs).

Data the page needs besides the snapshot is embedded too and re-checked in the page:

* hiding mode: for each Bulletproofs generator the snapshot's proofs can use, its hash-to-curve counter and
  ``y`` coordinate. The page recomputes ``x`` from SPEC.md §14.2's hash (so the point is hash-derived: nobody
  knows its discrete log) and checks the point is on the curve with ``y`` even, which costs a hash instead of
  a square root per generator; a table entry that is not the SPEC's first counter makes genuine proofs fail,
  never a false proof pass;
* zk mode: the Poseidon constants of the widths the snapshot uses (from ``por/zk/poseidon_constants.json``,
  whose sha256 SPEC.md §16.2 records).
"""

from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from por.core.errors import BadInput
from por.core.fileio import atomic_write_bytes
from por.snapshot import Snapshot, load_snapshot

_REQUIRE = re.compile(r"""\brequire\(\s*["']([^"']+)["']\s*\)""")
_EXTERNAL = {"snarkjs": "module.exports = globalThis.snarkjs;"}
"""Modules the page provides as globals instead of bundling their CommonJS build (snarkjs: its browser build)."""
_PACKAGES = ("@noble/curves", "@noble/hashes")


def _embed_json(doc: object) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def _embed_script(text: str) -> str:
    return text.replace("</script", "<\\/script")


def node_modules() -> Path:
    """The project's ``node_modules`` (``POR_NODE_MODULES`` overrides), installed by ``scripts/setup-node.sh``."""
    env = os.environ.get("POR_NODE_MODULES")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "node_modules"
    if not (path / "@noble" / "curves" / "package.json").is_file():
        raise BadInput(f"the browser verifier bundles @noble/curves from {path}, which is not installed: run "
                       "`bash scripts/setup-node.sh` (or set POR_NODE_MODULES)", field="node_modules")
    return path


def _resolve_export(pkg_dir: Path, sub: str) -> Path | None:
    """A package's subpath via its package.json ``exports`` (the CommonJS, non-node condition) or a plain file."""
    meta = json.loads((pkg_dir / "package.json").read_text())
    target: Any = (meta.get("exports") or {}).get("./" + sub if sub else ".")
    while isinstance(target, dict):
        target = next((target[c] for c in ("browser", "require", "default") if c in target), None)
    for cand in ([target] if isinstance(target, str) else []) + [sub, sub + ".js", sub + "/index.js"]:
        if cand and (pkg_dir / cand).is_file():
            return (pkg_dir / cand).resolve()
    return None


def _resolve(spec: str, base: Path, nm: Path) -> Path:
    if spec.startswith("."):
        for cand in (base.parent / spec, base.parent / (spec + ".js")):
            if cand.is_file():
                return cand.resolve()
    else:
        parts = spec.split("/")
        n = 2 if spec.startswith("@") else 1
        pkg, sub = "/".join(parts[:n]), "/".join(parts[n:])
        found = _resolve_export(nm / pkg, sub) if (nm / pkg / "package.json").is_file() else None
        if found is not None:
            return found
    raise BadInput(f"cannot bundle {spec!r} (required by {base})", field="node_modules")


def bundle(entry: Path, nm: Path) -> str:
    """The CommonJS module graph from ``entry`` as one classic script (a tiny ``require`` over a module table)."""
    ids: dict[Path, int] = {}
    defs: list[str] = []
    maps: list[dict[str, int]] = []

    def visit(path: Path) -> int:
        if path in ids:
            return ids[path]
        ids[path] = len(defs)
        defs.append("")
        maps.append({})
        me = ids[path]
        src = path.read_text(encoding="utf-8")
        deps: dict[str, int] = {}
        for spec in sorted(set(_REQUIRE.findall(src))):
            if spec in _EXTERNAL:
                key = Path(f"<external {spec}>")
                if key not in ids:
                    ids[key] = len(defs)
                    defs.append(f"function (module, exports, require) {{ {_EXTERNAL[spec]} }}")
                    maps.append({})
                deps[spec] = ids[key]
            else:
                deps[spec] = visit(_resolve(spec, path, nm))
        maps[me] = deps
        defs[me] = f"function (module, exports, require) {{ // {path.relative_to(path.parents[2])}\n{src}\n}}"
        return me

    visit(entry.resolve())
    table = ",\n".join(defs)
    return (
        "(function () {\n\"use strict\";\nvar defs = [\n" + table + "\n];\nvar deps = " + json.dumps(maps) + ";\n"
        "var cache = [];\nfunction load(id) {\n  if (cache[id]) return cache[id].exports;\n"
        "  var module = cache[id] = { exports: {} };\n"
        "  defs[id].call(module.exports, module, module.exports, function (spec) {\n"
        "    var to = deps[id][spec];\n    if (to === undefined) throw new Error('not bundled: ' + spec);\n"
        "    return load(to);\n  });\n  return module.exports;\n}\nload(0);\n})();\n"
    )


def _licences(nm: Path, names: list[str]) -> tuple[str, list[dict[str, str]]]:
    out, notes = [], []
    for name in names:
        meta = json.loads((nm / name / "package.json").read_text())
        lic = next((p for p in (nm / name / "LICENSE", nm / name / "LICENSE.md", nm / name / "COPYING") if p.is_file()),
                   None)
        notes.append({"name": name, "version": meta["version"], "license": meta.get("license", "")})
        text = lic.read_text(encoding="utf-8") if lic else meta.get("license", "")
        out.append(f"<h3>{html.escape(name)} {html.escape(meta['version'])} ({html.escape(meta.get('license', ''))})"
                   f"</h3><pre>{html.escape(text)}</pre>")
    return "\n".join(out), notes


def _generator_table(snapshot: Snapshot) -> dict[str, Any]:
    """Counters and y coordinates of every Bulletproofs generator a proof of this snapshot can use (SPEC.md §14.2)."""
    from por.core.encoding import H as sha256
    from por.core.encoding import lp, u32
    from por.crypto.pedersen import LABEL_G_VEC, LABEL_H, LABEL_H_VEC, TAG_GEN, hash_to_curve

    cfg = snapshot.config
    n_values = (2 if cfg.margin is not None else 1) * len(cfg.assets)
    t = max(0, (len(cfg.buckets) - 1).bit_length())
    need = 1
    for b in snapshot.buckets:
        m = (b.height + t + 1) * n_values
        need = max(need, 64 * (1 << (m - 1).bit_length()))
        if cfg.margin is not None:
            need = max(need, 128 * (1 << (b.height + t).bit_length()))

    def entry(label: str, index: int) -> str:
        prefix = TAG_GEN + lp(label) + u32(index)
        point = hash_to_curve(label, index)
        x = int.from_bytes(point.to_bytes()[1:], "big")
        counter = 0
        while int.from_bytes(sha256(prefix + u32(counter)), "big") != x:
            counter += 1
        y = _even_y(x)
        return f"{counter:02x}" + y.to_bytes(32, "big").hex()

    return {"H": entry(LABEL_H, 0), "G": "".join(entry(LABEL_G_VEC, i) for i in range(need)),
            "Hv": "".join(entry(LABEL_H_VEC, i) for i in range(need)), "count": need}


def _even_y(x: int) -> int:
    p = 2**256 - 2**32 - 977
    y = pow((x * x * x + 7) % p, (p + 1) // 4, p)
    return y if y % 2 == 0 else p - y


def _poseidon_widths(snapshot: Snapshot) -> dict[str, Any]:
    cfg = snapshot.config
    doc = json.loads((resources.files("por") / "zk" / "poseidon_constants.json").read_text(encoding="utf-8"))
    n_leaf = (2 if cfg.margin is not None else 1) * len(cfg.assets) + 2
    widths = {str(w): doc["widths"][str(w)] for w in sorted({3, n_leaf + 1})}
    return {"widths": widths, "partial_rounds": {w: doc["partial_rounds"][w] for w in widths}}


def verifier_page(snapshot: Snapshot) -> str:
    """The HTML text of the verifier page for ``snapshot``."""
    nm = node_modules()
    web = resources.files("por") / "web"
    page = (web / "verifier.html").read_text(encoding="utf-8")
    js = bundle(Path(str(web / "js" / "page.js")), nm)
    data: dict[str, Any] = {}
    packages = list(_PACKAGES)
    pre = ""
    csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
    if snapshot.mode == "hiding":
        data["generators"] = _generator_table(snapshot)
    if snapshot.mode == "zk":
        data["poseidon"] = _poseidon_widths(snapshot)
        snarkjs = nm / "snarkjs" / "build" / "snarkjs.min.js"
        if not snarkjs.is_file():
            raise BadInput(f"the zk verifier page bundles snarkjs' browser build, not found at {snarkjs}: run "
                           "`bash scripts/setup-node.sh`", field="node_modules")
        # the page has no workers (none may load under this CSP): snarkjs then runs single-threaded
        pre = ("<script>\nwindow.Worker = undefined;\n</script>\n<script>\n"
               + _embed_script(snarkjs.read_text(encoding="utf-8")) + "\n</script>\n")
        packages.append("snarkjs")
        csp = "default-src 'none'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'"
    licences, notes = _licences(nm, packages)
    cfg = snapshot.config
    mode = snapshot.mode + (" with margin accounts (version 2)" if cfg.margin is not None else "")
    values = {
        "CSP": csp, "SNAPSHOT_ID": html.escape(cfg.snapshot_id), "AS_OF": html.escape(cfg.as_of),
        "MODE": html.escape(mode), "ROOT": snapshot.root.hex(),
        "LIBRARIES": html.escape(", ".join(f"{n['name']} {n['version']} ({n['license']})" for n in notes)),
        "LICENCES": licences, "SNAPSHOT_JSON": _embed_json(snapshot.to_dict()), "DATA_JSON": _embed_json(data),
        "PRE_SCRIPTS": pre, "VERIFIER_JS": _embed_script(js),
    }
    return re.sub(r"__([A-Z_]+)__", lambda m: values[m.group(1)], page)  # one pass: no placeholder in a value


def export_verifier(snapshot_path: Path, out: Path) -> Snapshot:
    """Write the verifier page for the snapshot at ``snapshot_path`` (a snapshot.json or its directory)."""
    snap = load_snapshot(snapshot_path)
    atomic_write_bytes(Path(out), verifier_page(snap).encode("utf-8"))
    return snap
