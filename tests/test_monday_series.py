"""The comparable Monday-week series (history/monday_series.py) on a history with measured weeks (a
crawl's daily activity, imported weeks with their split), modeled weeks (the chart's keys, imported
volumes without a split) and the blended rest; and the backtest that models each measured week from
the others."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import pytest_twisted
from sqlite_utils import Database
from twisted.internet.defer import ensureDeferred

from orstats_crawler.history import monday_series
from orstats_crawler.history.connection import open_for_writing, open_read_only
from orstats_crawler.history.records import CrawlRecords, CrawlRow, ModelWeekRow, PriceRow
from orstats_crawler.history.writer import write_crawl
from orstats_crawler.pricing import split_id
from tests.conftest import ROOT, crawl
from tests.factory import build_snapshot
from tests.test_import_history import run_import

SAMPLE = ROOT / "demo" / "anchor-history-sample"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """The demo crawl (the seed week 2026-02-02..08, a Monday week, and its 52-week chart) and the
    earlier project's sample files (weeks with their split, and 2026-05-04..10 with every split lost)."""
    folder = tmp_path_factory.mktemp("series")
    path = folder / "history.db"
    pytest_twisted.blockon(ensureDeferred(crawl({"ORSTATS_DB": str(path), "ORSTATS_REPORT_DIR": str(folder / "r")},
                                                snapshot=str(build_snapshot(folder / "snapshot")), top="all")))
    run_import(path, SAMPLE)
    return path


def series(path) -> dict[str, dict]:
    return {r["week_start"]: r for r in Database(path).query("select * from monday_series order by week_start")}


def test_every_week_covers_all_of_its_tokens_and_ends_with_the_latest_published_week(history):
    db = Database(history)
    weeks = series(history)
    horizon = db.execute("select max(week_end) from weeks where status = 'published'").fetchone()[0]
    assert max(w["week_end"] for w in weeks.values()) == horizon
    for week in weeks.values():
        assert date.fromisoformat(week["week_start"]).weekday() == 0
        parts = week["measured_tokens"] + week["modeled_tokens"] + week["blended_tokens"] + week["unpriced_tokens"]
        assert parts == week["total_tokens"], week["week_start"]
        assert week["revenue_best_usd"] == pytest.approx(week["measured_usd"] + week["modeled_usd"]
                                                         + week["blended_usd"])
        assert week["revenue_low_usd"] <= week["revenue_best_usd"] * (1 + 1e-12)
        assert week["revenue_best_usd"] <= week["revenue_high_usd"] * (1 + 1e-12)
    chart = {r["week_start"]: r["total"] for r in db.query(
        "select week_start, sum(tokens) as total from chart_weeks group by week_start")}
    for start, total in chart.items():
        assert weeks[start]["total_tokens"] == total and weeks[start]["total_source"] == "chart"


def test_the_crawl_week_that_is_a_monday_week_is_measured_and_equals_the_headline(history):
    db = Database(history)
    [headline] = db.query("select * from weekly_totals where week_end = '2026-02-08'")
    week = series(history)["2026-02-02"]
    assert week["modeled_tokens"] == 0 and week["blended_tokens"] == week["total_tokens"] - week["measured_tokens"]
    # every model-variant of the week measured at its best estimate; the chart's rest blended
    assert week["measured_usd"] == pytest.approx(headline["revenue_best_usd"], rel=1e-9)
    assert week["measured_tokens"] == headline["total_tokens"]


def test_an_imported_week_with_its_split_is_measured_at_its_list_price(history):
    db = Database(history)
    [imported] = db.query("select * from weekly_totals where week_end = '2026-02-22'")  # the 2026-02-23 file
    week = series(history)["2026-02-16"]
    assert (week["basis"], week["total_source"], week["blended_tokens"]) == ("measured", "rows", 0)
    assert week["revenue_best_usd"] == pytest.approx(imported["revenue_list_usd"], rel=1e-9)


def test_a_week_of_volumes_is_modeled_at_each_model_variants_nearest_rated_week(history):
    db = Database(history)
    week = series(history)["2026-05-04"]  # the 2026-05-11 file: volumes, every split lost
    assert (week["basis"], week["measured_tokens"]) == ("modeled", 0)
    assert week["modeled_tokens"] > 0
    volumes = list(db.query("select permaslug, variant, total_tokens from monday_weeks "
                            "where week_start = '2026-05-04' and basis != 'measured'"))
    assert sum(v["total_tokens"] for v in volumes if (v["permaslug"], v["variant"]) != ("", "")) >= \
        week["modeled_tokens"]
    # Each volume at its model-variant's $/token in its latest rated week before (none after it).
    rates = {}
    for row in db.query("select week_start, permaslug, variant, total_tokens, revenue_list_usd, basis "
                        "from monday_revenue where basis = 'measured' and week_start < '2026-05-04' "
                        "order by week_start"):
        if row["revenue_list_usd"] is not None and row["total_tokens"]:
            rates[(row["permaslug"], row["variant"])] = row["revenue_list_usd"] / row["total_tokens"]
    expected = sum(v["total_tokens"] * rates[(v["permaslug"], v["variant"])] for v in volumes
                   if (v["permaslug"], v["variant"]) in rates)
    assert week["modeled_usd"] == pytest.approx(expected, rel=1e-9)


def test_a_chart_week_before_any_measurement_models_its_keys_and_blends_the_rest(history):
    db = Database(history)
    start = "2025-06-02"
    week = series(history)[start]
    assert (week["basis"], week["measured_tokens"]) == ("modeled", 0)
    keys = {split_id(r["key"]): r["tokens"] for r in db.query(
        "select key, tokens from chart_weeks where week_start = ? and key != 'Others'", [start])}
    assert week["modeled_tokens"] == sum(keys.values())  # every named key has a rated week
    assert week["blended_tokens"] == week["total_tokens"] - week["modeled_tokens"]
    assert week["blend_week_start"] is not None and week["blended_usd"] > 0


def test_authors_share_the_whole_estimate_of_each_week(history):
    """The rest is shared by the lab mix of the weeks its rate came from: the labs sum to the estimate,
    and no week leaves its rest unattributed where a rated week shows the mix."""
    db = Database(history)
    weeks = series(history)
    for start, week in weeks.items():
        authors = {a["author"]: a["revenue_best_usd"] for a in db.query(
            "select * from monday_series_authors where week_start = ?", [start])}
        assert sum(authors.values()) == pytest.approx(week["revenue_best_usd"], rel=1e-9), start
        assert monday_series.NOT_ATTRIBUTED not in authors, start


def test_the_backtest_models_each_measured_week_from_the_others(history):
    db = open_read_only(history)
    results = monday_series.backtest(db)
    measured = [start for start, w in series(history).items() if w["measured_tokens"]]
    assert sorted({r.week_start for r in results}) == measured
    assert {r.tier for r in results} >= {"measured", "top_list", "chart"}
    for result in results:
        assert result.measured_usd > 0 and result.modeled_usd > 0 and abs(result.error) < 1
        assert result.low <= result.modeled_usd <= result.high
    # The factory's weeks differ only by each model's steady week-over-week change, so a measured week
    # modeled from its neighbours comes out close.
    nearest = [r for r in results if r.week_start == (date(2026, 2, 2) - timedelta(days=7)).isoformat()
               and r.tier == "chart"]
    assert nearest and abs(nearest[0].error) < 0.15
    scores = {s.tier: s for s in monday_series.scores(results)}
    for score in scores.values():
        assert 0 <= score.median_error <= score.p90_error and 0 <= score.coverage <= 1


# --- the estimate on hand-built weeks -------------------------------------------------------------

def week(start: str, *rows: monday_series.Row, chart: dict | None = None, others: int = 0) -> monday_series.Week:
    end = (date.fromisoformat(start) + timedelta(days=6)).isoformat()
    chart = chart or {}
    total = sum(chart.values()) + others if chart else None
    return monday_series.Week(start, end, list(rows), total, dict(chart))


def crawl_week(start: str, **rows: tuple[float, int]) -> monday_series.RatedWeek:
    end = (date.fromisoformat(start) + timedelta(days=6)).isoformat()
    return monday_series.RatedWeek(start, end, {split_id(k): v for k, v in rows.items()})


def modeled(key: str, tokens: int, **kw) -> monday_series.Row:
    return monday_series.Row(split_id(key), "volume", tokens, source="chart", **kw)


def test_a_free_key_is_free_even_where_it_was_never_rated():
    """A `:free` chart key no rated week holds is 0, not the paid rest's rate."""
    rated = crawl_week("2026-07-20", **{"a/paid": (1000.0, 1_000_000), "b/tail": (500.0, 1_000_000)})
    w = week("2026-07-13", modeled("a/paid", 1_000_000), modeled("t/hy3:free", 5_000_000, free=True),
             chart={split_id("a/paid"): 1_000_000, split_id("t/hy3:free"): 5_000_000}, others=1_000_000)
    e = monday_series.Series({w.week_start: w}, [rated]).estimate(w)
    assert e.modeled_tokens == 6_000_000 and e.modeled_usd == pytest.approx(1000.0)
    assert e.blended_tokens == 1_000_000 and e.blended_usd == pytest.approx(500.0)  # b/tail's $/token
    assert e.unpriced_tokens == 0 and e.best == pytest.approx(1500.0)


def test_a_retired_paid_model_is_imputed_from_its_author_and_a_catalogued_one_without_price_is_unpriced():
    rated = crawl_week("2026-07-20", **{"x/grok-4": (800.0, 1_000_000), "o/gpt": (3000.0, 1_000_000)})
    retired = modeled("x/grok-code-fast-1", 2_000_000)  # never in any catalogue, never rated
    embedding = modeled("q/embed", 1_000_000, unpriced=True)  # listed, never with a usable price
    w = week("2025-11-10", retired, embedding,
             chart={split_id("x/grok-code-fast-1"): 2_000_000, split_id("q/embed"): 1_000_000})
    e = monday_series.Series({w.week_start: w}, [rated]).estimate(w)
    assert e.imputed_tokens == 2_000_000 and e.imputed_usd == pytest.approx(1600.0)  # x's $0.8 per 1000 tokens
    assert e.unpriced_tokens == 1_000_000
    low, high = e.band()
    assert low < e.best < high and high - e.best > e.best - low  # the unpriced tokens may cost something


def test_the_rest_is_interpolated_between_rated_weeks_with_their_lab_mix_and_extrapolated_beyond():
    early = crawl_week("2026-01-05", **{"a/named": (100.0, 1000), "g/tail": (100.0, 1000)})
    late = crawl_week("2026-01-19", **{"a/named": (100.0, 1000), "o/tail": (300.0, 1000)})
    chart = {split_id("a/named"): 1000}
    between = week("2026-01-12", modeled("a/named", 1000), chart=chart, others=1000)
    beyond = week("2026-03-02", modeled("a/named", 1000), chart=chart, others=1000)
    s = monday_series.Series({w.week_start: w for w in (between, beyond)}, [early, late])
    e = s.estimate(between)
    assert e.blended_usd == pytest.approx(200.0) and e.extrapolated_weeks == 0  # halfway from 0.1 to 0.3
    # each side's mix weighted as its rate is: half g's week, half o's
    assert e.authors["g"][0] == pytest.approx(100.0) and e.authors["o"][0] == pytest.approx(100.0)
    far = s.estimate(beyond)
    assert far.extrapolated_weeks == 6 and far.blended_usd == pytest.approx(300.0)
    near_low, near_high = e.band()
    far_low, far_high = far.band()
    assert (far_high - far_low) / far.best > (near_high - near_low) / e.best  # widened with the distance


def test_an_archived_week_counts_as_measured_at_its_list_price_and_gives_the_rest_its_lab_mix():
    """The archive's contract: an archived leaderboard's rows are measured (source `archived`, list
    prices), and later modeled weeks take the rest's composition from it."""
    rated = crawl_week("2026-07-20", **{"a/named": (100.0, 1000), "o/tail": (100.0, 1000)})
    archived = week("2025-11-03", monday_series.Row(split_id("a/named"), "measured", 1000, best=90.0,
                                                      list_usd=90.0, source="archived"),
                    monday_series.Row(split_id("m/tail"), "measured", 1000, best=50.0, list_usd=50.0,
                                        source="archived"),
                    chart={split_id("a/named"): 1000}, others=1000)
    later = week("2025-11-10", modeled("a/named", 1000), chart={split_id("a/named"): 1000}, others=1000)
    s = monday_series.Series({w.week_start: w for w in (archived, later)}, [rated])
    [first, second] = s.estimates()
    assert first.basis == "measured" and first.tier == "archived" and first.best == pytest.approx(140.0)
    assert second.blend_week_start == "2025-11-03"
    assert second.blended_usd == pytest.approx(50.0 + (100.0 - 50.0) * 1 / 37, rel=1e-6)
    assert second.authors["m"][0] > second.authors["o"][0] > 0


def test_an_archived_week_written_through_the_writer_is_measured_at_its_archived_prices(tmp_path):
    """The archive's contract, with rows made here: a crawl of era `archive` whose Monday week's rows
    carry `split_source = 'archived'`, and its catalogue in `prices` observed on the capture day. A
    model retired since (in no other catalogue) is priced at its archived price, never $0."""
    crawl_id, start, end, day = "archive:2025-11-03", "2025-11-03", "2025-11-09", "2025-11-10"
    models = {"x/retired": (3e-7, 1.5e-6, 3e-8, 900_000, 700_000, 100_000), "a/kept": (3e-6, 1.5e-5, 3e-7,
                                                                                   80_000, 20_000, 10_000)}
    db = open_for_writing(tmp_path / "history.db")
    try:
        with db.conn:
            write_crawl(db, archived_week(crawl_id, start, end, day, models))
    finally:
        db.close()
    history = Database(tmp_path / "history.db")
    [week] = history.query("select * from monday_series")
    expected = sum((prompt - cached) * p + cached * r + completion * c
                   for p, c, r, prompt, completion, cached in models.values())
    assert (week["week_start"], week["basis"], week["tier"]) == (start, "measured", "archived")
    assert week["revenue_best_usd"] == pytest.approx(expected, rel=1e-9) and week["unpriced_tokens"] == 0
    assert week["revenue_low_usd"] < week["revenue_best_usd"] < week["revenue_high_usd"]
    retired = next(history.query("select * from monday_weeks where permaslug = 'x/retired'"))
    assert (retired["basis"], retired["source"], retired["price_observed_on"]) == ("measured", "archived", day)


def archived_week(crawl_id: str, start: str, end: str, day: str,
                  models: dict[str, tuple[float, float, float, int, int, int]]) -> CrawlRecords:
    """A week read from the Web Archive (era `archive`): each model's (prompt, completion, cache read
    prices, prompt, completion, cached tokens) as the archived leaderboard and catalogue showed them."""
    rows = [ModelWeekRow(crawl_id=crawl_id, week_start=start, week_end=end, permaslug=slug, variant="standard",
                         public_id=slug, name=slug, rank=rank, total_tokens=prompt + completion,
                         prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached,
                         reasoning_tokens=0, requests=None, change=None, split_source="archived",
                         leaderboard_prompt_tokens=None, leaderboard_completion_tokens=None,
                         prompt_price=p, completion_price=c, cache_read_price=r, is_free=0, price_status="listed",
                         upper_bound_usd=None, price_basis="before", price_observed_on=day)
            for rank, (slug, (p, c, r, prompt, completion, cached)) in enumerate(models.items(), 1)]
    prices = [PriceRow(crawl_id=crawl_id, observed_on=day, public_id=slug, canonical_slug=slug, variant="standard",
                       name=slug, prompt_price=p, completion_price=c, cache_read_price=r, is_free=0, pricing="{}",
                       created=None) for slug, (p, c, r, *_) in models.items()]
    crawl_row = CrawlRow(id=crawl_id, started_at="2026-12-01T00:00:00+00:00", finished_at="2026-12-01T00:00:01+00:00",
                         status="published", era="archive", base_url="https://web.archive.org", snapshot=None,
                         week_start=start, week_end=end, selection="archive", coverage=None, planned_coverage=None,
                         token_coverage=1.0, models_ranked=len(models), models_measured=len(models), problems=0,
                         forced=0, checks="[]", stats="{}")
    return CrawlRecords(crawl=crawl_row, model_weeks=rows, prices=prices)
