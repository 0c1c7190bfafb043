"""Decode /api/frontend/v1/stats/model-activity: the daily token split of one model-variant.

The answer must be about the model-variant asked for: its URL (after any redirect) asks for it and
every row that names its model (`model_permaslug`, `variant`) names it; otherwise the whole answer
is an IDENTITY problem and the split stays unknown. A day listed twice is kept once (identical
copies counted in ``duplicate_days``, a copy with other values a DUPLICATE problem).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from orstats_crawler.items import ModelActivity
from orstats_crawler.sources import (IDENTITY, SourceError, check_asked, envelope, load_json, model_variant, require,
                                     rows_of, unique_entries)
from orstats_crawler.sources.rankings import ms_to_datetime

SOURCE = "activity"
# Every daily row must carry these: without any one of them the split is not known.
DAY_FIELDS = (
    "date",
    "total_prompt_tokens",
    "total_completion_tokens",
    "total_native_tokens_cached",
    "total_native_tokens_reasoning",
)


def decode_activity(
    body: bytes | str, url: str, permaslug: str, variant: str, fetched_at: datetime | None = None
) -> ModelActivity:
    check_asked(url, permaslug, variant, SOURCE)
    data = envelope(load_json(body, SOURCE, url), SOURCE, url, "data")
    rows = rows_of(envelope(data, SOURCE, url, "analytics"), SOURCE, url, "data.analytics")
    check_rows_identity(rows, url, permaslug, variant)
    return model_activity(rows, url, permaslug, variant, ms_to_datetime(data.get("cachedAt")) or fetched_at)


def check_rows_identity(rows: list[Any], url: str, permaslug: str, variant: str) -> None:
    """Every row that names its model-variant names the one asked for (a row that names none is taken
    as the answer's own)."""
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or "model_permaslug" not in row:
            continue
        found = model_variant(row["model_permaslug"], row.get("variant"))
        if found != model_variant(permaslug, variant):
            field = "model_permaslug" if row["model_permaslug"] != permaslug else "variant"
            raise SourceError(SOURCE, url, f"data.analytics[{index}].{field}",
                              f"asked for {model_variant(permaslug, variant)}, found {found}", kind=IDENTITY)


def model_activity(rows: list[Any], url: str, permaslug: str, variant: str,
                   fetched_at: datetime | None) -> ModelActivity:
    """The ModelActivity of an answer's daily rows (also the legacy model page's `analytics` rows)."""
    kept, duplicates = unique_entries(rows, _day_key, SOURCE, url, "data.analytics")
    return ModelActivity(
        permaslug=permaslug,
        variant=variant,
        days=[daily_row(unique.entry, url, unique.index) for unique in kept],
        source_url=url,
        fetched_at=fetched_at,
        duplicate_days=sum(unique.duplicates for unique in kept),
        problems=[{**asdict(p), "permaslug": permaslug, "variant": variant} for p in duplicates],
    )


def _day_key(row: Any) -> str | None:
    return f"day {row['date']}" if isinstance(row, dict) and "date" in row else None


def daily_row(row: Any, url: str, index: int) -> dict[str, Any]:
    """The fields we keep of one daily row."""
    if not isinstance(row, dict):
        raise SourceError(SOURCE, url, f"analytics[{index}]", "expected an object")
    for key in DAY_FIELDS:
        require(row, key, SOURCE, url, f" in analytics[{index}]")
    return {
        "date": row["date"],
        "prompt_tokens": row["total_prompt_tokens"],
        "completion_tokens": row["total_completion_tokens"],
        "cached_tokens": row["total_native_tokens_cached"],
        "reasoning_tokens": row["total_native_tokens_reasoning"],
        "requests": row.get("count"),
        "tool_calls": row.get("total_tool_calls"),
    }
