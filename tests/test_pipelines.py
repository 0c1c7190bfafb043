"""Each pipeline on its own: what it does to an item, and what it counts in the crawler stats."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from scrapy.exceptions import DropItem

from orstats_crawler import pricing
from orstats_crawler.items import ChartWeek, LeaderboardRow, ModelActivity, ModelPrice
from orstats_crawler.history.formulas import upper_bound_usd
from orstats_crawler.pipelines import NormalizePipeline, PricePipeline, ValidatePipeline
from orstats_crawler.spiders.rankings import RankingsSpider
from tests.conftest import project_crawler

URL = "https://openrouter.ai/api/frontend/v1/stats/model-activity?permaslug=a%2Fb&variant=standard"


@pytest.fixture
def crawler(tmp_path):
    return project_crawler(tmp_path)


def stats(crawler) -> dict:
    return crawler.stats.get_stats()


def day(d: str, prompt=100, completion=10, cached=50, reasoning=5) -> dict:
    return {"date": f"{d} 00:00:00", "prompt_tokens": prompt, "completion_tokens": completion,
            "cached_tokens": cached, "reasoning_tokens": reasoning, "requests": 3, "tool_calls": None}


def activity(*days, fetched="2026-08-08") -> ModelActivity:
    return ModelActivity("a/b", "standard", list(days), URL,
                         fetched_at=datetime.fromisoformat(fetched + "T06:00:00+00:00"))


def row(**fields) -> LeaderboardRow:
    values = {"permaslug": "a/b-2026", "variant": "standard", "prompt_tokens": "1000",
              "completion_tokens": 100.0, "source_url": "https://x/lb", "era": "current",
              "last_day": "2026-08-07 00:00:00"}
    return LeaderboardRow(**{**values, **fields})


# --- normalize ---------------------------------------------------------------------------------

def test_normalize_activity_drops_todays_partial_day_and_types_days(crawler):
    item = NormalizePipeline(crawler).process_item(activity(day("2026-08-08"), day("2026-08-07"), day("2026-08-06")))
    assert [d["date"] for d in item.days] == [date(2026, 8, 6), date(2026, 8, 7)]
    assert item.dropped_partial_day == date(2026, 8, 8)
    assert stats(crawler)["orstats/normalize/activity/partial_days_dropped"] == 1
    assert stats(crawler)["orstats/normalize/items/ModelActivity"] == 1


def test_normalize_activity_with_only_the_partial_day_is_empty_not_zero(crawler):
    item = NormalizePipeline(crawler).process_item(activity(day("2026-08-08")))
    assert item.days == []
    assert stats(crawler)["orstats/normalize/activity/empty"] == 1


def problems(item) -> list[tuple[str, str]]:
    """(field, message) of the problems a pipeline kept with the item."""
    return [(p["field"], p["message"]) for p in item.problems]


def test_normalize_activity_bad_count_drops_that_day_only_naming_day_field_and_value(crawler):
    item = NormalizePipeline(crawler).process_item(
        activity(day("2026-08-07", prompt="lots"), day("2026-08-06"), day("2026-08-05", completion=-5)))
    assert [d["date"] for d in item.days] == [date(2026, 8, 6)]
    assert problems(item) == [("total_prompt_tokens", "day 2026-08-07: 'lots' is not a count: day dropped"),
                              ("total_completion_tokens", "day 2026-08-05: -5 is negative: day dropped")]
    assert [d["date"] for d in item.dropped_days] == [date(2026, 8, 7), date(2026, 8, 5)]
    assert all(p["url"] == URL and p["source"] == "activity" and p["permaslug"] == "a/b" for p in item.problems)
    assert stats(crawler)["orstats/normalize/activity/days_dropped"] == 2


def test_normalize_activity_optional_count_that_is_not_one_is_unknown_and_the_day_stays(crawler):
    item = NormalizePipeline(crawler).process_item(activity({**day("2026-08-07"), "tool_calls": 10**30}))
    assert item.days[0]["tool_calls"] is None and item.days[0]["prompt_tokens"] == 100
    assert problems(item) == [("total_tool_calls", f"day 2026-08-07: {10**30!r} is beyond SQLite's integer range; "
                                                   "treated as unknown")]


def test_no_activity_day_after_the_crawls_own_day(crawler):
    crawler.stats.set_value("start_time", datetime(2026, 8, 8, 6, 0, tzinfo=timezone.utc))
    item = NormalizePipeline(crawler).process_item(activity(day("2027-02-27"), day("2026-08-08"), day("2026-08-07")))
    assert item.dropped_partial_day == date(2026, 8, 8) and [d["date"] for d in item.days] == [date(2026, 8, 7)]
    assert problems(item) == [("date", "day 2027-02-27 is after the crawl's day 2026-08-08: day dropped")]
    assert item.dropped_days == []  # outside any week the crawl can have


def test_an_answer_whose_clock_is_after_the_crawls_day_gives_no_split(crawler):
    crawler.stats.set_value("start_time", datetime(2026, 8, 8, 6, 0, tzinfo=timezone.utc))
    item = NormalizePipeline(crawler).process_item(activity(day("2026-08-08"), day("2026-08-07"), fetched="2027-02-28"))
    assert item.fetched_at is None and item.days == []  # nor does its clock choose the crawl's week
    assert problems(item) == [("data.cachedAt", "2027-02-28T06:00:00+00:00 is after the crawl's day 2026-08-08: the "
                                                "answer's partial day is unknown, its split is not used")]


def test_normalize_leaderboard_row_types(crawler):
    item = NormalizePipeline(crawler).process_item(row(requests="12", change="oops"))
    assert (item.prompt_tokens, item.completion_tokens, item.requests) == (1000, 100, 12)
    assert item.last_day == date(2026, 8, 7) and item.change is None
    assert problems(item) == [("change", "'oops' is not a number; treated as unknown")]


@pytest.mark.parametrize("value, why", [
    ("1e30", "'1e30' is not a count"), ("NaN", "'NaN' is not a count"), (float("nan"), "nan is not a count"),
    (1e30, "1e+30 is beyond SQLite's integer range"), (10**30, f"{10**30} is beyond SQLite's integer range"),
    (-5, "-5 is negative"), ("-5", "'-5' is negative"), (2.5, "2.5 is not a count"), (True, "True is not a count"),
    (None, "None is not a count"),
])
def test_a_leaderboard_row_whose_count_is_not_one_stays_with_unknown_tokens(crawler, value, why):
    item = NormalizePipeline(crawler).process_item(row(completion_tokens=value, cached_tokens=5, reasoning_tokens=1))
    assert item.prompt_tokens is item.completion_tokens is item.total_tokens is None
    assert item.cached_tokens is item.reasoning_tokens is None  # the row's other counts are not trusted either
    assert problems(item) == [("total_completion_tokens", f"{why}: tokens and revenue of a/b-2026:standard unknown")]
    assert item.problems[0]["url"] == "https://x/lb" and item.problems[0]["source"] == "leaderboard"
    assert stats(crawler)["orstats/normalize/leaderboard/unknown_tokens"] == 1
    item = ValidatePipeline(crawler).process_item(item)  # and the next pipelines keep it
    assert PricePipeline(crawler).process_item(item) is item


def test_a_leaderboard_date_after_the_crawls_day_is_unknown(crawler):
    crawler.stats.set_value("start_time", datetime(2026, 8, 8, 6, 0, tzinfo=timezone.utc))
    item = NormalizePipeline(crawler).process_item(row(last_day="2027-02-28 00:00:00"))
    assert item.last_day is None
    assert problems(item) == [("date", "2027-02-28 is after the crawl's day 2026-08-08; treated as unknown")]


def test_chart_week_values_that_are_not_counts_drop_the_week(crawler):
    week = ChartWeek("2026-08-03", {"a/b": float("inf")}, "https://x/chart", "current")
    with pytest.raises(DropItem, match="inf is not a count"):
        NormalizePipeline(crawler).process_item(week)
    crawler.stats.set_value("start_time", datetime(2026, 8, 8, tzinfo=timezone.utc))
    with pytest.raises(DropItem, match="week 2027-02-22: after the crawl's day 2026-08-08"):
        NormalizePipeline(crawler).process_item(ChartWeek("2027-02-22", {"a/b": 1.4}, "https://x/chart", "current"))
    kept = NormalizePipeline(crawler).process_item(ChartWeek("2026-08-03", {"a/b": 1.6}, "https://x/chart", "current"))
    assert kept.values == {"a/b": 2}


# --- validate ----------------------------------------------------------------------------------

def test_validate_drops_the_day_whose_cached_tokens_exceed_its_prompt_tokens(crawler):
    item = NormalizePipeline(crawler).process_item(activity(day("2026-08-07", cached=101), day("2026-08-06")))
    item = ValidatePipeline(crawler).process_item(item)
    assert [d["date"] for d in item.days] == [date(2026, 8, 6)]
    assert problems(item) == [("total_native_tokens_cached",
                               "day 2026-08-07: cached_tokens 101 > prompt_tokens 100: day dropped")]
    assert item.dropped_days == [{"date": date(2026, 8, 7),
                                  "why": "total_native_tokens_cached: cached_tokens 101 > prompt_tokens 100"}]
    assert stats(crawler)["orstats/validate/activity/days_dropped"] == 1


def test_validate_keeps_a_day_whose_reasoning_exceeds_its_completion_and_counts_it(crawler):
    """Reasoning tokens enter no revenue formula, and the site reports such days (46 on 2026-08-08)."""
    item = NormalizePipeline(crawler).process_item(activity(day("2026-08-07", reasoning=11)))
    assert ValidatePipeline(crawler).process_item(item).days[0]["reasoning_tokens"] == 11
    assert item.problems == [] and item.dropped_days == []
    assert stats(crawler)["orstats/validate/activity/reasoning_above_completion"] == 1


def test_validate_keeps_good_split(crawler):
    good = NormalizePipeline(crawler).process_item(activity(day("2026-08-07", cached=100, reasoning=10)))
    assert ValidatePipeline(crawler).process_item(good) is good
    assert good.problems == []
    assert stats(crawler)["orstats/validate/activity/valid"] == 1


def test_validate_leaderboard_forgets_an_impossible_split_but_keeps_the_volume(crawler):
    item = NormalizePipeline(crawler).process_item(row(cached_tokens=5000, reasoning_tokens=1))
    item = ValidatePipeline(crawler).process_item(item)
    assert item.cached_tokens is None and item.prompt_tokens == 1000
    assert problems(item) == [("total_native_tokens_cached",
                               "cached_tokens 5000 > prompt_tokens 1000; split treated as unknown")]
    assert stats(crawler)["orstats/validate/leaderboard/invalid_split"] == 1


# --- price -------------------------------------------------------------------------------------

def price(public_id: str, slug: str, variant: str, **prices) -> ModelPrice:
    return ModelPrice(public_id, slug, variant, f"Lab: {public_id}", prices, "https://openrouter.ai/api/v1/models")


def test_price_join_on_slug_and_variant(crawler):
    """The spider gives each released row its catalogue entry; the pipeline prices the row from it."""
    spider = RankingsSpider()
    pipe = PricePipeline(crawler)

    def priced(leaderboard_row: LeaderboardRow) -> LeaderboardRow:
        return pipe.process_item(spider.catalogue.attach(leaderboard_row))

    for item in (
        price("lab/m", "a/b-2026", "standard", prompt="0.000003", completion="0.000015", input_cache_read="0.0000003"),
        price("lab/m:batch", "a/b-2026", "batch", prompt="0.0000015", completion="0.0000075"),
        price("lab/m:free", "a/b-2026", "free", prompt="0.000003", completion="0.000015"),
        price("openrouter/auto", "openrouter/auto", "standard", prompt="-1", completion="-1"),
    ):
        assert spider.catalogue.add(item)  # what the spider does as the catalogue arrives
        pipe.process_item(item)
    assert not spider.catalogue.add(price("lab/m", "a/b-2026", "standard", prompt="1", completion="1"))
    standard = priced(row())
    assert (standard.prompt_price, standard.completion_price, standard.cache_read_price) == (3e-06, 1.5e-05, 3e-07)
    assert standard.name == "lab/m" and standard.public_id == "lab/m" and standard.price_status == "listed"
    batch = priced(row(variant="batch"))
    # :batch has its own price; no input_cache_read listed, so cached tokens cost the prompt price.
    assert (batch.prompt_price, batch.completion_price, batch.cache_read_price) == (1.5e-06, 7.5e-06, 1.5e-06)
    free = priced(row(variant="free"))
    assert free.is_free and free.prompt_price == 0 and free.public_id == "lab/m:free"
    router = priced(row(permaslug="openrouter/auto"))
    assert router.prompt_price is None and router.price_status == "invalid"
    unknown = priced(row(variant="thinking"))
    assert unknown.prompt_price is None and unknown.price_status == "missing" and unknown.name == "lab/m"
    gone_free = priced(row(permaslug="x/y", variant="free"))
    assert gone_free.is_free and gone_free.name == "x/y"
    counted = stats(crawler)
    assert counted["orstats/price/invalid"] == 2  # prompt and completion of the router
    assert counted["orstats/price/rows/listed"] == 2 and counted["orstats/price/rows/free"] == 2
    assert counted["orstats/price/rows/missing"] == 1 and counted["orstats/price/rows/invalid"] == 1


@pytest.mark.parametrize("pricing_dict, variant, expected", [
    ({"prompt": "0.000001", "completion": "0.000002"}, "standard", (1e-06, 2e-06, 1e-06, False, "listed")),
    ({"prompt": "0.000001"}, "standard", (1e-06, 0.0, 1e-06, False, "listed")),  # absent key = 0 (since 2026)
    ({"prompt": "0", "completion": "0"}, "standard", (0.0, 0.0, 0.0, True, "free")),
    ({"prompt": "-1", "completion": "-1"}, "standard", (None, None, None, False, "invalid")),
    ({"prompt": "abc", "completion": "0.1"}, "standard", (None, None, None, False, "invalid")),
    ({}, "standard", (None, None, None, False, "invalid")),
    ({"prompt": "0.000003", "completion": "0.000015"}, "free", (0.0, 0.0, 0.0, True, "free")),
    ({"prompt": "0.000001", "completion": "0.000002", "input_cache_read": "-1"}, "standard",
     (1e-06, 2e-06, 1e-06, False, "listed")),
])
def test_list_price_rules(pricing_dict, variant, expected):
    price = pricing.list_price(pricing_dict, variant)
    assert (price.prompt, price.completion, price.cache_read, price.is_free, price.status) == expected


def test_upper_bound_and_display_name():
    price = pricing.list_price({"prompt": "0.000003", "completion": "0.000015"}, "standard")
    assert upper_bound_usd(1_000_000, 100_000, price) == pytest.approx(4.5)
    assert upper_bound_usd(1, 1, pricing.NO_PRICE) is None
    assert upper_bound_usd(1_000_000, 100_000, pricing.FREE) == 0.0
    assert pricing.display_name("Anthropic: Claude Sonnet 4.6", "x") == "Claude Sonnet 4.6"
    assert pricing.display_name(None, "a/b") == "a/b"


def test_catalogue_prefers_the_text_catalogue_whichever_answers_first():
    text = price("lab/m", "a/b-2026", "standard", prompt="0.000003", completion="0.000015")
    media = replace(text, name="Lab: renamed in the other catalogue", pricing={"prompt": "1", "completion": "1"},
                    precedence=1)
    for order in ((media, text), (text, media)):
        catalogue = pricing.PriceCatalogue()
        stored = [catalogue.add(entry) for entry in order]
        assert stored == ([True, True] if order[0] is media else [True, False])
        assert catalogue.entry_for("a/b-2026", "standard").name == text.name
        assert catalogue.price_for("a/b-2026", "standard").prompt == 3e-06
