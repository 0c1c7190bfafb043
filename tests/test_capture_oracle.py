"""The capture oracle (tests/capture_oracle.py) reads captures right: on snapshots built by the factory,
whose figures we choose, and for internal consistency on the real 2026-08-08 capture when ../shared
holds it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench import estimate_research
from tests.capture_oracle import (
    Capture, OracleError, catalogue_prices, chart_key, complete_mondays, leaderboard_rows, measure_chart_week,
    oracle, price_of, ranked, select_by_measured_spend, select_by_upper_bound, split_between,
)
from tests.conftest import ROOT, shared_capture
from tests.factory import (
    SEED_MODELS, ModelSpec, SnapshotSpec, build_snapshot, expected_effective, expected_revenues,
)

TARGET = 0.95


def rows_of(folder: Path) -> dict[tuple[str, str], Any]:
    return {row.key: row for row in leaderboard_rows(Capture(folder))}


# --- factory snapshots: figures we chose ------------------------------------------------------------------


def test_each_row_gets_the_spends_its_spec_implies(demo_snapshot: Path) -> None:
    rows = rows_of(demo_snapshot)
    assert len(rows) == len(SEED_MODELS)
    for model in SEED_MODELS:
        row = rows[(model.permaslug, model.variant)]
        true_list, seed = expected_revenues(model)
        assert (row.split.prompt, row.split.completion, row.split.cached) == (model.prompt, model.completion,
                                                                               model.cached)
        assert row.true_list == pytest.approx(true_list, rel=1e-12)
        assert row.seed == pytest.approx(seed, rel=1e-12)
        assert row.effective_usd == pytest.approx(expected_effective(model), rel=1e-12)


def test_the_split_sums_the_seven_days_before_the_capture_day_and_skips_the_partial_day(demo_snapshot: Path) -> None:
    capture = Capture(demo_snapshot)
    first, last = capture.week()
    assert (date.fromisoformat(last) - date.fromisoformat(first)).days == 6
    assert last == (capture.captured - timedelta(days=1)).isoformat()
    for row in rows_of(demo_snapshot).values():
        assert row.split.days == tuple((date.fromisoformat(first) + timedelta(days=i)).isoformat() for i in range(7))


def test_price_rules() -> None:
    assert price_of({"prompt": "-1", "completion": "-1"}, "openrouter/auto") is None
    assert price_of({"prompt": "abc", "completion": "0.000001"}, "a/b") is None
    assert price_of({"prompt": "0.000002", "completion": "-0.1"}, "a/b") is None
    no_completion = price_of({"prompt": "0.000002"}, "a/b")  # since 2026 an absent key is 0
    assert (no_completion.prompt, no_completion.completion) == (0.000002, 0.0)
    assert no_completion.cache_read == no_completion.prompt  # no cache-read price: no discount
    discounted = price_of({"prompt": "0.000002", "completion": "0.00001", "input_cache_read": "0.0000002"}, "a/b")
    assert discounted.cache_read == 0.0000002
    paid_free = price_of({"prompt": "0.000002", "completion": "0.00001"}, "a/b:free")
    assert paid_free.free


def test_of_two_ids_for_one_model_variant_the_lowest_wins(tmp_path: Path) -> None:
    model = SEED_MODELS[0]
    alias = {"id": "anthropic/a-" + model.public_id.partition("/")[2], "canonical_slug": model.permaslug,
             "name": "alias", "pricing": {"prompt": "0.001", "completion": "0.002"}}
    later = dict(alias, id=model.public_id + "-z", pricing={"prompt": "0.5", "completion": "0.5"})
    spec = SnapshotSpec(catalogue_extras=[later, alias])
    row = rows_of(build_snapshot(tmp_path / "s", spec))[(model.permaslug, model.variant)]
    assert (row.price.public_id, row.price.prompt, row.price.completion) == (alias["id"], 0.001, 0.002)


def test_the_text_catalogue_wins_over_output_modalities_all_which_may_be_absent(tmp_path: Path) -> None:
    model = SEED_MODELS[0]

    def cheaper_in_all(url: str, payload: Any) -> Any:
        if url.endswith("output_modalities=all"):
            for entry in payload["data"]:
                if entry["id"] == model.public_id:
                    entry["pricing"] = {"prompt": "0", "completion": "0"}
        return payload

    both = rows_of(build_snapshot(tmp_path / "both", mutate=cheaper_in_all))
    text_only = rows_of(build_snapshot(tmp_path / "text", SnapshotSpec(with_all_modalities=False)))
    key = (model.permaslug, model.variant)
    assert both[key].price == text_only[key].price
    assert both[key].true_list == pytest.approx(expected_revenues(model)[0], rel=1e-12)
    # a model only the every-modality catalogue lists is priced from it
    assert catalogue_prices(Capture(tmp_path / "both"))[("google/gemini-2.5-flash-image", "standard")] is not None


def test_free_is_zero_batch_effective_is_unknown_and_a_row_without_activity_has_no_split(tmp_path: Path) -> None:
    paid = SEED_MODELS[0]
    free = replace(SEED_MODELS[1], variant="free", public_id=SEED_MODELS[1].public_id + ":free")
    batch = replace(paid, variant="batch", public_id=paid.public_id + ":batch",
                    pricing={"prompt": "0.0000015", "completion": "0.0000075"})
    unlisted = replace(SEED_MODELS[2], in_catalogue=False, activity="missing")
    rows = rows_of(build_snapshot(tmp_path / "s", SnapshotSpec(models=[paid, free, batch, unlisted])))
    assert rows[(free.permaslug, "free")].true_list == 0 and rows[(free.permaslug, "free")].effective_usd == 0
    assert rows[(paid.permaslug, "batch")].effective_usd is None  # the site answers 0/0 for :batch
    assert rows[(paid.permaslug, "batch")].true_list == pytest.approx(expected_revenues(batch)[0], rel=1e-12)
    missing = rows[(unlisted.permaslug, unlisted.variant)]
    assert missing.price is None and missing.split is None and missing.true_list is None
    assert missing.effective_usd == pytest.approx(expected_effective(unlisted), rel=1e-12)


def spend_model(name: str, prompt: int, cached: int) -> ModelSpec:
    """A model-variant whose week costs $1 per thousand prompt tokens, cached ones a tenth of that."""
    return ModelSpec(f"lab/{name}-20260101", f"lab/{name}", f"Lab: {name}",
                     {"prompt": "0.000001", "completion": "0.000001", "input_cache_read": "0.0000001"},
                     prompt, 0, cached, 0, 1000)


def test_the_upper_bound_rule_stops_before_the_measured_spend_reaches_the_target(tmp_path: Path) -> None:
    # upper bounds $1000, $100, $30; true list spends $190 (90 % cached), $100, $30
    spec = SnapshotSpec(models=[spend_model("cached", 10**9, 9 * 10**8), spend_model("plain", 10**8, 0),
                                spend_model("small", 3 * 10**7, 0)], catalogue_extras=[])
    rows = list(rows_of(build_snapshot(tmp_path / "s", spec)).values())
    by_bound, by_spend = select_by_upper_bound(rows, TARGET), select_by_measured_spend(rows, TARGET)
    assert [r.permaslug for r in by_bound.fetched] == ["lab/cached-20260101", "lab/plain-20260101"]
    assert by_bound.share == pytest.approx(290 / 320) and by_bound.share < TARGET
    assert by_spend.count == 3 and by_spend.share == pytest.approx(1.0)


def test_bad_input_is_one_line_naming_the_url_and_the_value(tmp_path: Path) -> None:
    model = SEED_MODELS[3]

    def bad_date(url: str, payload: Any) -> Any:
        if "model-activity" in url and model.permaslug.replace("/", "%2F") in url:
            payload["data"]["analytics"][2]["date"] = "yesterday"
        return payload

    folder = build_snapshot(tmp_path / "s", mutate=bad_date)
    with pytest.raises(OracleError, match=r"model-activity\?permaslug=google%2Fgemini-3-flash.*'yesterday'"):
        leaderboard_rows(Capture(folder))
    done = subprocess.run([sys.executable, "-m", "tests.capture_oracle", str(folder)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "'yesterday'" in done.stderr


def test_a_day_listed_twice_is_an_error() -> None:
    row = {"date": "2026-08-01 00:00:00", "total_prompt_tokens": 5, "total_completion_tokens": 1}
    with pytest.raises(OracleError, match="2026-08-01 appears twice"):
        split_between([row, row], "2026-08-01", "2026-08-07", "activity")


def test_the_cli_prints_the_tables_and_json(demo_snapshot: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tests.capture_oracle", str(demo_snapshot)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert "| true list total, cached once (" in done.stdout
    assert "Rows whose 7-day activity differs from the leaderboard: 0" in done.stdout
    result = oracle(demo_snapshot)
    expected = sum(expected_revenues(m)[0] for m in SEED_MODELS)
    assert result["totals"]["true_list_usd"] == pytest.approx(expected, rel=1e-12)
    assert len(result["rows"]) == len(SEED_MODELS)


# --- the real capture: internal consistency ---------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> tuple[Capture, list[Any]]:
    capture = Capture(shared_capture("openrouter-2026-08-08"))
    return capture, leaderboard_rows(capture)


def test_real_seven_day_sums_equal_the_leaderboard_for_every_measured_row(real) -> None:
    capture, rows = real
    first, last = capture.week()
    measured = [r for r in rows if r.split is not None]
    assert measured
    for row in measured:
        assert (row.split.prompt, row.split.completion) == (row.prompt, row.completion), row.key
        assert all(first <= day <= last for day in row.split.days)
        assert row.split.cached <= row.split.prompt
    assert {d for r in measured for d in r.split.days} == {
        (date.fromisoformat(first) + timedelta(days=i)).isoformat() for i in range(7)}


def test_real_spends_seed_upper_bound_and_true_list_differ_by_the_cached_tokens(real) -> None:
    _, rows = real
    for row in rows:
        if row.true_list is None:
            continue
        assert row.true_list <= row.upper_bound * (1 + 1e-12), row.key
        # the seed charges a cached token at the full prompt price and again at the cache-read price
        assert row.seed - row.true_list == pytest.approx(row.split.cached * row.price.prompt, rel=1e-9, abs=1e-6)
        assert row.seed - row.upper_bound == pytest.approx(row.split.cached * row.price.cache_read, rel=1e-9,
                                                           abs=1e-6)


def test_real_the_two_stop_rules_differ_as_the_issue_states(real) -> None:
    _, rows = real
    by_bound, by_spend = select_by_upper_bound(rows, TARGET), select_by_measured_spend(rows, TARGET)
    priced = [r for r in ranked(rows) if (r.upper_bound or 0) > 0]
    bound_total = sum(r.upper_bound for r in priced)
    reached = sum(r.upper_bound for r in by_bound.fetched)
    assert reached >= TARGET * bound_total > reached - by_bound.fetched[-1].upper_bound
    assert by_bound.share < TARGET <= by_spend.share
    assert by_spend.count > by_bound.count
    assert by_spend.fetched[: by_bound.count] == by_bound.fetched == priced[: by_bound.count]
    without_last = by_spend.fetched[:-1]
    spent = sum(r.true_list for r in without_last)
    rest = sum(r.upper_bound for r in priced[len(without_last):])
    assert spent / (spent + rest) < TARGET  # it stopped at the first row that reached the target


def test_real_chart_weeks_inside_the_activity_match_the_chart_key_by_key(real) -> None:
    capture, _ = real
    prices = catalogue_prices(capture)
    mondays = complete_mondays(capture)
    assert mondays and all(date.fromisoformat(m).weekday() == 0 for m in mondays)
    assert max(date.fromisoformat(m) for m in mondays) + timedelta(days=6) < capture.captured
    for monday in mondays:
        week = measure_chart_week(capture, monday, prices)
        found = [(key, tokens) for key, tokens in week.chart.items() if chart_key(key) in week.pairs]
        assert found
        for key, tokens in found:
            assert week.pairs[chart_key(key)].split.tokens == tokens, (monday, key)


def test_real_research_imputes_only_unmeasured_paid_rows_and_keeps_the_best_total_consistent(real) -> None:
    capture, rows = real
    result = estimate_research.research(capture.folder)
    measured = select_by_measured_spend(rows, TARGET)
    assert result["measured_rows"] == measured.count
    assert result["hidden_rows"] == sum(r.paid and r not in measured.fetched for r in rows)
    for best in result["best"].values():
        assert best["low_usd"] <= best["best_usd"] <= best["high_usd"]
        assert sum(best["basis_rows"].values()) == len(rows)
        assert best["basis_usd"]["effective"] == pytest.approx(
            sum(r.effective_usd for r in rows if r.effective_usd is not None and not (r.free or r.variant == "free")))


def test_real_a_chart_week_modeled_from_itself_on_its_measured_tokens_is_exact(real) -> None:
    capture, _ = real
    prices = catalogue_prices(capture)
    for monday in complete_mondays(capture):
        week = measure_chart_week(capture, monday, prices)
        modeled = estimate_research.model_week(week, week, week.blended(week.named), "measured")
        assert modeled == pytest.approx(week.list_usd, rel=1e-9)


def test_model_families_drop_versions_and_dates() -> None:
    assert estimate_research.series("qwen/qwen3.6-plus-04-02") == "qwen/qwen"
    assert estimate_research.line("anthropic/claude-4.6-sonnet-20260217") == "anthropic/claude-sonnet"
    assert estimate_research.line("anthropic/claude-sonnet-5-20260630") == "anthropic/claude-sonnet"
    assert estimate_research.line("google/gemini-3.1-flash-lite-preview-20260303") == "google/gemini-flash-lite"
    assert estimate_research.line("openai/gpt-5-mini-2025-08-07") == "openai/gpt-mini"
