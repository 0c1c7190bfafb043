"""Decode the weekly leaderboard and the weekly chart (JSON endpoints of the current era).

The row and week shapes are the same in the legacy era's embedded flight data, so the legacy page
decoder reuses ``leaderboard_rows`` and ``chart_weeks`` on what it extracts.

A row (model-variant) or a chart week listed twice is kept once: identical copies are counted in
the kept item's ``duplicates``, a copy with other values is a DUPLICATE problem (the gate rejects
the week, naming the key). So is a chart key listed twice in one week with two values.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

from orstats_crawler.items import ChartWeek, LeaderboardRow, SourceProblem
from orstats_crawler.pricing import STANDARD_VARIANT
from orstats_crawler.sources import (DUPLICATE, SourceError, envelope, load_json, model_variant, problem, require,
                                     rows_of, unique_entries)

LEADERBOARD = "leaderboard"
CHART = "chart"

# The split columns. A leaderboard whose cached column is 0 in every row is saying "not provided"
# (the current era always sends 0 here); the split then has to come from model-activity.
CACHED, REASONING = "total_native_tokens_cached", "total_native_tokens_reasoning"


def decode_leaderboard(body: bytes | str, url: str) -> Iterator[LeaderboardRow | SourceProblem]:
    rows = rows_of(envelope(load_json(body, LEADERBOARD, url), LEADERBOARD, url, "data"), LEADERBOARD, url, "data")
    yield from leaderboard_rows(rows, url, era="current")


def leaderboard_rows(rows: list[Any], url: str, era: str) -> Iterator[LeaderboardRow | SourceProblem]:
    split_provided = any(isinstance(r, dict) and (r.get(CACHED) or 0) != 0 for r in rows)
    kept, duplicates = unique_entries(rows, _row_key, LEADERBOARD, url, "data")
    for unique in kept:
        try:
            row = _leaderboard_row(unique.entry, url, era, unique.index, split_provided)
        except SourceError as exc:
            yield problem(exc)
            continue
        row.duplicates = unique.duplicates
        yield row
    yield from duplicates


def _row_key(row: Any) -> str | None:
    if not isinstance(row, dict) or "model_permaslug" not in row:
        return None
    return model_variant(row["model_permaslug"], row.get("variant"))


def _leaderboard_row(row: Any, url: str, era: str, index: int, split_provided: bool) -> LeaderboardRow:
    where = f" in row {index}"
    if not isinstance(row, dict):
        raise SourceError(LEADERBOARD, url, f"data[{index}]", "expected an object")
    return LeaderboardRow(
        permaslug=text(require(row, "model_permaslug", LEADERBOARD, url, where), url, f"data[{index}].model_permaslug"),
        variant=text(row.get("variant") or STANDARD_VARIANT, url, f"data[{index}].variant"),
        prompt_tokens=require(row, "total_prompt_tokens", LEADERBOARD, url, where),
        completion_tokens=require(row, "total_completion_tokens", LEADERBOARD, url, where),
        cached_tokens=row.get(CACHED) if split_provided else None,
        reasoning_tokens=row.get(REASONING) if split_provided else None,
        requests=row.get("count"),
        change=row.get("change"),
        last_day=row.get("date"),
        variant_permaslug=text(row.get("variant_permaslug"), url, f"data[{index}].variant_permaslug", optional=True),
        source_url=url,
        era=era,
    )


def text(value: Any, url: str, field: str, optional: bool = False) -> Any:
    """A name the row must give as a string (a number there means the shape changed)."""
    if isinstance(value, str) or (optional and value is None):
        return value
    raise SourceError(LEADERBOARD, url, field, f"{value!r} is not a string")


def decode_chart(body: bytes | str, url: str) -> Iterator[ChartWeek | SourceProblem]:
    inner = envelope(load_json(body, CHART, url, keys_once=True), CHART, url, "data")
    weeks = rows_of(envelope(inner, CHART, url, "data"), CHART, url, "data.data")
    yield from chart_weeks(weeks, url, era="current", fetched_at=ms_to_datetime(inner.get("cachedAt")))


def chart_weeks(weeks: list[Any], url: str, era: str,
                fetched_at: datetime | None) -> Iterator[ChartWeek | SourceProblem]:
    kept, duplicates = unique_entries(weeks, _week_key, CHART, url, "data")
    for unique in kept:
        try:
            yield _chart_week(unique, url, era, fetched_at)
        except SourceError as exc:
            yield problem(exc)
    yield from duplicates


def _week_key(week: Any) -> str | None:
    return f"week {week['x']}" if isinstance(week, dict) and "x" in week else None


def _chart_week(unique: Any, url: str, era: str, fetched_at: datetime | None) -> ChartWeek:
    week, index = unique.entry, unique.index
    if not isinstance(week, dict):
        raise SourceError(CHART, url, f"data[{index}]", "expected an object")
    values = require(week, "ys", CHART, url, f" in week {index}")
    if not isinstance(values, dict):
        raise SourceError(CHART, url, f"data[{index}].ys", "expected an object")
    repeated = getattr(values, "repeated", [])
    differing = [f"{key} = {first!r} and {later!r}" for key, first, later in repeated if first != later]
    if differing:
        raise SourceError(CHART, url, f"data[{index}].ys", f"week {week.get('x')}: key listed twice with "
                                                          f"different values: {'; '.join(differing)}", kind=DUPLICATE)
    return ChartWeek(
        week_start=require(week, "x", CHART, url, f" in week {index}"),
        values=dict(values),
        source_url=url,
        era=era,
        fetched_at=fetched_at,
        duplicates=unique.duplicates + len(repeated),
    )


def ms_to_datetime(value: Any) -> datetime | None:
    """`cachedAt` (ms since the epoch) as an aware UTC datetime; None when absent or not a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    return None
