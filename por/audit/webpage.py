"""The self-contained browser verifier page (``por export-verifier``).

One static HTML file: the published snapshot.json embedded as data, and a
dependency-free JavaScript verifier of public-mode inclusion proofs (SPEC.md §8,
with its own SHA-256 and BigInt sums). It loads nothing and sends nothing
(its Content-Security-Policy forbids any network access).
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

from por.core.errors import BadInput
from por.core.fileio import atomic_write_bytes
from por.snapshot import Snapshot, load_snapshot


def _embed_json(doc: object) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(doc, sort_keys=True).replace("</", "<\\/").replace("<!--", "<\\!--")


def verifier_page(snapshot: Snapshot) -> str:
    """The HTML text of the verifier page for ``snapshot``."""
    if snapshot.mode != "public":
        raise BadInput(f"the browser verifier checks public-mode snapshots only; {snapshot.mode}-mode proofs are "
                       "verified with `por verify` (secp256k1 and Bulletproofs, or the BN254 pairing)", field="snapshot")
    if snapshot.config.margin is not None:
        raise BadInput("the browser verifier reads version 1 proofs only; margin snapshots (version 2) are "
                       "verified with `por verify`", field="snapshot")
    web = resources.files("por") / "web"
    page = (web / "verifier.html").read_text(encoding="utf-8")
    js = (web / "verifier.js").read_text(encoding="utf-8")
    cfg = snapshot.config
    return (page.replace("__SNAPSHOT_ID__", html.escape(cfg.snapshot_id))
            .replace("__AS_OF__", html.escape(cfg.as_of))
            .replace("__ROOT__", snapshot.root.hex())
            .replace("__SNAPSHOT_JSON__", _embed_json(snapshot.to_dict()))
            .replace("__VERIFIER_JS__", js))


def export_verifier(snapshot_path: Path, out: Path) -> Snapshot:
    """Write the verifier page for the snapshot at ``snapshot_path`` (a snapshot.json or its directory)."""
    snap = load_snapshot(snapshot_path)
    atomic_write_bytes(Path(out), verifier_page(snap).encode("utf-8"))
    return snap
