"""A split's days (daily_split.py): the rules a day must pass, the week's sum, and the split planner
agreeing with the stored week: the coverage it stops at is the coverage the crawl stores."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from orstats_crawler import pricing
from orstats_crawler.daily_split import usable_days, week_split
from orstats_crawler.history.formulas import REVENUE_LIST, evaluate
from orstats_crawler.items import LeaderboardRow, ModelActivity
from orstats_crawler.pipelines import NormalizePipeline, ValidatePipeline
from orstats_crawler.publish.crawl_items import CrawlItems
from orstats_crawler.publish.week_summary import summarize_week
from orstats_crawler.selection import measured_list_spend
from tests.conftest import project_crawler

FETCHED = datetime(2026, 8, 8, 6, 0, tzinfo=timezone.utc)  # the source's partial day: 2026-08-08
START, END = date(2026, 8, 1), date(2026, 8, 7)  # the crawl's week
PRICE = pricing.list_price({"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.0000003"},
                           "standard")


def raw_day(day: date, prompt=1000, completion=100, cached=400, reasoning=10) -> dict:
    return {"date": f"{day.isoformat()} 00:00:00", "prompt_tokens": prompt, "completion_tokens": completion,
            "cached_tokens": cached, "reasoning_tokens": reasoning, "requests": 3, "tool_calls": None}


def answer(*days: dict) -> list[dict]:
    """An activity answer: the given days and the source's partial day (dropped by the pipelines)."""
    return [raw_day(FETCHED.date()), *days]


def week(changed: dict[int, dict | None] | None = None) -> list[dict]:
    """The week's 7 days, day offset -> fields replaced (None: the day is absent)."""
    changed = changed or {}
    days = []
    for offset in range(7):
        if offset in changed and changed[offset] is None:
            continue
        days.append({**raw_day(START + timedelta(days=offset)), **changed.get(offset, {})})
    return days


def validated(folder: Path, variant: str, raw_days: list[dict]) -> ModelActivity:
    """An activity answer after the pipelines."""
    crawler = project_crawler(folder)
    crawler.stats.set_value("start_time", FETCHED)
    item = ModelActivity("lab/m-2026", variant, [dict(d) for d in raw_days], "https://x/activity", fetched_at=FETCHED)
    for pipeline in (NormalizePipeline(crawler), ValidatePipeline(crawler)):
        item = pipeline.process_item(item)
    return item


def leaderboard_row(variant: str, prompt: int = 7000, completion: int = 700) -> LeaderboardRow:
    """The model-variant on the leaderboard (by default, the tokens of the whole week of ``week()``)."""
    return LeaderboardRow("lab/m-2026", variant, prompt, completion, "https://x/lb", "current", last_day=END,
                          prompt_price=PRICE.prompt, completion_price=PRICE.completion,
                          cache_read_price=PRICE.cache_read, is_free=False, price_status="listed")


def stored_week(folder: Path, raw_days: list[dict], prompt: int = 7000, completion: int = 700) -> dict:
    """The week's row as a crawl stores it: the answer through the pipelines, then the week summary
    (beside another variant of the same model, measured over the whole week: its kin)."""
    kin_days = answer(*week({offset: {"cached_tokens": 100} for offset in range(7)}))
    items = CrawlItems(leaderboard=[leaderboard_row("standard", prompt, completion), leaderboard_row("kin")],
                       activity=[validated(folder, "standard", raw_days), validated(folder, "kin", kin_days)])
    return next(row for row in summarize_week(items).rows if row["variant"] == "standard")


def planned_spend(raw_days: list[dict], week_tokens: int = 7700) -> float | None:
    """The list spend the split planner counts for the same answer (and leaderboard tokens)."""
    return measured_list_spend(raw_days, FETCHED, PRICE, week_tokens)


def test_a_complete_week_is_measured_alike_by_the_planner_and_the_stored_week(tmp_path):
    row = stored_week(tmp_path, answer(*week()))
    assert row["split_source"] == "activity"
    assert (row["prompt_tokens"], row["cached_tokens"], row["completion_tokens"]) == (7000, 2800, 700)
    [stored_spend] = evaluate(REVENUE_LIST, [row])
    assert planned_spend(answer(*week())) == stored_spend == pytest.approx(4200 * 3e-6 + 2800 * 3e-7 + 700 * 15e-6)


@pytest.mark.parametrize("days, why", [
    (week({3: {"prompt_tokens": "lots"}}), "a count that is not one"),
    (week({3: {"date": "yesterday"}}), "a date that is not one"),
    (week({3: {"cached_tokens": 5000}}), "cached above prompt"),
    (week({3: None}), "a day absent from the answer while the leaderboard counts its tokens"),
    (week({0: None, 1: None, 2: None, 3: None, 4: None, 5: None}), "6 of 7 days absent"),
])
def test_a_week_missing_a_day_is_unknown_for_the_planner_as_for_the_stored_week(tmp_path, days, why):
    row = stored_week(tmp_path, answer(*days))
    assert row["split_source"] is None and row["cached_tokens"] is None, why
    assert (row["cached_share_imputed"], row["cached_share_from"]) == (0.1, "model")  # its kin's share, not 0
    assert planned_spend(answer(*days)) is None, why


def test_days_without_traffic_are_absent_from_the_answer_and_the_split_is_whole(tmp_path):
    """A model launched on the week's fourth day: the leaderboard counts the tokens of its four days."""
    launched = week({0: None, 1: None, 2: None})
    row = stored_week(tmp_path, answer(*launched), prompt=4000, completion=400)
    assert row["split_source"] == "activity" and row["prompt_tokens"] == 4000
    [stored_spend] = evaluate(REVENUE_LIST, [row])
    assert planned_spend(answer(*launched), week_tokens=4400) == stored_spend


def test_days_outside_the_week_change_nothing(tmp_path):
    days = [*week(), raw_day(START - timedelta(days=1), prompt="lots")]
    assert stored_week(tmp_path, answer(*days))["split_source"] == "activity"
    assert planned_spend(answer(*days)) == planned_spend(answer(*week()))


def test_week_split_sums_only_a_whole_week():
    days, dropped = usable_days(week())
    assert dropped == []
    assert week_split(days, dropped, START, END, 7700) == {
        "prompt_tokens": 7000, "completion_tokens": 700, "cached_tokens": 2800, "reasoning_tokens": 70, "requests": 21}
    assert week_split(days, dropped, START, END, None) is not None  # every day there: the leaderboard not needed
    assert week_split(days[1:], [], START, END, 7700) is None  # six days of seven, the seventh had traffic
    assert week_split(days[1:], [], START, END, 6600) is not None  # ... or it had none
    assert week_split(days, [None], START, END, 7700) is None  # a dropped day of unknown date could be any
    assert week_split(days, [START - timedelta(days=1)], START, END, 7700) is not None
    assert week_split([], [], START, END, 0) is None  # nothing in the week: unknown, not 0
    assert week_split([{**d, "requests": None} if i == 2 else d for i, d in enumerate(days)], [], START,
                      END, 7700)["requests"] is None
