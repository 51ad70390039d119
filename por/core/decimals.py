"""Exact decimals: config and price strings <-> integers, never through a float.

Every decimal `por` reads from a config (prices, haircuts, tier bounds) is parsed here into
an integer and a count of fraction digits; every amount it prints is formatted here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from por.core.errors import BadInput

MAX_FRACTION_DIGITS = 18
"""Most fraction digits a price, haircut or tier boundary may be written with."""

MAX_WHOLE_DIGITS = 20
"""Most integer digits of any decimal (2^64 has 20); larger values could never pass the bounds."""

_INPUT_RE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_CANONICAL_RE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]*[1-9]))?")


@dataclass(frozen=True)
class Dec:
    """An exact non-negative decimal ``units / 10**digits`` with no trailing fraction zeros."""

    units: int
    digits: int

    @property
    def text(self) -> str:
        """The canonical decimal string (see :func:`format_decimal`)."""
        return format_decimal(self.units, self.digits)

    def scaled(self, digits: int) -> int:
        """The value times ``10**digits`` (``digits`` must be at least :attr:`digits`)."""
        if digits < self.digits:
            raise ValueError("cannot scale a decimal to fewer digits than it has")
        return self.units * 10 ** (digits - self.digits)


def format_decimal(units: int, digits: int) -> str:
    """``units / 10**digits`` as the canonical decimal string.

    Canonical: ASCII digits, no leading zeros in the integer part (``"0"`` for
    zero), a ``.`` only when a non-zero fraction follows, no trailing fraction
    zeros, ``-`` prefix for negatives, never ``"-0"``. Exact; nothing is rounded.
    (The same text as :func:`por.core.ledger.format_amount`, which delegates here.)
    """
    sign = "-" if units < 0 else ""
    units = abs(units)
    if digits == 0:
        return f"{sign}{units}"
    whole, frac = divmod(units, 10**digits)
    frac_s = str(frac).rjust(digits, "0").rstrip("0")
    return f"{sign}{whole}.{frac_s}" if frac_s else f"{sign}{whole}"


def is_canonical_decimal(text: str) -> bool:
    """Whether ``text`` is a canonical non-negative decimal with at most 18 fraction digits."""
    m = _CANONICAL_RE.fullmatch(text)
    return m is not None and len(m.group(2) or "") <= MAX_FRACTION_DIGITS and len(m.group(1)) <= MAX_WHOLE_DIGITS


def parse_decimal(text: object, *, what: str, field: str, file: str) -> Dec:
    """Parse a non-negative config decimal string exactly; raises :class:`BadInput` naming ``field``.

    Accepted: ``(0|[1-9][0-9]*)(\\.[0-9]+)?`` with at most 18 fraction digits as
    written and at most 20 integer digits. Trailing fraction zeros are allowed
    here and dropped (``"0.10"`` is the decimal ``0.1``, 1 digit). Rejected:
    non-strings (TOML numbers, booleans), signs, exponents, spaces, underscores,
    leading zeros, a bare ``.``, non-ASCII digits.
    """
    if not isinstance(text, str):
        raise BadInput(f'{what} must be a quoted decimal string like "0.05", not {type(text).__name__}',
                       file=file, field=field)
    m = _INPUT_RE.fullmatch(text)
    if m is None:
        raise BadInput(f"{what} {text!r} is not a plain non-negative decimal "
                       "(digits, optional '.' and fraction digits; no sign, exponent, spaces or leading zeros)",
                       file=file, field=field)
    whole, frac = m.group(1), m.group(2) or ""
    if len(frac) > MAX_FRACTION_DIGITS:
        raise BadInput(f"{what} {text!r} has {len(frac)} fraction digits; at most {MAX_FRACTION_DIGITS} are allowed",
                       file=file, field=field)
    if len(whole) > MAX_WHOLE_DIGITS:
        raise BadInput(f"{what} {text!r} is too large", file=file, field=field)
    frac = frac.rstrip("0")
    return Dec(int(whole + frac), len(frac))
