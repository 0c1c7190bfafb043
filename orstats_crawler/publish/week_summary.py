"""The crawl's week (``summarize_week``): the leaderboard joined to the measured split over the
crawl's window, as ``model_weeks`` rows, what the quality gate reads and the records carry.

The week's rows also carry what their best estimate (formulas.py) needs beyond the items: a
measured row's previous 7 days from the same daily activity (week over week), an unmeasured row's
imputed cached share (cached_shares.py), and the coverage of the week's list-price spend the
measured splits guarantee: measured list spend / (measured list spend + the no-cache upper bound of
every priced row not measured), a lower bound of the true share whatever the unmeasured splits are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from orstats_crawler import pricing, weeks
from orstats_crawler.daily_split import week_split
from orstats_crawler.history.formulas import REVENUE_LIST, evaluate, guaranteed_share, upper_bounds
from orstats_crawler.history.monday_weeks import DAILY
from orstats_crawler.items import SPLIT, ActivityPlan, LeaderboardRow, ModelActivity
from orstats_crawler.publish.cached_shares import impute_cached_shares
from orstats_crawler.publish.crawl_items import CrawlItems
from orstats_crawler.sources.activity import SOURCE as ACTIVITY  # a row's split_source: the source of its split
from orstats_crawler.sources.rankings import LEADERBOARD


@dataclass
class WeekSummary:
    """The crawl's week as ``model_weeks`` rows, and how much of it has a measured split."""

    week_start: date | None
    week_end: date | None
    rows: list[dict[str, Any]]
    coverage: float | None  # share of the no-cache upper bound held by model-variants whose split is known
    token_coverage: float | None
    models_measured: int
    spend_coverage: float | None = None  # share of the list-price spend the measured splits guarantee
    cached_share_p10: float | None = None  # of the measured cached shares: an imputed row's band
    cached_share_p90: float | None = None


def summarize_week(items: CrawlItems) -> WeekSummary:
    """Join the leaderboard to the measured split over the crawl's window.

    A row whose token count is unknown stays in the week with unknown (None) tokens, split, spend
    and revenue, ranked after every row whose count is known; the coverages are shares of the rows
    whose count is known (the quality gate weighs the others on their own)."""
    window = weeks.crawl_window(
        (a.fetched_at.date() for a in items.activity if a.fetched_at),
        (row.last_day for row in items.leaderboard),
    )
    if window is None:
        return WeekSummary(None, None, [], None, None, 0)
    start, end = window
    activity = {(a.permaslug, a.variant): a for a in items.activity}
    ranked = sorted(items.leaderboard, key=lambda r: (r.total_tokens is None, -(r.total_tokens or 0), r.permaslug,
                                                      r.variant))
    rows = [week_row(rank, row, activity.get((row.permaslug, row.variant)), bound, start, end)
            for rank, (row, bound) in enumerate(zip(ranked, row_upper_bounds(ranked, items.plans)), start=1)]
    return with_coverages(WeekSummary(start, end, rows, None, None, 0))


def measured_split(row: LeaderboardRow, activity: ModelActivity | None, start: date,
                   end: date) -> tuple[str | None, dict[str, Any] | None]:
    """(split_source, split) of a ranked row: its daily activity summed over the week, else the
    split the leaderboard gave, else none (unknown)."""
    split = None
    if activity is not None and row.total_tokens is not None:
        split = week_split(activity.days, [d["date"] for d in activity.dropped_days], start, end, row.total_tokens)
    if split is not None:
        return ACTIVITY, split
    if row.cached_tokens is not None and row.reasoning_tokens is not None:
        return LEADERBOARD, {name: getattr(row, name) for name in (*SPLIT, "requests")}
    return None, None


def row_upper_bounds(rows: list[LeaderboardRow], plans: list[ActivityPlan]) -> list[float | None]:
    """Each row's no-cache upper bound of its list spend: the planner's, else (not a split candidate)
    the same bound from the row's own price."""
    planned = {(c["permaslug"], c["variant"]): c["upper_bound_usd"] for p in plans for c in p.candidates}
    bounds = [planned.get((row.permaslug, row.variant)) for row in rows]
    unplanned = [i for i, row in enumerate(rows) if bounds[i] is None and row.total_tokens is not None]
    own = upper_bounds((rows[i].prompt_tokens, rows[i].completion_tokens, own_price(rows[i])) for i in unplanned)
    for i, bound in zip(unplanned, own):
        bounds[i] = bound
    return bounds


def own_price(row: LeaderboardRow) -> pricing.ListPrice:
    """The list price the price pipeline gave the row."""
    return pricing.ListPrice(row.prompt_price, row.completion_price, row.cache_read_price, bool(row.is_free),
                             row.price_status or pricing.NO_PRICE.status)


def week_row(rank: int, row: LeaderboardRow, activity: ModelActivity | None, upper_bound: float | None,
             start: date, end: date) -> dict[str, Any]:
    """One ``model_weeks`` row (before the imputed cached share)."""
    source, split = measured_split(row, activity, start, end)
    measured = split or {}
    prompt = measured.get("prompt_tokens", row.prompt_tokens)
    completion = measured.get("completion_tokens", row.completion_tokens)
    return {
        "week_start": start.isoformat(), "week_end": end.isoformat(),
        "permaslug": row.permaslug, "variant": row.variant, "public_id": row.public_id,
        "name": row.name or row.permaslug, "rank": rank,
        "total_tokens": row.total_tokens if split is None else prompt + completion,
        "prompt_tokens": prompt, "completion_tokens": completion,
        "cached_tokens": measured.get("cached_tokens"), "reasoning_tokens": measured.get("reasoning_tokens"),
        "requests": measured.get("requests", row.requests),
        "change": row.change, "split_source": source,
        "leaderboard_prompt_tokens": row.prompt_tokens, "leaderboard_completion_tokens": row.completion_tokens,
        "prompt_price": row.prompt_price, "completion_price": row.completion_price,
        "cache_read_price": row.cache_read_price, "is_free": flag(row.is_free),
        "price_status": row.price_status, "upper_bound_usd": upper_bound,
        **(previous_week(activity, start) if source == ACTIVITY else NO_PREVIOUS),
    }


def with_coverages(summary: WeekSummary) -> WeekSummary:
    """The summary with its rows' imputed cached shares and the shares of the week that are measured."""
    rows = summary.rows
    measured = [r for r in rows if r["split_source"]]
    spend = sum(r["upper_bound_usd"] or 0.0 for r in rows)
    tokens = sum(r["total_tokens"] for r in rows if r["total_tokens"] is not None)
    summary.coverage = sum(r["upper_bound_usd"] or 0.0 for r in measured) / spend if spend else None
    summary.token_coverage = sum(r["total_tokens"] for r in measured) / tokens if tokens else None
    summary.models_measured = len(measured)
    summary.cached_share_p10, summary.cached_share_p90 = impute_cached_shares(rows)
    summary.spend_coverage = guaranteed_spend_coverage(rows)
    return summary


NO_PREVIOUS = {"previous_prompt_tokens": None, "previous_completion_tokens": None, "previous_cached_tokens": None,
               "previous_source": None}


def previous_week(activity: ModelActivity | None, week_start: date) -> dict[str, Any]:
    """A measured row's previous 7 days, from the same daily activity, when it has all 7 of them."""
    if activity is None:
        return NO_PREVIOUS
    first = week_start - weeks.WEEK
    days = [d for d in activity.days if first <= d["date"] < week_start]
    if len({d["date"] for d in days}) < 7:
        return NO_PREVIOUS
    return {"previous_prompt_tokens": sum(d["prompt_tokens"] for d in days),
            "previous_completion_tokens": sum(d["completion_tokens"] for d in days),
            "previous_cached_tokens": sum(d["cached_tokens"] for d in days), "previous_source": DAILY}


def guaranteed_spend_coverage(rows: list[dict[str, Any]]) -> float | None:
    """Measured list spend / (measured list spend + the upper bound of every priced unmeasured row)."""
    measured = [r for r in rows if r["split_source"]]
    spends = [usd for usd in evaluate(REVENUE_LIST, measured) if usd is not None]
    unmeasured = sum(r["upper_bound_usd"] or 0.0 for r in rows if not r["split_source"])
    return guaranteed_share(sum(spends), unmeasured)


def flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))
