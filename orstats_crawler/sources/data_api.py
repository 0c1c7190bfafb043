"""The official Data API, /api/v1/datasets/rankings-daily (needs a key; docs/SOURCES.md section 6): which
day windows to ask for, and the decoder of its answers.

`{"data": [{"date", "model_permaslug", "total_tokens": "<digits>"}, ...], "meta": {"as_of",
"start_date", "end_date", "version"}}`: up to 50 model-variants per day plus one `other` row.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterator

from orstats_crawler import normalize
from orstats_crawler.items import RankingsDaily
from orstats_crawler.sources import SourceError, envelope, load_json, require, rows_of

SOURCE = "data_api"
PATH = "/api/v1/datasets/rankings-daily"
OTHER = "other"  # the reserved key of the day's long tail


def windows(settings: Any, today: date) -> Iterator[tuple[date, date]]:
    """(start_date, end_date) windows, newest first, from ORSTATS_DATA_API_START to the last complete
    UTC day, each at most ORSTATS_DATA_API_WINDOW_DAYS long. Newest first: a spent budget or quota
    loses the oldest days, which the next crawl asks for again."""
    first = date.fromisoformat(settings.get("ORSTATS_DATA_API_START"))
    span = timedelta(days=max(1, settings.getint("ORSTATS_DATA_API_WINDOW_DAYS")) - 1)
    end = today - timedelta(days=1)
    while end >= first:
        start = max(first, end - span)
        yield start, end
        end = start - timedelta(days=1)


def decode_rankings_daily(body: bytes | str, url: str) -> RankingsDaily:
    payload = load_json(body, SOURCE, url)
    rows = rows_of(envelope(payload, SOURCE, url, "data"), SOURCE, url, "data")
    meta = envelope(payload, SOURCE, url, "meta")
    if not isinstance(meta, dict):
        raise SourceError(SOURCE, url, "meta", "expected an object")
    return RankingsDaily(
        rows=[_row(row, url, index) for index, row in enumerate(rows)],
        as_of=str(require(meta, "as_of", SOURCE, url, " in meta")),
        start_date=str(require(meta, "start_date", SOURCE, url, " in meta")),
        end_date=str(require(meta, "end_date", SOURCE, url, " in meta")),
        source_url=url,
    )


def _row(row: Any, url: str, index: int) -> dict[str, Any]:
    where = f" in data[{index}]"
    if not isinstance(row, dict):
        raise SourceError(SOURCE, url, f"data[{index}]", "expected an object")
    try:
        day = normalize.utc_day(require(row, "date", SOURCE, url, where))
    except ValueError as exc:
        raise SourceError(SOURCE, url, f"data[{index}].date", str(exc)) from None
    try:
        tokens = normalize.count(require(row, "total_tokens", SOURCE, url, where))
    except ValueError as exc:
        raise SourceError(SOURCE, url, f"data[{index}].total_tokens", str(exc)) from None
    return {"day": day, "key": str(require(row, "model_permaslug", SOURCE, url, where)), "total_tokens": tokens}
