"""Each check of the quality gate called on its own, on a small week summary and crawl items built
here (tests/week_builder.py): every result it can give (pass, flag, fail, skip) and its message.
Whole crawls through the gate (the stored verdict, the exit codes) are in tests/test_quality.py."""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

import pytest
from sqlite_utils import Database

from orstats_crawler.publish import quality
from orstats_crawler.publish.crawl_items import CrawlItems
from tests.week_builder import (CATALOGUE_URL, LEADERBOARD_URL, catalogue_entry, chart_week, effective,
                                leaderboard_row, plan, problem, row, split, summary, unmeasured)


def checked(check: Callable[..., None], *args: Any) -> tuple[str, str]:
    """(result, message) of the one check ``check(verdict, *args)`` adds."""
    verdict = quality.Verdict()
    check(verdict, *args)
    [added] = verdict.checks
    return added["result"], added["message"]


# --- structure ----------------------------------------------------------------------------------

def test_crawl_finished_fails_a_crawl_closed_early():
    assert checked(quality.check_finished, "finished") == ("pass", "the crawl ran to its end")
    assert checked(quality.check_finished, None) == ("pass", "the crawl ran to its end")
    assert checked(quality.check_finished, "closespider_timeout") == (
        "fail", "the crawl was closed early (closespider_timeout): its week may be partial")


def source_checks(items: CrawlItems) -> dict[str, tuple[str, str]]:
    verdict = quality.Verdict()
    quality.check_sources(verdict, items)
    return {c["name"]: (c["result"], c["message"]) for c in verdict.checks}


def test_sources_pass_fail_when_a_required_one_gave_nothing_and_flag_a_partial_one():
    items = CrawlItems(prices=[catalogue_entry("a/b")], leaderboard=[leaderboard_row("a/b")],
                       activity=[split("a/b")], plans=[plan("a/b")])
    assert source_checks(items) == {
        "structure_prices": ("pass", "prices: 1 usable items"),
        "structure_leaderboard": ("pass", "leaderboard: 1 usable items"),
        "structure_chart": ("pass", "chart: nothing received"),  # optional: nothing is not a failure
        "structure_activity": ("pass", "activity: 1 usable items"),
    }
    bad_catalogue = problem("prices", CATALOGUE_URL, "data", "not a list")
    items.prices, items.problems = [], [bad_catalogue, bad_catalogue]
    assert source_checks(items)["structure_prices"] == (
        "fail", f"prices: nothing usable, 2 problems: {CATALOGUE_URL} field 'data': not a list (and 1 more URLs)")
    items.prices = [catalogue_entry("a/b")]
    assert source_checks(items)["structure_prices"] == (
        "flag", f"prices: 1 usable items, 2 problems: {CATALOGUE_URL} field 'data': not a list (and 1 more URLs)")


def test_sources_count_unanswered_and_empty_splits_and_fail_on_the_spiders_own_error():
    # Three splits asked: one answered with days, one with no complete day, one never answered.
    items = CrawlItems(prices=[catalogue_entry("a/b")], leaderboard=[leaderboard_row("a/b")],
                       activity=[split("a/b"), split("c/d", days=0)], plans=[plan("a/b", "c/d", "e/f")])
    result, message = source_checks(items)["structure_activity"]
    assert result == "flag"
    assert message == (f"activity: 1 usable items, 1 problems: {split('c/d').source_url} field 'data.analytics': "
                       "no complete day in the answer; 1 of the 3 split requests never answered")
    items.problems = [problem("spider", LEADERBOARD_URL, None, "KeyError: 'data'")]
    assert source_checks(items)["structure_spider"] == (
        "fail", f"spider: nothing usable, 1 problems: {LEADERBOARD_URL} KeyError: 'data'")


def test_a_problem_list_names_five_kinds_and_counts_the_rest():
    problems = [problem("prices", f"{CATALOGUE_URL}?{i}", f"field{i}", "bad") for i in range(7)]
    described = quality.describe_problems(problems)
    assert described.startswith(f"{CATALOGUE_URL}?0 field 'field0': bad; ")
    assert described.endswith("; and 2 other kinds") and described.count("bad") == 5


def test_week_fails_when_no_source_said_which_days():
    assert checked(quality.check_week, summary(row())) == ("pass", "week 2026-02-02..2026-02-08")
    assert checked(quality.check_week, summary(week=None)) == ("fail", "no source said which days the week covers")


def test_identity_fails_an_answer_about_another_model_variant_and_skips_without_answers():
    assert checked(quality.check_identity, CrawlItems()) == ("skip", "no per-model answer to check")
    items = CrawlItems(activity=[split("a/b")], effective=[effective("a/b")])
    assert checked(quality.check_identity, items) == (
        "pass", "2 per-model answers, each about the model-variant asked for")
    url = split("c/d").source_url
    items.problems = [problem("activity", url, "data.analytics[0].model_permaslug", "'x/y' is not c/d", "identity")]
    assert checked(quality.check_identity, items) == (
        "fail", "1 of 3 per-model answers are about another model-variant than the one asked for (left out): "
                f"{url} field 'data.analytics[0].model_permaslug': 'x/y' is not c/d")


def test_duplicates_count_identical_copies_and_fail_on_differing_ones():
    assert checked(quality.check_duplicates, CrawlItems()) == ("pass", "no entry listed twice")
    items = CrawlItems(leaderboard=[leaderboard_row("a/b", duplicates=2)], activity=[split("a/b", duplicate_days=1)])
    assert checked(quality.check_duplicates, items) == (
        "pass", "identical copies collapsed into one: leaderboard 2, activity 1")
    items.problems = [problem("leaderboard", LEADERBOARD_URL, "a/b:standard", "listed twice: 1000 and 2000",
                              "duplicate")]
    assert checked(quality.check_duplicates, items) == (
        "fail", f"1 keys listed twice with different values: leaderboard {LEADERBOARD_URL} field 'a/b:standard': "
                "listed twice: 1000 and 2000; identical copies collapsed into one: leaderboard 2, activity 1")


# --- completeness -------------------------------------------------------------------------------

def test_split_coverage_below_its_minimum_names_the_largest_unmeasured_spend():
    week = summary(row(), unmeasured("c/d", upper_bound_usd=0.5), unmeasured("e/f", upper_bound_usd=2.0),
                   spend_coverage=0.5)
    assert checked(quality.check_split_coverage, week, 0.95) == (
        "fail", "measured splits hold at least 50.0% of the week's list-price spend (minimum 95%); missing split "
                "(model-activity) for 2 model-variants, largest: e/f:standard, c/d:standard")
    assert checked(quality.check_split_coverage, summary(row(), spend_coverage=0.96), 0.95) == (
        "pass", "measured splits hold at least 96.0% of the week's list-price spend (minimum 95%)")
    assert checked(quality.check_split_coverage, summary(spend_coverage=None), 0.95) == (
        "fail", "split coverage unknown: no priced model-variant in the leaderboard")


def test_token_coverage_below_its_minimum_names_the_largest_unmeasured_rows():
    week = summary(row(), unmeasured("c/d", total_tokens=10), unmeasured("e/f", total_tokens=None),
                   token_coverage=0.6)
    assert checked(quality.check_token_coverage, week, 0.7) == (
        "fail", "token split measured for 60.0% of the week's tokens (minimum 70%); missing split (model-activity) "
                "for 2 model-variants, largest: c/d:standard, e/f:standard")
    assert checked(quality.check_token_coverage, summary(row(), token_coverage=0.7), 0.7)[0] == "pass"
    assert checked(quality.check_token_coverage, summary(token_coverage=None), 0.7) == (
        "fail", "token coverage unknown: the leaderboard holds no tokens")


def test_best_coverage_counts_free_effective_measured_and_imputed_rows_and_names_the_rest():
    rows = [row("m/measured", total_tokens=400), row("f/free", is_free=True, prompt_price=0, total_tokens=100),
            unmeasured("e/effective", prompt_price=None, completion_price=None, total_tokens=100),
            unmeasured("i/imputed", cached_share_imputed=0.4, total_tokens=100),
            unmeasured("u/unestimated", total_tokens=300),
            unmeasured("n/unpriced", prompt_price=None, completion_price=None, total_tokens=10**6)]
    items = CrawlItems(effective=[effective("e/effective"), effective("n/unpriced", input_price=None)])
    # Priced: all but n/unpriced (no list price, its effective price unknown): 1,000 tokens, 700 estimated.
    assert checked(quality.check_best_coverage, summary(*rows), items, 0.8) == (
        "fail", "the best estimate covers 70.0% of the week's priced tokens (minimum 80%); no estimate for "
                "u/unestimated:standard")
    assert checked(quality.check_best_coverage, summary(*rows), items, 0.7)[0] == "pass"
    assert checked(quality.check_best_coverage, summary(rows[-1]), items, 0.7) == (
        "fail", "no priced tokens in the week: nothing to estimate")


def test_unknown_tokens_pass_when_every_count_is_known_and_skip_an_empty_week():
    db = Database(memory=True)
    assert checked(quality.check_unknown_tokens, summary(row(), row("c/d")), CrawlItems(), db, 0.01) == (
        "pass", "every ranked model-variant's token count is known (2)")
    assert checked(quality.check_unknown_tokens, summary(), CrawlItems(), db, 0.01) == (
        "skip", "every ranked model-variant's token count is known (0)")


def test_unknown_tokens_are_weighed_by_the_chart_flagged_below_the_maximum_and_failed_above():
    db = Database(memory=True)  # no published week to estimate from: the chart's newest finished week
    chart = [chart_week(date(2026, 1, 26), {"x/charted": 500, "y/named": 100, "Others": 10**6}),
             chart_week(date(2026, 2, 2), {"x/charted": 1})]  # the newest week is partial: not used
    week = summary(row(total_tokens=10**6), unmeasured("x/charted", total_tokens=None))
    assert checked(quality.check_unknown_tokens, week, CrawlItems(chart=chart), db, 0.01) == (
        "flag", "1 ranked model-variants with unknown tokens (and revenue) hold about 0.05% of the week's tokens "
                "(maximum 1%): x/charted:standard ~500 (chart week of 2026-01-26)")
    result, message = checked(quality.check_unknown_tokens, week, CrawlItems(chart=chart), db, 0.0001)
    assert result == "fail" and "(maximum 0%)" in message
    result, message = checked(quality.check_unknown_tokens, week, CrawlItems(), db, 0.5)
    assert result == "fail" and message.endswith(
        "x/charted:standard no estimate; 1 with nothing to estimate them from (no published week of theirs, no "
        "finished chart week): their weight is not bounded")


def test_model_count_compares_with_the_published_crawl_and_skips_without_one():
    week = summary(row(), row("c/d"), row("e/f"))
    assert checked(quality.check_model_count, week, None, 0.5) == (
        "skip", "3 ranked model-variants; no published crawl ranked any to compare")
    assert checked(quality.check_model_count, week, {"id": "p", "week_end": "2026-02-01", "models_ranked": 0},
                   0.5)[0] == "skip"
    previous = {"id": "p", "week_end": "2026-02-01", "models_ranked": 10}
    assert checked(quality.check_model_count, week, previous, 0.5) == (
        "fail", "3 ranked model-variants, 30% of the 10 of published crawl p (week ending 2026-02-01; minimum 50%)")
    assert checked(quality.check_model_count, week, {**previous, "models_ranked": 4}, 0.5)[0] == "pass"


# --- consistency --------------------------------------------------------------------------------

def test_split_bounds_flag_reasoning_above_completion_and_fail_cached_above_prompt():
    assert checked(quality.check_split_bounds, summary(row(reasoning_tokens=501))) == (
        "flag", "cached <= prompt in every row; 1 model-variants with more reasoning than completion tokens (as the "
                "site reports them): a/b:standard reasoning 501 / completion 500")
    # The pipelines drop such days, so only a bug upstream of the gate could bring one here.
    assert checked(quality.check_split_bounds, summary(row(), row("c/d", cached_tokens=1001))) == (
        "fail", "1 model-variants with an impossible split: c/d:standard cached 1001 / prompt 1000, reasoning 50 / "
                "completion 500")


def test_split_bounds_skip_without_a_split_and_pass_a_possible_one():
    assert checked(quality.check_split_bounds, summary(unmeasured("c/d"))) == ("skip", "no row with a known split")
    assert checked(quality.check_split_bounds, summary(row())) == (
        "pass", "cached <= prompt and reasoning <= completion in every row")


@pytest.mark.parametrize("off, expected", [
    # One row off its leaderboard (its split changed between the two requests): flagged.
    ({"c/d": 1.1}, ("flag", "measured 7-day split of 3 model-variants vs leaderboard prompt + completion: total off "
                            "by 0.31% (tolerance 2%); 1 rows off by more: c/d:standard +9.1%")),
    # Every row off together: the split covers other days than the leaderboard.
    ({"a/b": 1.05, "c/d": 1.05, "e/f": 1.05},
     ("fail", "measured 7-day split of 3 model-variants vs leaderboard prompt + completion: total off by 4.76% "
              "(tolerance 2%); the split covers other days than the leaderboard: a/b:standard +4.8%, c/d:standard "
              "+4.8%, e/f:standard +4.8%")),
    ({}, ("pass", "measured 7-day split of 3 model-variants vs leaderboard prompt + completion: total off by 0.00% "
                  "(tolerance 2%)")),
])
def test_leaderboard_totals_flag_one_row_off_and_fail_when_all_are(off, expected):
    rows = [row(permaslug, total_tokens=1500 * (30 if permaslug == "a/b" else 1),
                leaderboard_prompt_tokens=int(1000 * (30 if permaslug == "a/b" else 1) * off.get(permaslug, 1)),
                leaderboard_completion_tokens=int(500 * (30 if permaslug == "a/b" else 1) * off.get(permaslug, 1)))
            for permaslug in ("a/b", "c/d", "e/f")]
    assert checked(quality.check_leaderboard_totals, summary(*rows, unmeasured("g/h")), 0.02) == expected


def test_leaderboard_totals_skip_without_a_measured_split():
    assert checked(quality.check_leaderboard_totals, summary(unmeasured("c/d")), 0.02) == (
        "skip", "no split measured from model-activity to compare")


def test_chart_totals_fail_a_value_outside_its_weeks_total_and_skip_without_a_chart():
    assert checked(quality.check_chart_totals, CrawlItems()) == ("skip", "no chart week to check")
    good = chart_week(date(2026, 1, 19), {"a/b": 10, "Others": 5})
    assert checked(quality.check_chart_totals, CrawlItems(chart=[good])) == (
        "pass", "1 chart weeks, every named value within its week's total")
    bad = chart_week(date(2026, 1, 26), {"a/b": 10, "Others": -20})
    assert checked(quality.check_chart_totals, CrawlItems(chart=[good, bad])) == (
        "fail", "1 chart weeks with values outside their total: 2026-01-26: a/b=10, Others=-20 (total -10)")


def stored_chart(weeks: dict[str, dict[str, int]]) -> Database:
    db = Database(memory=True)
    db["chart_weeks"].insert_all({"week_start": start, "week_end": "", "key": key, "tokens": tokens}
                                 for start, values in weeks.items() for key, tokens in values.items())
    return db


def test_chart_history_flags_a_revised_key_and_fails_a_revised_week_total():
    stored = {"2026-01-19": {"a/b": 100, "Others": 900}, "2026-01-26": {"a/b": 100, "Others": 900}}
    chart = [chart_week(date(2026, 1, 19), {"a/b": 100, "Others": 900}),
             chart_week(date(2026, 1, 26), {"a/b": 100, "Others": 900}),
             chart_week(date(2026, 2, 2), {"a/b": 1})]  # partial: never compared
    db = stored_chart(stored)
    # Stored weeks' week_end as the writer stores it, so the keys match.
    db.execute("UPDATE chart_weeks SET week_end = date(week_start, '+6 days')")
    assert checked(quality.check_chart_history, CrawlItems(chart=chart), db, 0.02) == (
        "pass", "2 finished chart weeks seen before (tolerance 2%), all unchanged")
    chart[1] = chart_week(date(2026, 1, 26), {"a/b": 110, "Others": 890})  # a key revised, the total the same
    assert checked(quality.check_chart_history, CrawlItems(chart=chart), db, 0.02) == (
        "flag", "2 finished chart weeks seen before (tolerance 2%); 1 values revised: 2026-01-26 a/b 100 -> 110")
    chart[1] = chart_week(date(2026, 1, 26), {"a/b": 200, "Others": 1800})  # another unit: the total doubled
    assert checked(quality.check_chart_history, CrawlItems(chart=chart), db, 0.02) == (
        "fail", "2 finished chart weeks seen before (tolerance 2%); 1 week totals changed: 2026-01-26 total 1000 -> "
                "2000 (+100.0%)")


def test_chart_history_skips_what_was_never_stored():
    chart = [chart_week(date(2026, 1, 26), {"a/b": 1}), chart_week(date(2026, 2, 2), {"a/b": 1})]
    assert checked(quality.check_chart_history, CrawlItems(chart=chart), Database(memory=True), 0.02) == (
        "skip", "1 finished chart weeks, none stored before to compare")


# --- prices -------------------------------------------------------------------------------------

def test_missing_prices_flag_paid_rows_without_a_usable_price_largest_first():
    assert checked(quality.check_missing_prices, summary(row(), row("f/free", variant="free",
                                                                   price_status="missing"))) == (
        "pass", "every ranked paid model-variant has a price")
    week = summary(row(total_tokens=8000), row("c/d", price_status="missing", total_tokens=500),
                   row("e/f", price_status="invalid", total_tokens=1500))
    assert checked(quality.check_missing_prices, week) == (
        "flag", "2 ranked model-variants without a usable price (20.0% of the week's tokens; revenue unknown), "
                "largest: e/f:standard, c/d:standard")


def test_price_bound_fails_a_text_price_beyond_the_bound_and_skips_without_a_catalogue():
    assert checked(quality.check_price_bound, CrawlItems(), 1000.0) == ("skip", "no catalogue entry to check")
    items = CrawlItems(prices=[catalogue_entry("a/b"), catalogue_entry("c/d", cache_read=2e-4)])
    assert checked(quality.check_price_bound, items, 1000.0) == (
        "pass", "text prices of 2 catalogue entries (maximum $1000.00/M): none above it")
    items.prices += [catalogue_entry("e/f", completion=4e-3), catalogue_entry("g/h", cache_read=2e-3)]
    assert checked(quality.check_price_bound, items, 1000.0) == (
        "fail", "text prices of 4 catalogue entries (maximum $1000.00/M): 2 above it: e/f (e/f-2026:standard) "
                "completion $4000.00/M; g/h (g/h-2026:standard) cache_read $2000.00/M")


def drift_history(path: Any, prompt_prices: list[float]) -> Database:
    """Published crawls a week apart, the last ending on 2026-02-01, listing x/m-2026 at these prompt
    prices in turn."""
    from orstats_crawler.history.connection import open_for_writing

    db = open_for_writing(str(path))
    for weeks_back, price in enumerate(reversed(prompt_prices)):
        crawl, week_end = f"c{weeks_back}", date.fromordinal(date(2026, 2, 1).toordinal() - 7 * weeks_back)
        db["crawls"].insert({"id": crawl, "week_end": week_end.isoformat(), "started_at": week_end.isoformat(),
                             "status": "published", "models_ranked": 1})
        db["prices"].insert({"crawl_id": crawl, "observed_on": week_end.isoformat(), "public_id": "x/m",
                             "canonical_slug": "x/m-2026", "variant": "standard", "prompt_price": price,
                             "completion_price": 4e-6})
    return db


@pytest.mark.parametrize("history, now, expected", [
    # doubled at every crawl: each move under price_moves' factor 3, 4x the median of the last three
    ([1e-6, 2e-6, 4e-6], 8e-6, "fail"),
    ([2e-6, 2e-6, 2e-6], 2e-6, "pass"),
    ([2e-6], 8e-6, "skip"),  # one published crawl: price_moves compares with it
])
def test_price_drift_adds_up_a_move_split_over_several_crawls(tmp_path, history, now, expected):
    from orstats_crawler.publish import quality_drift, quality_moves
    from scrapy.utils.project import get_project_settings

    db = drift_history(tmp_path / "h.db", history)
    limits = quality_moves.PriceLimits.from_settings(get_project_settings())
    verdict = quality.Verdict()
    week = summary(row("x/m-2026", prompt_price=now, upper_bound_usd=1000 * now + 500 * 4e-6))
    quality_drift.check_price_drift(verdict, week, CrawlItems(), db, quality.previous_published(db, "now", None),
                                    limits)
    [check] = verdict.checks
    assert check["name"] == "price_drift" and check["result"] == expected, check
    if expected == "fail":
        assert "x/m-2026:standard prompt $2.00/M -> $8.00/M (no effective price to confirm it) vs the median" \
            in check["message"]
        last_crawl_only = quality.Verdict()  # what price_moves sees: a 2x move, under its factor
        previous = quality.previous_published(db, "now", None)
        quality_moves.check_price_moves(last_crawl_only, week, CrawlItems(),
                                        quality_moves.published_prices(db, previous["id"]), {}, previous, limits)
        assert last_crawl_only.checks[0]["result"] == "pass"
