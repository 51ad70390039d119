"""The modes by name: ``public``, ``hiding``, ``zk`` (the ``mode`` field of every document)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from por.core.config import SnapshotConfig
from por.core.errors import BadInput
from por.modes.base import Mode

MODE_PUBLIC = "public"
MODE_HIDING = "hiding"
MODE_ZK = "zk"
MODES = (MODE_PUBLIC, MODE_HIDING, MODE_ZK)


def _load(name: str) -> type[Mode]:
    # imported when first asked for: a public build or proof never loads the group or pairing libraries
    if name == MODE_PUBLIC:
        from por.modes.public import PublicMode
        return PublicMode
    if name == MODE_HIDING:
        from por.modes.hiding import HidingMode
        return HidingMode
    from por.modes.zk import ZkMode
    return ZkMode


class _ModeClasses(Mapping[str, type[Mode]]):
    """The mode classes by name, each module imported on first use."""

    def __getitem__(self, name: str) -> type[Mode]:
        if name not in MODES:
            raise KeyError(name)
        return _load(name)

    def __iter__(self) -> Iterator[str]:
        return iter(MODES)

    def __len__(self) -> int:
        return len(MODES)


MODE_CLASSES: Mapping[str, type[Mode]] = _ModeClasses()


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
    if (zk is not None) != (name == MODE_ZK):
        raise ValueError("batch parameters (ZkParams) are given exactly in zk mode")
    return cls(config, zk)
