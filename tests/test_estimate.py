"""The best estimate of a week (history/formulas.py, publish/week_summary.py, selection.py): each basis
with its band, the imputed cached share, week over week from the daily activity, the stop rule of the
split selection; checked against figures computed here from the factory's specs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import pytest_twisted
from sqlite_utils import Database
from twisted.internet.defer import ensureDeferred

from orstats_crawler.selection import Candidate, SplitPlanner
from tests import capture_oracle
from tests.conftest import crawl, shared_capture
from tests.factory import (SnapshotSpec, build_snapshot, daily_rows, effective_prices,
                           expected_effective, expected_revenues, with_models)

NO_EFFECTIVE = {"effective": (0.0, 0.0, 0.0)}  # the endpoint prices nothing (as for :batch)
# Opus and Gemini 2.5 Flash lose their split and their effective price (imputed), Gemini 3 Flash its
# effective price (list), MiniMax its catalogue entry and effective price (unknown).
MODELS = with_models((1, {"activity": "missing", **NO_EFFECTIVE}), (3, NO_EFFECTIVE),
                     (4, {"activity": "missing", **NO_EFFECTIVE}), (6, {"in_catalogue": False, **NO_EFFECTIVE}))
SONNET, OPUS, KIMI, FLASH_3, FLASH_25, DEEPSEEK, MINIMAX, GROK, FLASH_LITE, FREE = MODELS
MEASURED = [m for m in MODELS if m.activity == "ok"]


def share(*models) -> float:
    """The cached share of prompt tokens, pooled over models."""
    return sum(m.cached for m in models) / sum(m.prompt for m in models)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def imputed(model, cached_share: float) -> float:
    p, c = float(model.pricing["prompt"]), float(model.pricing["completion"])
    r = float(model.pricing.get("input_cache_read", model.pricing["prompt"]))
    return model.prompt * (1 - cached_share) * p + model.prompt * cached_share * r + model.completion * c


def previous_week(model) -> tuple[int, int, int]:
    """The 7 days before the crawl's week in the factory's daily rows: (prompt, completion, cached)."""
    first = SnapshotSpec().captured - timedelta(days=14)
    days = [r for r in daily_rows(model, SnapshotSpec().captured, 31)
            if first <= date.fromisoformat(r["date"][:10]) < first + timedelta(days=7)]
    assert len(days) == 7
    return (sum(r["total_prompt_tokens"] for r in days), sum(r["total_completion_tokens"] for r in days),
            sum(r["total_native_tokens_cached"] for r in days))


@pytest.fixture(scope="module")
def estimated(tmp_path_factory):
    """A crawl of the seed week with every basis present (all splits asked for: MODELS says which fail)."""
    folder = tmp_path_factory.mktemp("estimate")
    history = folder / "history.db"
    snapshot = build_snapshot(folder / "snapshot", SnapshotSpec(models=MODELS))
    pytest_twisted.blockon(ensureDeferred(crawl({"ORSTATS_DB": str(history), "ORSTATS_MIN_SPEND_COVERAGE": 0,
                                                 "ORSTATS_REPORT_DIR": str(folder / "reports")},
                                                snapshot=str(snapshot), top="all")))
    db = Database(history)
    rows = {r["permaslug"]: r for r in db.query("select * from weekly_revenue")}
    [totals] = db.query("select * from weekly_totals")
    [crawl_row] = db.query("select * from crawls")
    return rows, totals, crawl_row


def test_each_basis_and_its_band(estimated):
    rows, _, crawl_row = estimated
    sonnet = rows[SONNET.permaslug]  # split and effective price: what the traffic paid, its sample's band
    assert sonnet["best_basis"] == "effective"
    assert sonnet["revenue_best_usd"] == pytest.approx(expected_effective(SONNET), rel=1e-9)
    assert sonnet["revenue_best_low_usd"] == pytest.approx(expected_effective(SONNET) * 0.95, rel=1e-9)
    assert sonnet["revenue_best_high_usd"] == pytest.approx(expected_effective(SONNET) * 1.05, rel=1e-9)

    flash = rows[FLASH_3.permaslug]  # split, no effective price: list price, no band
    assert flash["best_basis"] == "list"
    assert flash["revenue_best_usd"] == flash["revenue_best_low_usd"] == flash["revenue_best_high_usd"]
    assert flash["revenue_best_usd"] == pytest.approx(expected_revenues(FLASH_3)[0], rel=1e-9)

    shares = [m.cached / m.prompt for m in MEASURED]
    p10, p90 = percentile(shares, 0.10), percentile(shares, 0.90)
    assert (crawl_row["cached_share_p10"], crawl_row["cached_share_p90"]) == (pytest.approx(p10), pytest.approx(p90))
    opus = rows[OPUS.permaslug]  # no split, no effective price: list price with its author's measured share
    assert (opus["best_basis"], opus["cached_share_from"]) == ("imputed", "author")
    assert opus["cached_share_imputed"] == pytest.approx(share(SONNET))
    assert opus["revenue_best_usd"] == pytest.approx(imputed(OPUS, share(SONNET)), rel=1e-9)
    assert opus["revenue_best_low_usd"] == pytest.approx(imputed(OPUS, p90), rel=1e-9)  # more cache, cheaper
    assert opus["revenue_best_high_usd"] == pytest.approx(imputed(OPUS, p10), rel=1e-9)

    gemini = rows[FLASH_25.permaslug]  # its author's measured model-variants, pooled by prompt tokens
    assert (gemini["best_basis"], gemini["cached_share_from"]) == ("imputed", "author")
    assert gemini["cached_share_imputed"] == pytest.approx(share(FLASH_3, FLASH_LITE))

    minimax = rows[MINIMAX.permaslug]  # no price of any kind: unknown, never 0
    assert minimax["best_basis"] is None and minimax["revenue_best_usd"] is None
    assert rows[FREE.permaslug]["best_basis"] == "free" and rows[FREE.permaslug]["revenue_best_usd"] == 0


def test_the_week_sums_the_best_estimate_and_its_band_over_the_priced_tokens(estimated):
    rows, totals, _ = estimated
    known = [r for r in rows.values() if r["revenue_best_usd"] is not None]
    assert totals["revenue_best_usd"] == pytest.approx(sum(r["revenue_best_usd"] for r in known))
    assert totals["revenue_best_low_usd"] == pytest.approx(sum(r["revenue_best_low_usd"] for r in known))
    assert totals["revenue_best_high_usd"] == pytest.approx(sum(r["revenue_best_high_usd"] for r in known))
    assert totals["revenue_best_low_usd"] < totals["revenue_best_usd"] < totals["revenue_best_high_usd"]
    priced = [m for m in MODELS if m is not MINIMAX]  # MiniMax has neither list nor effective price
    assert totals["priced_tokens"] == sum(m.total for m in priced) == totals["revenue_best_usd_tokens"]


def test_week_over_week_of_a_measured_row_comes_from_its_own_daily_activity(estimated):
    rows, totals, _ = estimated
    sonnet = rows[SONNET.permaslug]
    prompt, completion, _ = previous_week(SONNET)
    input_price, output_price, _ = effective_prices(SONNET)
    assert sonnet["previous_source"] == "daily" and sonnet["previous_tokens"] == prompt + completion
    expected = (prompt * input_price + completion * output_price) / 1e6
    assert sonnet["previous_revenue_best_usd"] == pytest.approx(expected)
    # The factory's earlier weeks are smaller by the model's week-over-week change.
    change = sonnet["revenue_best_usd"] / sonnet["previous_revenue_best_usd"] - 1
    assert change == pytest.approx(SONNET.change, abs=0.01)
    imputed_row = rows[OPUS.permaslug]  # no split, and the history has no earlier week: no previous figure
    assert imputed_row["previous_source"] is None and imputed_row["previous_revenue_best_usd"] is None
    with_previous = [r for r in rows.values() if r["previous_revenue_best_usd"] is not None]
    assert totals["previous_models"] == len(with_previous) == len(MEASURED) - 1  # MiniMax: no price at all
    assert totals["like_for_like_best_usd"] == pytest.approx(sum(r["revenue_best_usd"] for r in with_previous))
    assert totals["previous_revenue_best_usd"] == pytest.approx(sum(r["previous_revenue_best_usd"]
                                                                    for r in with_previous))


@pytest_twisted.ensureDeferred
async def test_week_over_week_of_an_unmeasured_row_comes_from_the_published_week_before(tmp_path):
    history = tmp_path / "history.db"
    settings = {"ORSTATS_DB": str(history), "ORSTATS_MIN_SPEND_COVERAGE": 0, "ORSTATS_REPORT_DIR": str(tmp_path / "r")}
    first = SnapshotSpec(captured=SnapshotSpec().captured - timedelta(days=7), name="week-1")
    await crawl(settings, snapshot=str(build_snapshot(tmp_path / "week-1", first)), top="all")
    second = SnapshotSpec(models=with_models((1, {"activity": "missing"})), name="week-2")
    await crawl(settings, snapshot=str(build_snapshot(tmp_path / "week-2", second)), top="all")
    rows = {(r["week_end"], r["permaslug"]): r for r in Database(history).query("select * from weekly_revenue")}
    before = rows[((first.captured - timedelta(days=1)).isoformat(), OPUS.permaslug)]
    after = rows[((second.captured - timedelta(days=1)).isoformat(), OPUS.permaslug)]
    assert after["split_source"] is None and after["previous_source"] == "history"
    assert after["previous_tokens"] == before["total_tokens"]
    # the previous week's tokens at this week's prices and basis: the same prices here, so its own figure
    assert after["previous_revenue_best_usd"] == pytest.approx(before["revenue_best_usd"])


# --- the stop rule ------------------------------------------------------------------------------------

def test_waves_go_on_until_the_measured_spend_is_guaranteed_where_the_upper_bound_rule_stops_short():
    """Ten candidates whose list spend is 30 % of their no-cache upper bound: the upper-bound rule
    (stop when the fetched bounds reach 95 % of all bounds) stops after 9, which guarantee only
    162 / (162 + 10) = 94.2 % of the list spend; the planner fetches the tenth."""
    bounds = [100, 90, 80, 70, 60, 50, 40, 30, 20, 10]
    candidates = [Candidate(f"lab/m{i}", "standard", 1000, bound) for i, bound in enumerate(bounds)]
    cumulative = [sum(bounds[: n + 1]) for n in range(len(bounds))]
    upper_bound_rule = next(n + 1 for n, total in enumerate(cumulative) if total >= 0.95 * sum(bounds))
    assert upper_bound_rule == 9
    assert 0.3 * cumulative[8] / (0.3 * cumulative[8] + bounds[9]) == pytest.approx(0.942, abs=1e-3)

    planner = SplitPlanner(candidates, top=None, coverage=0.95, wave_size=2)
    waves = [planner.first_wave()]
    assert len(waves[0]) == 9  # projected at the upper bound, as the old rule
    while waves[-1]:
        answered = [planner.answered(c.key, 0.3 * c.upper_bound_usd) for c in waves[-1]]
        waves.append([c for wave in answered for c in wave])
    assert [len(w) for w in waves] == [9, 1, 0]
    assert planner.guaranteed_coverage == pytest.approx(1.0) and planner.done


def test_a_wave_is_never_smaller_than_the_concurrency_and_a_failed_split_keeps_its_bound():
    bounds = [1000.0, 900.0, 800.0] + [1.0] * 40
    candidates = [Candidate(f"lab/m{i}", "standard", 1000, bound) for i, bound in enumerate(bounds)]
    planner = SplitPlanner(candidates, top=None, coverage=0.95, wave_size=4)
    first = planner.first_wave()
    assert len(first) == 4  # three bounds reach 95 %, but a wave keeps the concurrency busy
    for candidate in first[1:]:
        assert planner.answered(candidate.key, 0.5 * candidate.upper_bound_usd) == []
    second = planner.answered(first[0].key, None)  # the largest split failed: its bound stays unmeasured
    assert len(second) >= 4 and not {c.key for c in second} & {c.key for c in first}
    measured = sum(0.5 * c.upper_bound_usd for c in first[1:])
    rest = sum(c.upper_bound_usd for c in candidates) - sum(c.upper_bound_usd for c in first[1:])
    assert planner.guaranteed_coverage == pytest.approx(measured / (measured + rest))


def test_top_selects_by_count_in_one_wave():
    candidates = [Candidate(f"lab/m{i}", "standard", 1000, 100.0 - i) for i in range(5)]
    planner = SplitPlanner(candidates, top=3, coverage=0.95, wave_size=4)
    assert [c.permaslug for c in planner.first_wave()] == ["lab/m0", "lab/m1", "lab/m2"]
    assert all(planner.answered(c.key, 1.0) == [] for c in candidates[:3])
    assert planner.plan().selection == "top:3"


# --- the real capture --------------------------------------------------------------------------------

def test_the_default_crawl_of_2026_08_08_holds_95_percent_of_the_true_list_spend(capture_2026_08_08):
    """Checked against every split of the capture, read by tests/capture_oracle.py (no project code)."""
    capture = shared_capture("openrouter-2026-08-08")
    rows = capture_oracle.leaderboard_rows(capture_oracle.Capture(capture))
    db = Database(capture_2026_08_08.history)
    measured = {(r["permaslug"], r["variant"]) for r in db.query(
        "select permaslug, variant from weekly_revenue where split_source = 'activity'")}
    true_list = {r.key: r.true_list for r in rows if r.true_list is not None}
    held = sum(usd for key, usd in true_list.items() if key in measured) / sum(true_list.values())
    [crawl_row] = db.query("select * from crawls")
    assert held >= 0.95 and crawl_row["spend_coverage"] >= 0.95  # the true share and the guaranteed one
    assert held >= crawl_row["spend_coverage"]  # the guarantee is a lower bound of the true share
    [totals] = db.query("select * from weekly_totals")
    assert totals["revenue_best_usd_tokens"] / totals["priced_tokens"] >= 0.99
    low, best, high = totals["revenue_best_low_usd"], totals["revenue_best_usd"], totals["revenue_best_high_usd"]
    assert best * 0.85 <= low < best < high <= best * 1.15
    # The week-weighted effective figure ($20.09M), 2.7 % above the sample-weighted one, is the best estimate.
    assert totals["revenue_effective_usd"] < best == pytest.approx(totals["revenue_effective_week_usd"], rel=1e-3)
    assert totals["previous_models"] >= len(measured) * 0.9  # week over week for (almost) every measured row
