"""Snapshot configuration: ``snapshot.toml`` -> :class:`SnapshotConfig` (SPEC.md §2, §17.1).

Assets and buckets are kept in canonical order (sorted by their identifier as
UTF-8 bytes), so reordering the TOML file never changes a root. ``[prices]``,
``[collateral]`` and per-bucket ``allow_debt`` turn on margin accounts
(:mod:`por.core.margin`); without ``[prices]`` nothing about a config changes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from por.core.errors import BadInput
from por.core.margin import MarginParams, parse_margin

BUCKET_KINDS = ("segregated", "isolated-margin", "cross-margin", "portfolio-margin", "custody")
RESERVED_BUCKET_IDS = ("proprietary",)
MAX_DECIMALS = 18
MAX_CONFIG_BYTES = 1 << 20
"""The largest snapshot.toml read (SPEC.md §2.1); a genuine one is well under a kilobyte per asset and bucket."""
NO_DEBT_KINDS = ("segregated", "custody")
"""Bucket kinds that can never hold debts: client segregated funds and custodian vaults do not lend."""

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SYMBOL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}")
AS_OF_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@dataclass(frozen=True)
class Asset:
    symbol: str
    decimals: int


@dataclass(frozen=True)
class Bucket:
    id: str
    kind: str


@dataclass(frozen=True)
class SnapshotConfig:
    """Public metadata of one snapshot, bound into its root."""

    snapshot_id: str
    as_of: str
    assets: tuple[Asset, ...]
    buckets: tuple[Bucket, ...]
    margin: MarginParams | None = None
    """Prices, haircuts and ``allow_debt`` flags (SPEC.md §17); None when the config has no ``[prices]``."""

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(a.symbol for a in self.assets)

    @property
    def bucket_ids(self) -> tuple[str, ...]:
        return tuple(b.id for b in self.buckets)

    def asset_index(self, symbol: str) -> int | None:
        for i, a in enumerate(self.assets):
            if a.symbol == symbol:
                return i
        return None

    def bucket(self, bucket_id: str) -> Bucket:
        for b in self.buckets:
            if b.id == bucket_id:
                return b
        raise KeyError(bucket_id)

    def allows_debt(self, bucket_id: str) -> bool:
        """Whether the bucket's accounts may hold debts (always False without margin)."""
        return self.margin is not None and self.margin.bucket_allows_debt(bucket_id)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "snapshot_id": self.snapshot_id,
            "as_of": self.as_of,
            "assets": [{"symbol": a.symbol, "decimals": a.decimals} for a in self.assets],
            "buckets": [{"id": b.id, "kind": b.kind} for b in self.buckets],
        }
        if self.margin is not None:
            doc["margin"] = self.margin.to_dict()
        return doc

    @classmethod
    def from_dict(cls, doc: Any, *, file: str = "<snapshot>") -> "SnapshotConfig":
        """Parse the metadata block of a snapshot.json or proof (same rules as the TOML)."""
        if not isinstance(doc, dict):
            raise BadInput("metadata must be an object", file=file)
        try:
            assets = {a["symbol"]: a["decimals"] for a in doc["assets"]}
            buckets = {b["id"]: {"kind": b["kind"]} for b in doc["buckets"]}
            if len(assets) != len(doc["assets"]) or len(buckets) != len(doc["buckets"]):
                raise BadInput("duplicate asset or bucket in metadata", file=file)
            raw = {"snapshot_id": doc["snapshot_id"], "as_of": doc["as_of"], "assets": assets, "buckets": buckets}
        except (KeyError, TypeError) as exc:
            raise BadInput(f"malformed metadata ({exc!r})", file=file, field="metadata") from None
        cfg = parse_config(raw, file=file)
        if "margin" in doc:
            params = MarginParams.from_dict(doc["margin"], [(a.symbol, a.decimals) for a in cfg.assets],
                                            cfg.bucket_ids, file=file)
            cfg = replace(cfg, margin=params)
            _check_debt_kinds(cfg, file=file, prefix="margin.buckets.")
        if cfg.to_dict() != doc:
            raise BadInput("metadata is not in canonical form (assets and buckets sorted, no extra fields)", file=file)
        return cfg


def _sorted_key(s: str) -> bytes:
    return s.encode("utf-8")


def parse_config(raw: dict[str, Any], *, file: str = "<config>") -> SnapshotConfig:
    """Validate a decoded config mapping; raises :class:`BadInput` naming the field."""
    known = {"snapshot_id", "as_of", "assets", "buckets", "prices", "collateral"}
    for key in raw:
        if key not in known:
            raise BadInput(f"unknown key {key!r}", file=file, field=key)
    snapshot_id = raw.get("snapshot_id")
    if not isinstance(snapshot_id, str) or not ID_RE.fullmatch(snapshot_id):
        raise BadInput("snapshot_id must be 1-64 characters of A-Z a-z 0-9 . _ - (starting alphanumeric)",
                       file=file, field="snapshot_id")
    as_of = raw.get("as_of")
    if isinstance(as_of, datetime):
        raise BadInput('as_of must be a quoted string like "2026-11-20T00:00:00Z"', file=file, field="as_of")
    if not isinstance(as_of, str) or not AS_OF_RE.fullmatch(as_of):
        raise BadInput('as_of must be UTC RFC 3339 "YYYY-MM-DDTHH:MM:SSZ"', file=file, field="as_of")
    try:
        datetime.strptime(as_of, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise BadInput(f"as_of {as_of!r} is not a real date and time", file=file, field="as_of") from None

    assets_raw = raw.get("assets")
    if not isinstance(assets_raw, dict) or not assets_raw:
        raise BadInput("[assets] must declare at least one asset as SYMBOL = decimals", file=file, field="assets")
    assets = []
    for symbol, decimals in assets_raw.items():
        if not isinstance(symbol, str) or not SYMBOL_RE.fullmatch(symbol):
            raise BadInput(f"asset symbol {symbol!r} must be 1-16 characters of A-Z a-z 0-9 . _ -",
                           file=file, field=f"assets.{symbol}")
        if symbol in ("account_id", "bucket"):
            raise BadInput(f"asset symbol {symbol!r} is reserved", file=file, field=f"assets.{symbol}")
        if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= MAX_DECIMALS:
            raise BadInput(f"decimals of {symbol} must be an integer 0..{MAX_DECIMALS}", file=file,
                           field=f"assets.{symbol}")
        assets.append(Asset(symbol, decimals))
    assets.sort(key=lambda a: _sorted_key(a.symbol))

    buckets_raw = raw.get("buckets")
    if not isinstance(buckets_raw, dict) or not buckets_raw:
        raise BadInput("at least one [buckets.<id>] table is required", file=file, field="buckets")
    buckets = []
    for bucket_id, body in buckets_raw.items():
        field = f"buckets.{bucket_id}"
        if not isinstance(bucket_id, str) or not ID_RE.fullmatch(bucket_id):
            raise BadInput("bucket id must be 1-64 characters of A-Z a-z 0-9 . _ - (starting alphanumeric)",
                           file=file, field=field)
        if bucket_id in RESERVED_BUCKET_IDS:
            raise BadInput(f"bucket id {bucket_id!r} is reserved for the exchange's own funds", file=file, field=field)
        if not isinstance(body, dict) or set(body) - {"kind", "allow_debt"}:
            raise BadInput("a bucket table holds only kind = \"...\" and allow_debt = true|false",
                           file=file, field=field)
        kind = body.get("kind")
        if kind not in BUCKET_KINDS:
            raise BadInput(f"kind must be one of {', '.join(BUCKET_KINDS)}", file=file, field=f"{field}.kind")
        buckets.append(Bucket(bucket_id, kind))
    buckets.sort(key=lambda b: _sorted_key(b.id))
    if len(buckets) > 0xFFFF or len(assets) > 0xFFFF:
        raise BadInput("too many assets or buckets", file=file)
    margin = parse_margin(raw.get("prices"), raw.get("collateral"),
                          {b.id: buckets_raw[b.id].get("allow_debt") for b in buckets},
                          [(a.symbol, a.decimals) for a in assets], file=file)
    cfg = SnapshotConfig(snapshot_id, as_of, tuple(assets), tuple(buckets), margin)
    _check_debt_kinds(cfg, file=file, prefix="buckets.")
    return cfg


def _check_debt_kinds(cfg: SnapshotConfig, *, file: str, prefix: str) -> None:
    """``allow_debt`` is refused for kinds whose funds cannot be lent (segregated, custody)."""
    for b in cfg.buckets:
        if b.kind in NO_DEBT_KINDS and cfg.allows_debt(b.id):
            raise BadInput(f"bucket {b.id!r} of kind {b.kind!r} cannot allow debts: client segregated funds and "
                           "custodian vaults are never lent, so their accounts cannot owe anything",
                           file=file, field=f"{prefix}{b.id}.allow_debt")


def load_config(path: Path) -> SnapshotConfig:
    """Read and validate ``snapshot.toml``."""
    from por.core.fileio import read_limited

    path = Path(path)
    data = read_limited(path, "config", MAX_CONFIG_BYTES)
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput("config is not valid UTF-8", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"invalid TOML: {exc}", file=str(path)) from None
    except ValueError as exc:  # tomllib lets int()'s own errors through (an integer of over 4300 digits)
        raise BadInput(f"invalid TOML: {str(exc).split(';')[0]}", file=str(path)) from None
    except RecursionError:  # nested arrays or inline tables
        raise BadInput("invalid TOML: nested too deeply", file=str(path)) from None
    return parse_config(raw, file=str(path))
