"""Decode /api/frontend/v1/stats/model-activity: the daily token split of one model-variant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orstats_crawler.items import ModelActivity
from orstats_crawler.sources import SourceError, envelope, load_json, require, rows_of
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
    data = envelope(load_json(body, SOURCE, url), SOURCE, url, "data")
    rows = rows_of(envelope(data, SOURCE, url, "analytics"), SOURCE, url, "data.analytics")
    return ModelActivity(
        permaslug=permaslug,
        variant=variant,
        days=[daily_row(row, url, index) for index, row in enumerate(rows)],
        source_url=url,
        fetched_at=ms_to_datetime(data.get("cachedAt")) or fetched_at,
    )


def daily_row(row: Any, url: str, index: int) -> dict[str, Any]:
    """The fields we keep of one daily row (also the legacy model page's `analytics` rows)."""
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
