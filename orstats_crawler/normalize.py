"""Type rules shared by the pipelines and the spider: token counts, UTC days."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any


def count(value: Any) -> int:
    """A token or request count: an int, an integral float or a digit string. Anything else raises."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a count")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError(f"{value!r} is not a count")


def optional_count(value: Any) -> int | None:
    return None if value is None else count(value)


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
