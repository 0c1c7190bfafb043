"""The comparable Monday-week series on the real 2026-08-08 capture (skipped without ../shared): every
past week priced (free keys free, retired paid models imputed, unpriced only what has no price of any
kind), stable when real data arrives for other weeks (the earlier project's weekly files), and its
report speaking of one week with every lab's share drawn."""

from __future__ import annotations

import shutil

import pytest
from sqlite_utils import Database

from orstats_crawler.history import monday_series
from orstats_crawler.history.connection import open_read_only
from orstats_crawler.report import format as fmt
from tests.conftest import CAPTURES
from tests.mermaid_tools import mermaid_blocks, xychart_series
from tests.test_import_history import run_import
from tests.test_report import in_millions, render, section

ANCHOR = CAPTURES.parent / "anchor-history"


@pytest.fixture(scope="module")
def capture_history(capture_2026_08_08):
    return capture_2026_08_08.history  # read only: the import test works on a copy


def estimates(path) -> dict[str, monday_series.Estimate]:
    db = open_read_only(path)
    try:
        return {e.week_start: e for e in monday_series.load_series(db).estimates()}
    finally:
        db.close()


def test_no_free_key_carries_revenue_and_hy3_free_is_out_of_2026_07_13(capture_history):
    weeks = estimates(capture_history)
    free = [(start, key, usd) for start, e in weeks.items() for key, (usd, _) in e.held.items() if key[1] == "free"]
    assert free and all(usd == 0 for _, _, usd in free)
    july = weeks["2026-07-13"]
    usd, tokens = july.held[("tencent/hy3-20260706", "free")]
    assert usd == 0 and tokens > 1e12  # a named key of the chart, counted at $0
    stored = next(Database(capture_history).query("select * from monday_series where week_start = '2026-07-13'"))
    assert stored["revenue_best_usd"] == pytest.approx(july.best)
    # and nowhere else: the priced rows' dollars are the named parts of the estimate, and hy3:free's
    # tokens are among them, not in the rest priced at the blended rate
    assert sum(u for u, _ in july.held.values()) == pytest.approx(july.measured_usd + july.modeled_usd)
    assert july.total_tokens - july.blended_tokens >= tokens


def test_unpriced_tokens_are_only_the_rows_with_no_price_of_any_kind(capture_history):
    """Independently of the estimate: a paid row no catalogue gives a usable price, ranked by the crawl
    without a best estimate (no list or effective price) or listed without a price."""
    db = Database(capture_history)
    listed_unpriced = {}
    for r in db.query("""
        SELECT m.week_start, SUM(m.total_tokens) AS tokens FROM monday_weeks m
        WHERE m.variant != 'free' AND m.total_tokens IS NOT NULL
          AND (EXISTS (SELECT 1 FROM weekly_revenue r WHERE r.permaslug = m.permaslug AND r.variant = m.variant
                       AND r.revenue_best_usd IS NULL AND r.total_tokens > 0)
               OR EXISTS (SELECT 1 FROM prices p WHERE p.canonical_slug = m.permaslug AND p.variant = m.variant))
          AND NOT EXISTS (SELECT 1 FROM prices p WHERE p.canonical_slug = m.permaslug AND p.variant = m.variant
                          AND p.prompt_price IS NOT NULL AND p.completion_price IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM weekly_revenue r WHERE r.permaslug = m.permaslug AND r.variant = m.variant
                          AND r.revenue_best_usd IS NOT NULL)
          AND NOT (m.basis = 'measured' AND m.prompt_tokens IS NOT NULL AND EXISTS (
                   SELECT 1 FROM effective_prices e WHERE e.crawl_id = m.crawl_id AND e.permaslug = m.permaslug
                   AND e.variant = m.variant AND e.weighted_input_price IS NOT NULL))
        GROUP BY 1"""):
        listed_unpriced[r["week_start"]] = r["tokens"]
    series = {r["week_start"]: r for r in db.query("select * from monday_series")}
    for start, week in series.items():
        assert week["unpriced_tokens"] == listed_unpriced.get(start, 0), start
    # the retired paid models of the issue are priced now (imputed from their author), not unpriced
    retired = {r["week_start"]: r["imputed_tokens"] for r in series.values()}
    assert retired["2025-11-10"] >= 1.45e12 and retired["2026-03-30"] >= 3.07e12


def test_importing_the_earlier_projects_weeks_moves_every_week_by_less_than_its_band(capture_history, tmp_path):
    if not ANCHOR.is_dir():
        pytest.skip(f"{ANCHOR} not available")
    with_anchor = tmp_path / "with-anchor.db"
    shutil.copy(capture_history, with_anchor)
    run_import(with_anchor, ANCHOR)
    before = {r["week_start"]: r for r in Database(capture_history).query("select * from monday_series")}
    after = {r["week_start"]: r for r in Database(with_anchor).query("select * from monday_series")}
    both = sorted(set(before) & set(after))
    assert len(both) >= 50
    changed = [start for start in both if after[start]["revenue_best_usd"] != before[start]["revenue_best_usd"]]
    assert len(changed) >= 25  # the imported weeks and their neighbours did move
    for start in both:
        old, new = before[start], after[start]
        assert old["revenue_low_usd"] <= new["revenue_best_usd"] <= old["revenue_high_usd"], start


def test_the_report_of_2026_08_08_speaks_of_one_week_and_draws_no_lab_at_zero_by_method(capture_history, tmp_path):
    text = (render(capture_history, tmp_path / "reports", method="best").readme).read_text(encoding="utf-8")
    [totals] = Database(capture_history).query("select * from weekly_totals")
    week = f"{totals['week_start']} to {totals['week_end']}"
    assert week == "2026-08-01 to 2026-08-07"
    assert f"(week {week}, 7 complete UTC days)" in text  # the page's week, the Summary's
    summary = section(text, "Summary")
    assert f"**{fmt.usd(totals['revenue_best_usd'])}**" in summary
    takeaway = " ".join(summary.split("**Takeaway:**")[1].split("\n\n")[0].split())
    assert f"to {fmt.usd(totals['revenue_best_usd'])} (this page's week {week}, 0% modeled)" in takeaway
    [chart] = mermaid_blocks(section(text, "Revenue Over Time"))
    bars = xychart_series(chart)["bar"]
    last = [series[-1] for series in bars]  # the chart's last bar: the headline week, in its own series
    assert sorted(last) == ["0"] * (len(bars) - 1) + [in_millions(totals["revenue_best_usd"])]
    assert f"then the Summary's week {week}" in " ".join(section(text, "Revenue Over Time").split())

    [lines] = mermaid_blocks(section(text, "Revenue by Author"))
    for share in xychart_series(lines)["line"]:
        values = [float(v) for v in share]
        for before, now, after in zip(values, values[1:], values[2:]):
            assert not (now == 0 and before >= 5 and after >= 5), share
        while values and values[0] == 0:  # before the lab's first model
            values.pop(0)
        assert 0 not in values, share  # on this capture, every charted lab holds a share once it has one
