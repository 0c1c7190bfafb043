"""``crawl_model_revenue``, ``crawl_revenue_totals`` and ``crawl_provider_revenue``
(history/crawl_revenue.py), kept by the writer
crawl by crawl, against the formulas evaluated over the whole history here: the same rows after
each write (a rejected rerun, a crawl stored again with other rows), and what the views read from
them (weekly_revenue, weekly_totals) is the formulas' figures of the weeks shown."""

from __future__ import annotations

from dataclasses import replace

from sqlite_utils import Database

from bench.history import crawl_records_of, synthetic_models
from orstats_crawler.history import crawl_revenue
from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.history.views import CRAWL_MODEL_REVENUE, CRAWL_PROVIDER_REVENUE, CRAWL_REVENUE_TOTALS
from orstats_crawler.history.writer import write_crawl

WEEKS = 4
MODELS = synthetic_models(12)
# The totals summed over the formulas' rows, not over the stored ones.
COMPUTED_TOTALS = CRAWL_REVENUE_TOTALS.replace("FROM crawl_model_revenue r", f"FROM ({CRAWL_MODEL_REVENUE}) r")
MODEL_KEY = "crawl_id, week_start, week_end, permaslug, variant"
ENDPOINT_KEY = MODEL_KEY + ", endpoint_id"


def rows(db: Database, sql: str, order: str) -> list[tuple]:
    return db.execute(f"SELECT * FROM ({sql}) ORDER BY {order}").fetchall()


def assert_kept(db: Database) -> None:
    assert rows(db, f"SELECT * FROM {crawl_revenue.MODELS}", MODEL_KEY) == rows(db, CRAWL_MODEL_REVENUE, MODEL_KEY)
    shares = rows(db, f"SELECT * FROM {crawl_revenue.PROVIDERS}", ENDPOINT_KEY)
    assert shares and shares == rows(db, CRAWL_PROVIDER_REVENUE, ENDPOINT_KEY)
    stored = rows(db, f"SELECT * FROM {crawl_revenue.TOTALS}", "crawl_id")
    computed = rows(db, COMPUTED_TOTALS, "crawl_id")
    assert [row[:4] for row in stored] == [row[:4] for row in computed]
    for kept, summed in zip(stored, computed):  # the same sums, added in the order each query reads the rows
        assert kept == tuple(summed) or all(abs(a - b) <= 1e-9 * abs(b) if isinstance(b, float) else a == b
                                            for a, b in zip(kept, summed))


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
    totals = {r["crawl_id"]: r for r in db.query("SELECT * FROM weekly_totals")}
    assert set(totals) == {f"crawl-{week}" for week in range(WEEKS)}
    assert totals["crawl-3"]["models"] == 8
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
