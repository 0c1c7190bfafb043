"""Every formula once (history/formulas.py, history/views.py): each revenue column is computed by one
view and read by the others; the spider's upper bound is the high formula; the author rule of the
views is the Python one."""

from __future__ import annotations

import re
import sqlite3

import pytest

from orstats_crawler import pricing
from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.history.formulas import (REVENUE_EFFECTIVE, REVENUE_EFFECTIVE_WEEK, REVENUE_HIGH, REVENUE_LIST,
                                              REVENUE_SEED, author, evaluate, upper_bound_usd, upper_bounds)
from orstats_crawler.history.views import CRAWL_MODEL_REVENUE, MODEL_WEEK_REVENUE, VIEWS

FORMULAS = {"list": REVENUE_LIST, "seed": REVENUE_SEED, "high": REVENUE_HIGH, "effective": REVENUE_EFFECTIVE,
            "effective_week": REVENUE_EFFECTIVE_WEEK}


def stored_views(tmp_path) -> dict[str, str]:
    """The views as a history stores them."""
    db = open_for_writing(tmp_path / "history.db")
    try:
        return {name: sql for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'")}
    finally:
        db.close()


def test_each_revenue_column_of_a_crawl_week_is_computed_by_one_view_and_read_by_the_others(tmp_path):
    views = stored_views(tmp_path)
    assert set(views) == {name for name, _ in VIEWS}
    for name, formula in FORMULAS.items():
        # model_week_revenue computes it once; monday_revenue once over the Monday weeks (the effective
        # figure for a measured row's best estimate); no other view writes it out (weekly_revenue, the
        # totals and the author views read the columns the writer stored).
        holders = {view: sql.count(formula) for view, sql in views.items() if formula in sql}
        assert holders == {"model_week_revenue": 1, "monday_revenue": 1}, name
        assert CRAWL_MODEL_REVENUE.count(formula) == 1  # the stored figures: model_week_revenue's
    # The best estimate, what the writer stores, reads model_week_revenue's columns.
    best = CRAWL_MODEL_REVENUE.replace(MODEL_WEEK_REVENUE, "")
    assert "COALESCE(r.revenue_effective_week_usd, r.revenue_list_usd, r.revenue_imputed_usd)" in best
    assert not re.search(r"prompt_price \*|weighted_input_price", best)  # no formula inlined: columns only
    assert len(best) < 2000
    assert "crawl_model_revenue" in views["weekly_revenue"] and "crawl_revenue_totals" in views["weekly_totals"]


def test_the_spiders_upper_bound_is_the_high_formula():
    listed = pricing.list_price({"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.0000003"},
                                "standard")
    rows = [(1_000_000, 100_000, listed), (7, 3, pricing.FREE), (5, 5, pricing.NO_PRICE), (0, 0, listed)]
    as_view = evaluate(REVENUE_HIGH, [{"prompt_tokens": p, "completion_tokens": c, "prompt_price": price.prompt,
                                       "completion_price": price.completion, "is_free": int(price.is_free)}
                                      for p, c, price in rows])
    assert upper_bounds(rows) == as_view == [pytest.approx(4.5), 0.0, None, 0.0]
    assert upper_bound_usd(1_000_000, 100_000, listed) == 1_000_000 * 0.000003 + 100_000 * 0.000015


@pytest.mark.parametrize("permaslug", ["anthropic/claude-4.6-sonnet-20260217", "openrouter/auto", "no-author",
                                       "a/b/c", "/leading", "trailing/", ""])
def test_the_views_author_is_the_python_authors(permaslug):
    with sqlite3.connect(":memory:") as db:
        [(in_sql,)] = db.execute(f"SELECT {author(':slug')}", {"slug": permaslug})
    assert in_sql == pricing.author_of(permaslug)
