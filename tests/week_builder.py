"""Small week summaries and crawl items for the quality gate's checks, one field at a time: a row of
the week as ``summarize_week`` leaves it (``model_weeks`` columns), the summary around rows, and the
items a check reads (catalogue entries, chart weeks, splits, effective prices, problems)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from orstats_crawler.items import ActivityPlan, ChartWeek, EffectivePrice, LeaderboardRow, ModelActivity, ModelPrice
from orstats_crawler.items import SourceProblem
from orstats_crawler.publish.week_summary import WeekSummary

WEEK_START, WEEK_END = date(2026, 2, 2), date(2026, 2, 8)
COMPUTED = datetime(2026, 2, 9, 6, tzinfo=timezone.utc)
SITE = "https://openrouter.ai"
CATALOGUE_URL = f"{SITE}/api/v1/models"
LEADERBOARD_URL = f"{SITE}/api/frontend/v1/rankings/models?view=week"
CHART_URL = f"{SITE}/api/frontend/v1/rankings/model-rankings-chart"


def row(permaslug: str = "a/b", **fields: Any) -> dict[str, Any]:
    """A measured, list-priced row of the week: 1,000 prompt (100 cached) + 500 completion tokens,
    the leaderboard agreeing with the split; ``fields`` override any column."""
    values = {
        "permaslug": permaslug, "variant": "standard", "week_start": WEEK_START.isoformat(),
        "week_end": WEEK_END.isoformat(), "prompt_tokens": 1000, "completion_tokens": 500, "cached_tokens": 100,
        "reasoning_tokens": 50, "total_tokens": 1500, "leaderboard_prompt_tokens": 1000,
        "leaderboard_completion_tokens": 500, "split_source": "activity", "is_free": False,
        "prompt_price": 1e-6, "completion_price": 4e-6, "price_status": "listed", "upper_bound_usd": 0.003,
        "cached_share_imputed": None,
    }
    return {**values, **fields}


def unmeasured(permaslug: str, **fields: Any) -> dict[str, Any]:
    """A row whose split was not measured: the leaderboard's tokens only."""
    return row(permaslug, split_source=None, cached_tokens=None, reasoning_tokens=None, **fields)


def summary(*rows: dict[str, Any], spend_coverage: float | None = 1.0, token_coverage: float | None = 1.0,
            week: tuple[date, date] | None = (WEEK_START, WEEK_END)) -> WeekSummary:
    start, end = week or (None, None)
    measured = sum(1 for r in rows if r["split_source"])
    return WeekSummary(start, end, list(rows), spend_coverage, token_coverage, measured, spend_coverage=spend_coverage)


def catalogue_entry(public_id: str, prompt: float | None = 1e-6, completion: float | None = 4e-6,
                    cache_read: float | None = None, variant: str = "standard") -> ModelPrice:
    pricing = {"prompt": str(prompt), "completion": str(completion)}
    return ModelPrice(public_id, f"{public_id}-2026", variant, public_id, pricing, CATALOGUE_URL,
                      prompt_price=prompt, completion_price=completion, cache_read_price=cache_read,
                      is_free=prompt == completion == 0)


def leaderboard_row(permaslug: str, prompt: int = 1000, completion: int = 500, duplicates: int = 0) -> LeaderboardRow:
    return LeaderboardRow(permaslug, "standard", prompt, completion, LEADERBOARD_URL, "current", last_day=WEEK_END,
                          duplicates=duplicates)


def chart_week(week_start: date, values: dict[str, int]) -> ChartWeek:
    """A week of the chart; keys are model-variant ids (``a/b``), ``Others`` the rest."""
    return ChartWeek(week_start, dict(values), CHART_URL, "current", COMPUTED)


def split(permaslug: str, days: int = 7, duplicate_days: int = 0) -> ModelActivity:
    rows = [{"date": f"2026-02-0{2 + i}", "prompt_tokens": 100, "completion_tokens": 50} for i in range(days)]
    return ModelActivity(permaslug, "standard", rows, f"{SITE}/api/frontend/v1/stats/model-activity?{permaslug}",
                         COMPUTED, duplicate_days=duplicate_days)


def effective(permaslug: str, input_price: float | None = 1e-6) -> EffectivePrice:
    return EffectivePrice(permaslug, "standard", input_price, 4e-6 if input_price is not None else None, 0.1, 2,
                          10**6, "priced" if input_price is not None else "no_data",
                          f"{SITE}/api/frontend/v1/stats/effective-pricing?{permaslug}", COMPUTED)


def plan(*selected: str) -> ActivityPlan:
    candidates = [{"permaslug": permaslug, "variant": "standard", "upper_bound_usd": 1.0, "selected": True}
                  for permaslug in selected]
    return ActivityPlan("coverage:0.95", candidates, float(len(selected)), 1.0)


def problem(source: str, url: str, field: str | None, message: str, kind: str | None = None) -> SourceProblem:
    return SourceProblem(source, url, field, message, extra={"kind": kind} if kind else {})
