"""Snapshots: the public document (:mod:`por.snapshot.document`) and the build (:mod:`por.snapshot.build`).

``from por.snapshot import build_snapshot, load_snapshot`` is the usual entry point.
"""

from por.snapshot.build import BuildResult, build_snapshot, build_trees
from por.snapshot.document import (
    MODES,
    SNAPSHOT_FORMAT,
    BucketSummary,
    Snapshot,
    compute_root,
    load_snapshot,
    root_preimage,
    snapshot_from_dict,
)

__all__ = ["BucketSummary", "BuildResult", "MODES", "SNAPSHOT_FORMAT",
           "Snapshot", "build_snapshot", "build_trees", "compute_root", "load_snapshot", "root_preimage",
           "snapshot_from_dict"]
