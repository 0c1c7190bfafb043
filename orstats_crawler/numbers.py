"""How a count and a price are written wherever they are shown (the report, the quality gate's
messages): the seed README's forms (5.57T, $3.00/M), "n/a" for anything unknown (never 0).
"""

from __future__ import annotations

import math

NA = "n/a"
FREE = "Free"

SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def known(value: float | int | None) -> bool:
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def tokens(value: int | None) -> str:
    """5.57T, 706.0B, 12.3M, 4.5K, 812, n/a (the seed: two decimals for T, one below)."""
    if not known(value):
        return NA
    for scale, suffix in SCALES:
        if abs(value) >= scale:
            return f"{value / scale:.{2 if suffix == 'T' else 1}f}{suffix}"
    return str(int(value))


def price(per_token: float | None, is_free: bool = False) -> str:
    """USD per million tokens: $3.00/M, $0.4500/M, Free, n/a."""
    if is_free:
        return FREE
    if not known(per_token):
        return NA
    return f"${per_million_text(per_token)}/M"


def per_million_text(per_token: float) -> str:
    per_million = per_token * 1e6
    if per_million >= 1 or per_million == 0:
        return f"{per_million:.2f}"
    if per_million >= 0.0001:
        return f"{per_million:.4f}"
    return plain(per_million, 2, significant=True)


def plain(value: float | int, digits: int = 2, significant: bool = False) -> str:
    """A number as mermaid accepts it: plain decimal digits, never 3e2, inf or NaN."""
    if isinstance(value, bool) or not known(value):
        raise ValueError(f"{value!r} cannot be written as a plain decimal")
    if isinstance(value, int):
        return str(value)
    if significant and value:
        digits = max(digits, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
