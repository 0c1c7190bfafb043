"""Decode the legacy era's server-rendered pages (flight data, see ``sources.flight``).

- `/rankings`: the weekly leaderboard (`rankingData`, rows in the JSON endpoint's shape, with a
  non-zero cached/reasoning split) and the 52-week top-model chart -> ``LeaderboardRow`` (era
  `legacy`) and ``ChartWeek`` items, through the same row and week decoders as the JSON endpoints.
- a model page, `/<public id>`: `{"model": {...}, "analytics": [daily rows]}` with the
  model-activity row schema (about 90 days, today's partial day included) -> ``ModelActivity``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from orstats_crawler.items import ChartWeek, LeaderboardRow, ModelActivity, SourceProblem
from orstats_crawler.sources import IDENTITY, SourceError
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.activity import model_activity
from orstats_crawler.sources.flight import FlightData
from orstats_crawler.sources.rankings import CHART, LEADERBOARD, chart_weeks, leaderboard_rows

ERA = "legacy"
RANKINGS_PAGE_PATH = "/rankings"


def decode_rankings_page(body: bytes | str, url: str,
                         fetched_at: datetime | None = None) -> Iterator[LeaderboardRow | ChartWeek | SourceProblem]:
    """The page's leaderboard rows, then its finished and partial chart weeks (the store keeps the
    finished ones). No leaderboard is a SourceError; no chart is a SourceProblem (the rows still count)."""
    flight = FlightData.from_html(body, LEADERBOARD, url)
    boards = flight.leaderboards()
    if not boards:
        raise SourceError(LEADERBOARD, url, "rankingData",
                          "no leaderboard rows (objects with model_permaslug) in the page")
    # One leaderboard is rendered (the week); should a page hold several, the longest is the full one.
    yield from leaderboard_rows(max(boards, key=len), url, era=ERA)
    chart = flight.weekly_model_chart()
    if chart is None:
        yield SourceProblem(source=CHART, url=url, field="data",
                            message="no weekly model chart (Monday x/ys series with forecast or 52 weeks) in the page")
        return
    yield from chart_weeks(chart.points, url, era=ERA, fetched_at=fetched_at)


def decode_model_page(body: bytes | str, url: str, permaslug: str, variant: str,
                      fetched_at: datetime | None = None) -> ModelActivity:
    """The daily split of one model-variant from its legacy model page (it stands in for the
    model-activity endpoint, so its problems are that source's)."""
    blocks = FlightData.from_html(body, ACTIVITY, url).daily_analytics()
    if not blocks:
        raise SourceError(ACTIVITY, url, "analytics", "no `model` + `analytics` block in the page")
    rows = []
    for model, analytics in blocks:
        page_slug = model.get("permaslug")
        if page_slug is not None and page_slug != permaslug:
            continue  # another model's block (a related-models panel, say)
        rows.extend(r for r in analytics if _belongs(r, permaslug, variant))
    if not rows and all(model.get("permaslug") not in (None, permaslug) for model, _ in blocks):
        found = sorted({str(model.get("permaslug")) for model, _ in blocks})
        raise SourceError(ACTIVITY, url, "model.permaslug", f"page is about {', '.join(found)}, not {permaslug}",
                          kind=IDENTITY)
    return model_activity(rows, url, permaslug, variant, fetched_at)


def model_page_path(permaslug: str, variant: str, public_id: str | None) -> str:
    """Where a model-variant's legacy page lives: `/<public id>`; without a catalogue entry, the
    permaslug (which the site served the same page under), with its variant suffix."""
    if public_id:
        return "/" + public_id
    return "/" + permaslug + ("" if variant == "standard" else f":{variant}")


def _belongs(row: Any, permaslug: str, variant: str) -> bool:
    """A page may list several variants' rows; rows that do not say which are the page's own."""
    if not isinstance(row, dict):
        return True  # daily_row reports the malformed row
    return (row.get("model_permaslug", permaslug) == permaslug
            and (row.get("variant") or "standard") == variant)
