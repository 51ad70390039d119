"""The modes by name: ``public``, ``hiding``, ``zk`` (the ``mode`` field of every document)."""

from __future__ import annotations

from typing import Any

from por.core.config import SnapshotConfig
from por.core.errors import BadInput
from por.modes.base import Mode
from por.modes.hiding import HidingMode
from por.modes.public import PublicMode
from por.modes.zk import ZkMode

MODE_PUBLIC = PublicMode.name
MODE_HIDING = HidingMode.name
MODE_ZK = ZkMode.name
MODE_CLASSES: dict[str, type[Mode]] = {m.name: m for m in (PublicMode, HidingMode, ZkMode)}
MODES = tuple(MODE_CLASSES)


def mode_name(hiding: bool, zk: Any) -> str:
    """The mode a build's options ask for (BadInput when they ask for two)."""
    if hiding and zk is not None:
        raise BadInput("hiding mode and zk mode cannot be combined", field="zk")
    return MODE_HIDING if hiding else MODE_ZK if zk is not None else MODE_PUBLIC


def mode_for(name: str, config: SnapshotConfig, zk: Any = None) -> Mode:
    """The :class:`Mode` of a snapshot: its mode name, its config and (zk mode) its batch parameters."""
    cls = MODE_CLASSES.get(name)
    if cls is None:
        raise BadInput(f"unsupported mode {name!r} (expected one of {', '.join(MODES)})", field="mode")
    if (zk is not None) != (cls is ZkMode):
        raise ValueError("batch parameters (ZkParams) are given exactly in zk mode")
    return cls(config, zk)
