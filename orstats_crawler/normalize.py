"""Type rules shared by the pipelines, the decoders and the spider: token counts, numbers, UTC days.

A count is what SQLite can store as an INTEGER and a source can mean by it: a whole number from 0 to
2^63 - 1. Anything else ("1e30", "NaN", -5, 2.5, 10**30, true) raises ValueError naming the value,
so no bad count can reach the history (where it would be an OverflowError) or a sum.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import Any

MAX_COUNT = 2**63 - 1  # SQLite's largest INTEGER


def count(value: Any) -> int:
    """A token or request count: an int, an integral float or a digit string, 0 to MAX_COUNT."""
    if type(value) is int and 0 <= value <= MAX_COUNT:  # what sources almost always give: no more to check
        return value
    number = integer(value)
    if number < 0:
        raise ValueError(f"{value!r} is negative")
    return number


def integer(value: Any) -> int:
    """A whole number SQLite can store (negative ones too: the quality gate judges those itself)."""
    number = _whole(value)
    if not -MAX_COUNT - 1 <= number <= MAX_COUNT:
        raise ValueError(f"{value!r} is beyond SQLite's integer range")
    return number


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a count")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if digits.isascii() and digits.isdigit():
            return int(text)
    raise ValueError(f"{value!r} is not a count")


def optional_count(value: Any) -> int | None:
    return None if value is None else count(value)


def rounded_integer(value: Any) -> int:
    """A count given as a float that may have decimals (the chart's values): rounded, then ``integer``
    (a negative one is left for the chart's own check, which names the week)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a count")
        return integer(round(value))
    return integer(value)


def finite_number(value: Any) -> float | None:
    """A number a source gives as a measure (a week-over-week change): finite, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def utc_day(value: Any) -> date:
    """`2026-08-07 00:00:00`, `2026-08-07`, `2025-07-28T00:00:00+00:00` or a datetime -> its UTC day."""
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "T", 1)
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        return utc_day(parsed)
    raise ValueError(f"{value!r} is not a date")
