"""``crawl_model_revenue``, ``crawl_revenue_totals``, ``crawl_provider_revenue`` and
``crawl_provider_totals`` (history/crawl_revenue.py), kept by the writer
crawl by crawl, against the formulas evaluated over the whole history here: the same rows after
each write (a rejected rerun, a crawl stored again with other rows), and what the views read from
them (weekly_revenue, weekly_totals) is the formulas' figures of the weeks shown. The providers
chart, which reads the provider totals, draws what the endpoint rows sum to."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pytest
from sqlite_utils import Database

from bench.history import crawl_records_of, synthetic_models
from orstats_crawler.history import crawl_revenue
from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.history.views import CRAWL_MODEL_REVENUE, CRAWL_PROVIDER_REVENUE, CRAWL_REVENUE_TOTALS
from orstats_crawler.history.writer import write_crawl
from tests.test_datasette import read_metadata

WEEKS = 4
MODELS = synthetic_models(12)
# The totals summed over the formulas' rows, not over the stored ones.
COMPUTED_TOTALS = CRAWL_REVENUE_TOTALS.replace("FROM crawl_model_revenue r", f"FROM ({CRAWL_MODEL_REVENUE}) r")
MODEL_KEY = "crawl_id, week_start, week_end, permaslug, variant"
ENDPOINT_KEY = MODEL_KEY + ", endpoint_id"
PROVIDER_KEY = "crawl_id, week_start, week_end, provider_slug"
PROVIDER_SHARES = read_metadata()[
    "plugins"]["datasette-dashboards"]["providers"]["charts"]["provider_shares"]["query"]
# The providers chart as it was summed from the shown weeks' endpoint rows, before the writer kept
# each crawl's provider totals: what the chart must still draw.
PROVIDER_SHARES_FROM_ENDPOINTS = """
with shown as (
  select * from provider_endpoint_weekly
  where status = 'published'
    and week_end >= date((select max(week_end) from weeks where status = 'published'), '-364 days')
), named as (
  select provider_slug, row_number() over (order by sum(revenue_best_usd) desc, provider_slug) as slot
  from shown group by provider_slug
)
select p.week_start, p.week_end, min(n.slot, 9) as slot,
  case when n.slot <= 8 then substr(min(printf('%06d', length(p.provider_name)) || p.provider_name), 7)
       else 'other providers' end as provider,
  sum(p.revenue_best_usd) as revenue_best_usd, sum(p.tokens) as tokens,
  count(distinct p.provider_slug) as providers
from shown p join named n on n.provider_slug = p.provider_slug
where p.revenue_best_usd > 0
group by p.week_start, p.week_end, min(n.slot, 9)
order by p.week_end, slot
"""


def rows(db: Database, sql: str, order: str) -> list[tuple]:
    return db.execute(f"SELECT * FROM ({sql}) ORDER BY {order}").fetchall()


def same_value(kept, summed) -> bool:
    return kept == pytest.approx(summed, rel=1e-9) if isinstance(summed, float) else kept == summed


def same_rows(kept: list, summed: list) -> bool:
    """The same rows, their floats equal but for the order they were added in."""
    return len(kept) == len(summed) and all(
        len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b)) for a, b in zip(kept, summed))


def provider_totals_summed(db: Database) -> list[dict]:
    """Each crawl's provider totals added up here from its stored endpoint rows with revenue: the
    provider's shortest name (ties: the first in order), its endpoints, revenue and tokens."""
    totals: dict[tuple, dict] = defaultdict(lambda: {"names": [], "endpoints": 0, "revenue": 0.0, "tokens": 0.0})
    for r in db.query(f"SELECT * FROM {crawl_revenue.PROVIDERS} WHERE revenue_best_usd > 0"):
        total = totals[(r["crawl_id"], r["week_start"], r["week_end"], r["provider_slug"], r["status"])]
        total["names"].append(r["provider_name"])
        total["endpoints"] += 1
        total["revenue"] += r["revenue_best_usd"]
        total["tokens"] += r["tokens"]
    return [{"crawl_id": crawl_id, "week_start": start, "week_end": end, "provider_slug": slug,
             "provider_name": min(t["names"], key=lambda name: (len(name), name)), "endpoints": t["endpoints"],
             "revenue_best_usd": t["revenue"], "tokens": t["tokens"], "status": status}
            for (crawl_id, start, end, slug, status), t in sorted(totals.items())]


def assert_provider_totals_kept(db: Database) -> None:
    columns = ("crawl_id, week_start, week_end, provider_slug, provider_name, endpoints, revenue_best_usd, tokens, "
               "status")
    kept = list(db.query(f"SELECT {columns} FROM {crawl_revenue.PROVIDER_TOTALS} ORDER BY {PROVIDER_KEY}"))
    summed = provider_totals_summed(db)
    assert kept and [list(r.values())[:6] for r in kept] == [list(r.values())[:6] for r in summed]
    assert same_rows([list(r.values())[6:] for r in kept], [list(r.values())[6:] for r in summed])


def assert_the_providers_chart_is_unchanged(db: Database) -> None:
    drawn = db.execute(PROVIDER_SHARES).fetchall()
    assert drawn and same_rows(drawn, db.execute(PROVIDER_SHARES_FROM_ENDPOINTS).fetchall())


def assert_kept(db: Database) -> None:
    assert rows(db, f"SELECT * FROM {crawl_revenue.MODELS}", MODEL_KEY) == rows(db, CRAWL_MODEL_REVENUE, MODEL_KEY)
    shares = rows(db, f"SELECT * FROM {crawl_revenue.PROVIDERS}", ENDPOINT_KEY)
    assert shares and shares == rows(db, CRAWL_PROVIDER_REVENUE, ENDPOINT_KEY)
    assert_provider_totals_kept(db)
    stored = rows(db, f"SELECT * FROM {crawl_revenue.TOTALS}", "crawl_id")
    computed = rows(db, COMPUTED_TOTALS, "crawl_id")
    assert [row[:4] for row in stored] == [row[:4] for row in computed]
    assert same_rows(stored, computed)  # the same sums, added in the order each query reads the rows


def write(db: Database, records) -> None:
    with immediate(db):
        write_crawl(db, records)
    assert_kept(db)


def test_the_writer_keeps_each_crawls_figures_as_the_formulas_compute_them(tmp_path):
    db = open_for_writing(tmp_path / "history.db")
    for week in range(WEEKS):
        write(db, crawl_records_of(MODELS, week, WEEKS, f"crawl-{week}", "published"))
    write(db, crawl_records_of(MODELS, 2, WEEKS, "rerun-2", "rejected"))
    # Stored again under its id with other rows: its figures are those of the new rows.
    again = crawl_records_of(MODELS[:8], 3, WEEKS, "crawl-3", "published")
    again.model_weeks = [replace(r, prompt_tokens=r.prompt_tokens * 2) for r in again.model_weeks]
    write(db, again)
    assert db.execute(f"SELECT COUNT(*) FROM {crawl_revenue.MODELS} WHERE crawl_id = 'crawl-3'").fetchone()[0] == 8
    assert db.execute(f"SELECT COUNT(*) FROM {crawl_revenue.TOTALS}").fetchone()[0] == WEEKS + 1

    # The views show each week's shown crawl: the published one, not the rejected rerun.
    shown = "SELECT crawl_id FROM weeks ORDER BY week_end"
    assert [r[0] for r in db.execute(shown)] == [f"crawl-{week}" for week in range(WEEKS)]
    assert rows(db, "SELECT * FROM weekly_revenue", MODEL_KEY) == rows(
        db, f"SELECT r.* FROM ({CRAWL_MODEL_REVENUE}) r JOIN weeks w ON w.crawl_id = r.crawl_id", MODEL_KEY)
    assert rows(db, "SELECT * FROM provider_endpoint_weekly", ENDPOINT_KEY) == rows(
        db, f"SELECT p.* FROM ({CRAWL_PROVIDER_REVENUE}) p JOIN weeks w ON w.crawl_id = p.crawl_id", ENDPOINT_KEY)
    assert rows(db, "SELECT * FROM provider_totals_weekly", PROVIDER_KEY) == rows(
        db, f"SELECT t.* FROM {crawl_revenue.PROVIDER_TOTALS} t JOIN weeks w ON w.crawl_id = t.crawl_id", PROVIDER_KEY)
    totals = {r["crawl_id"]: r for r in db.query("SELECT * FROM weekly_totals")}
    assert set(totals) == {f"crawl-{week}" for week in range(WEEKS)}
    assert totals["crawl-3"]["models"] == 8
    assert_the_providers_chart_is_unchanged(db)
    db.close()


def test_the_migration_fills_the_figures_of_the_crawls_stored_before_it(tmp_path):
    db = open_for_writing(tmp_path / "history.db")
    for week in range(2):
        write(db, crawl_records_of(MODELS, week, 2, f"crawl-{week}", "published"))
    kept = rows(db, f"SELECT * FROM {crawl_revenue.MODELS}", MODEL_KEY)
    with immediate(db):
        crawl_revenue.rebuild(db)
    assert rows(db, f"SELECT * FROM {crawl_revenue.MODELS}", MODEL_KEY) == kept
    assert_kept(db)
    db.close()


def test_the_provider_totals_migration_fills_those_of_the_crawls_stored_before_it(tmp_path):
    path = tmp_path / "history.db"
    db = open_for_writing(path)
    for week in range(2):
        write(db, crawl_records_of(MODELS, week, 2, f"crawl-{week}", "published"))
    write(db, crawl_records_of(MODELS, 1, 2, "rerun-1", "rejected"))
    # As the history was before migration m903: no table, no view reading it, the migration not applied.
    db.execute("DROP VIEW provider_totals_weekly")
    db.execute(f"DROP TABLE {crawl_revenue.PROVIDER_TOTALS}")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm903_crawl_provider_totals'")
    db.conn.commit()
    db.close()
    migrated = open_for_writing(path)
    assert {r[0] for r in migrated.execute(f"SELECT crawl_id FROM {crawl_revenue.PROVIDER_TOTALS}")} == {
        "crawl-0", "crawl-1", "rerun-1"}
    assert_kept(migrated)
    assert_the_providers_chart_is_unchanged(migrated)
    migrated.close()
