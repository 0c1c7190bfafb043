"""``crawl_model_revenue``, ``crawl_revenue_totals``, ``crawl_provider_revenue`` and
``crawl_provider_totals``: every revenue figure of each stored crawl's model-weeks
(views.CRAWL_MODEL_REVENUE), its week's sums (views.CRAWL_REVENUE_TOTALS), its model-weeks' shares
by provider endpoint (views.CRAWL_PROVIDER_REVENUE) and their sums by provider
(views.CRAWL_PROVIDER_TOTALS), kept by the writer.

The formulas read only the crawl's own rows (its model-weeks, effective prices, provider summaries
and crawl row), which are written once under its id, so the figures are computed once,
when it is stored: readers (weekly_revenue, weekly_totals, provider_endpoint_weekly,
provider_totals_weekly and every view and page above them) read them instead of evaluating
the formulas over the history again. A crawl stored again under its id gets them anew.
"""

from __future__ import annotations

from sqlite_utils import Database

from orstats_crawler.history.views import (CRAWL_MODEL_REVENUE, CRAWL_PROVIDER_REVENUE, CRAWL_PROVIDER_TOTALS,
                                           CRAWL_REVENUE_TOTALS)

MODELS, TOTALS, PROVIDERS = "crawl_model_revenue", "crawl_revenue_totals", "crawl_provider_revenue"
PROVIDER_TOTALS = "crawl_provider_totals"
# (table, the SQL of its rows, its key), in the order they are computed: the totals and the
# providers' shares from the stored model rows, the providers' sums from the stored shares.
_TABLES = ((MODELS, CRAWL_MODEL_REVENUE, ("crawl_id", "week_start", "week_end", "permaslug", "variant")),
           (TOTALS, CRAWL_REVENUE_TOTALS, ("crawl_id", "week_start", "week_end")),
           (PROVIDERS, CRAWL_PROVIDER_REVENUE, ("crawl_id", "week_start", "week_end", "permaslug", "variant",
                                                "endpoint_id")),
           (PROVIDER_TOTALS, CRAWL_PROVIDER_TOTALS, ("crawl_id", "week_start", "week_end", "provider_slug")))
TABLES = tuple(table for table, _, _ in _TABLES)
# The rows' lookups besides a crawl's: a week's by its end (the canned queries' week, the providers
# dashboard's year), as model_weeks has them; one model-variant's weeks (the model dashboard).
_LOOKUPS = ((MODELS, "week_end", ("week_end", "permaslug", "variant")),
            (MODELS, "model", ("permaslug", "variant", "week_end")),
            (PROVIDERS, "week_end", ("week_end",)),
            (PROVIDER_TOTALS, "week_end", ("week_end",)))


def _of(tables: tuple[str, ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [entry for entry in _TABLES if entry[0] in tables]


def create(db: Database, tables: tuple[str, ...] = TABLES) -> None:
    """The tables named (each migration creates those it added), their columns as the SQL names them
    (with its values' affinity), empty."""
    for table, sql, key in _of(tables):
        db.execute(f"CREATE TABLE [{table}] AS SELECT * FROM ({sql}) WHERE 0")
        db.execute(f"CREATE UNIQUE INDEX [idx_{table}_key] ON [{table}] ({', '.join(key)})")
    for table, name, columns in _LOOKUPS:
        if table in tables:
            db.execute(f"CREATE INDEX [idx_{table}_{name}] ON [{table}] ({', '.join(columns)})")


def update(db: Database, crawl_id: str) -> None:
    """The figures of one crawl, as stored now (inside the writer's transaction)."""
    for table, sql, _ in _TABLES:
        db.execute(f"DELETE FROM [{table}] WHERE crawl_id = ?", [crawl_id])
        db.execute(f"INSERT INTO [{table}] SELECT * FROM ({sql}) WHERE crawl_id = ?", [crawl_id])


def rebuild(db: Database, tables: tuple[str, ...] = TABLES) -> None:
    """The named tables' figures of every stored crawl (inside the caller's transaction)."""
    for table, sql, _ in _of(tables):
        db.execute(f"DELETE FROM [{table}]")
        db.execute(f"INSERT INTO [{table}] SELECT * FROM ({sql})")
