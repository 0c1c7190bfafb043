"""The SQLite history: tables, views and their migrations (sqlite-utils ``Migrations``).

Every crawl keeps its own rows (keyed by ``crawl_id``); the ``weeks`` table says which crawl is
the published one of each week, so a rerun of a week replaces what readers see without losing
anything. A new column or table is a new migration at the bottom of this file, never an edit of
an applied one.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("orstats_crawler")

# The revenue formulas, once, in SQL: every view and every reader uses these.
# Cached tokens are part of prompt tokens, reasoning part of completion (sources doc, section 7).
# NULL propagates: an unknown split or an unknown price gives an unknown revenue, never 0.
KNOWN_ZERO = "m.is_free = 1 OR (m.prompt_price = 0 AND m.completion_price = 0)"
REVENUE_LIST = f"""CASE WHEN {KNOWN_ZERO} THEN 0.0 ELSE
    (m.prompt_tokens - m.cached_tokens) * m.prompt_price + m.cached_tokens * m.cache_read_price
    + m.completion_tokens * m.completion_price END"""
# The seed README's formula (charges every cached token twice), kept for continuity.
REVENUE_SEED = f"""CASE WHEN {KNOWN_ZERO} THEN 0.0 ELSE
    m.prompt_tokens * m.prompt_price + m.completion_tokens * m.completion_price
    + m.cached_tokens * m.cache_read_price END"""
# No cache discount: the most the week can have cost (known even when the split is not).
REVENUE_HIGH = f"""CASE WHEN {KNOWN_ZERO} THEN 0.0 ELSE
    m.prompt_tokens * m.prompt_price + m.completion_tokens * m.completion_price END"""


def monday_of(day: str) -> str:
    """SQL for the Monday on or before the day in column ``day`` (the start of its chart week)."""
    return f"date({day}, '-6 days', 'weekday 1')"


def known_sum(column: str, alias: str = "r") -> str:
    """The SUM of a revenue column over the rows whose revenue is known; NULL unless some paid (or
    unpriced) row's is: free rows alone (0 each) do not make a week's revenue known, or $0."""
    paid = f"COALESCE({alias}.is_free, 0) = 0"
    return (f"CASE WHEN COUNT(CASE WHEN {paid} THEN {alias}.{column} END) > 0 OR SUM({paid}) = 0 "
            f"THEN SUM({alias}.{column}) END")


# What the traffic actually paid (effective-pricing, $/M per total prompt and per completion token:
# cache reads and writes, provider mix and long-context tiers included). It needs no split, so it is
# known wherever an effective price is, measured split or not (prompt/completion are then the
# leaderboard's). NULL where the source gives no price (`:batch`, no traffic); 0 for free variants.
REVENUE_EFFECTIVE = f"""CASE WHEN {KNOWN_ZERO} THEN 0.0 ELSE
    (m.prompt_tokens * e.weighted_input_price + m.completion_tokens * e.weighted_output_price) / 1e6 END"""


@migrations()
def m001_initial(db: Database) -> None:
    db["crawls"].create(
        {
            "id": str, "started_at": str, "finished_at": str, "status": str, "era": str,
            "base_url": str, "snapshot": str, "week_start": str, "week_end": str,
            "selection": str, "coverage": float, "planned_coverage": float, "token_coverage": float,
            "models_ranked": int, "models_measured": int, "problems": int, "forced": int,
            "checks": str, "stats": str,
        },
        pk="id",
    )
    db["weeks"].create(
        {"week_start": str, "week_end": str, "crawl_id": str, "status": str},
        pk=("week_start", "week_end"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["model_weeks"].create(
        {
            "crawl_id": str, "week_start": str, "week_end": str, "permaslug": str, "variant": str,
            "public_id": str, "name": str, "rank": int,
            "total_tokens": int, "prompt_tokens": int, "completion_tokens": int,
            "cached_tokens": int, "reasoning_tokens": int, "requests": int, "change": float,
            "split_source": str, "leaderboard_prompt_tokens": int, "leaderboard_completion_tokens": int,
            "prompt_price": float, "completion_price": float, "cache_read_price": float,
            "is_free": int, "price_status": str, "upper_bound_usd": float,
        },
        pk=("crawl_id", "week_end", "permaslug", "variant"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["daily_activity"].create(
        {
            "crawl_id": str, "permaslug": str, "variant": str, "day": str,
            "prompt_tokens": int, "completion_tokens": int, "cached_tokens": int,
            "reasoning_tokens": int, "requests": int, "tool_calls": int,
        },
        pk=("crawl_id", "permaslug", "variant", "day"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["activity_fetches"].create(
        {
            "crawl_id": str, "permaslug": str, "variant": str, "selected": int, "tokens": int,
            "upper_bound_usd": float, "status": str, "url": str, "days": int, "partial_day": str,
        },
        pk=("crawl_id", "permaslug", "variant"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["prices"].create(
        {
            "crawl_id": str, "observed_on": str, "public_id": str, "canonical_slug": str,
            "variant": str, "name": str, "prompt_price": float, "completion_price": float,
            "cache_read_price": float, "is_free": int, "pricing": str, "created": int,
        },
        pk=("crawl_id", "public_id"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["chart_weeks"].create(
        {"week_start": str, "week_end": str, "key": str, "tokens": int, "crawl_id": str},
        pk=("week_start", "week_end", "key"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["problems"].create(
        {
            "id": int, "crawl_id": str, "source": str, "url": str, "field": str, "message": str,
            "permaslug": str, "variant": str, "status": int,
        },
        pk="id",
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["responses"].create(
        {
            "crawl_id": str, "url": str, "status": int, "content_type": str, "fetched_at": str,
            "bytes": int, "sha256": str,
        },
        pk=("crawl_id", "url"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    # Bodies are stored once per content (gzip), however many crawls saw them.
    db["response_bodies"].create({"sha256": str, "body_gz": bytes}, pk="sha256")
    db["prices"].create_index(["canonical_slug", "variant", "observed_on"])
    db["model_weeks"].create_index(["week_end", "permaslug", "variant"])
    db["problems"].create_index(["crawl_id"])


# Views are derived, so they are (re)created on every open from the definitions below: the one
# place to change what readers see. Tables change only through migrations.
VIEWS = {
    "weekly_revenue": f"""
SELECT
  m.week_start, m.week_end, m.permaslug, m.variant, m.public_id, m.name, m.rank,
  m.total_tokens, m.prompt_tokens, m.completion_tokens, m.cached_tokens, m.reasoning_tokens,
  m.requests, m.change, m.split_source,
  m.prompt_price, m.completion_price, m.cache_read_price, m.is_free, m.price_status,
  m.price_basis, m.price_observed_on,
  {REVENUE_LIST} AS revenue_list_usd,
  {REVENUE_SEED} AS revenue_seed_usd,
  {REVENUE_HIGH} AS revenue_high_usd,
  e.weighted_input_price AS effective_input_price, e.weighted_output_price AS effective_output_price,
  e.cache_hit_rate AS effective_cache_hit_rate,
  {REVENUE_EFFECTIVE} AS revenue_effective_usd,
  c.status, m.crawl_id
FROM weeks w
JOIN model_weeks m ON m.crawl_id = w.crawl_id AND m.week_start = w.week_start AND m.week_end = w.week_end
JOIN crawls c ON c.id = w.crawl_id
LEFT JOIN effective_prices e ON e.crawl_id = m.crawl_id AND e.permaslug = m.permaslug AND e.variant = m.variant
""",
}

# The revenue columns of weekly_revenue that are summed per week; a new formula adds its column here.
REVENUE_COLUMNS = ["revenue_list_usd", "revenue_seed_usd", "revenue_high_usd", "revenue_effective_usd"]


def _weekly_totals_sql() -> str:
    """One row per week shown: counts, token sums and, per revenue column, the sum over the
    model-variants whose revenue is known (``known_sum``: NULL when no paid row's is) with how many
    model-variants and tokens that sum covers. ``chart_tokens`` is the chart's total of the same
    days (Others included), NULL when the week is not one of the chart's Monday weeks."""
    revenue = ",\n  ".join(
        f"{known_sum(c)} AS {c}, COUNT(r.{c}) AS {c}_models, "
        f"SUM(CASE WHEN r.{c} IS NOT NULL THEN r.total_tokens END) AS {c}_tokens"
        for c in REVENUE_COLUMNS)
    return f"""
SELECT
  r.week_start, r.week_end, r.status, r.crawl_id, c.finished_at,
  c.coverage AS spend_coverage, c.token_coverage,
  COUNT(*) AS models,
  SUM(r.is_free = 1) AS free_models,
  SUM(COALESCE(r.is_free, 0) = 0 AND r.prompt_price IS NOT NULL AND r.completion_price IS NOT NULL) AS paid_models,
  SUM(COALESCE(r.is_free, 0) = 0 AND (r.prompt_price IS NULL OR r.completion_price IS NULL)) AS unpriced_models,
  SUM(r.cached_tokens IS NOT NULL) AS split_models,
  SUM(r.total_tokens) AS total_tokens,
  SUM(CASE WHEN r.cached_tokens IS NOT NULL THEN r.prompt_tokens - r.cached_tokens END) AS split_uncached_prompt_tokens,
  SUM(r.cached_tokens) AS split_cached_tokens,
  SUM(CASE WHEN r.cached_tokens IS NOT NULL THEN r.completion_tokens END) AS split_completion_tokens,
  SUM(CASE WHEN r.cached_tokens IS NOT NULL THEN r.reasoning_tokens END) AS split_reasoning_tokens,
  {revenue},
  (SELECT SUM(k.tokens) FROM chart_weeks k
   WHERE k.week_start = r.week_start AND k.week_end = r.week_end) AS chart_tokens
FROM weekly_revenue r
JOIN crawls c ON c.id = r.crawl_id
GROUP BY r.week_start, r.week_end
"""


VIEWS["weekly_totals"] = _weekly_totals_sql()


def create_views(db: Database) -> None:
    for name, sql in VIEWS.items():
        db.create_view(name, sql, replace=True)


def open_history(path: str) -> Database:
    """Open (creating if needed) a history file, ready for concurrent crawls: WAL, busy timeout."""
    db = Database(path)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA foreign_keys = ON")
    if db.journal_mode != "wal":
        db.enable_wal()
    with immediate(db):  # two crawls starting together must not both create the tables
        migrations.apply(db)
        create_views(db)
    return db


@contextmanager
def immediate(db: Database) -> Iterator[Database]:
    """A write transaction that takes the write lock up front (waiting up to the busy timeout),
    so two writers queue instead of failing half-way when one upgrades a read lock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


@migrations()
def m301_effective_prices(db: Database) -> None:
    """What each fetched model-variant's traffic actually paid in the crawl's week ($/M)."""
    db["effective_prices"].create(
        {
            "crawl_id": str, "permaslug": str, "variant": str,
            "weighted_input_price": float, "weighted_output_price": float, "cache_hit_rate": float,
            "providers": int, "provider_tokens": int, "status": str, "url": str, "fetched_at": str,
        },
        pk=("crawl_id", "permaslug", "variant"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )


@migrations()
def m302_dataset_daily(db: Database) -> None:
    """The official Data API's daily tokens: top 50 model-variants per day plus `other`.

    One row per (day, key) whatever crawl fetched it: the dataset is live, the newest answer wins.
    """
    db["dataset_daily"].create(
        {
            "day": str, "key": str, "permaslug": str, "variant": str, "total_tokens": int,
            "as_of": str, "crawl_id": str,
        },
        pk=("day", "key"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["dataset_daily"].create_index(["permaslug", "variant", "day"])


# The Data API's days by Monday week (the chart's weeks). A model-variant outside the top 50 on some
# days has those days in `other`, so its weekly total is only complete when `days` = 7.
DATASET_CITATION = "Source: OpenRouter (openrouter.ai/rankings), as of "
_MONDAY = monday_of("d.day")
VIEWS["dataset_weekly"] = f"""
SELECT {_MONDAY} AS week_start, date({_MONDAY}, '+6 days') AS week_end,
  d.key, d.permaslug, d.variant, SUM(d.total_tokens) AS total_tokens, COUNT(*) AS days, MAX(d.as_of) AS as_of,
  MAX(d.crawl_id) AS crawl_id
FROM dataset_daily d
GROUP BY 1, 2, d.key
"""
# Per week: the total, the `other` rows and the coverage of the named top 50 (1 - other / total).
VIEWS["dataset_weeks"] = f"""
SELECT {_MONDAY} AS week_start, date({_MONDAY}, '+6 days') AS week_end,
  COUNT(DISTINCT d.day) AS days, COUNT(DISTINCT d.day) = 7 AS complete,
  SUM(d.total_tokens) AS total_tokens,
  SUM(CASE WHEN d.key = 'other' THEN d.total_tokens ELSE 0 END) AS other_tokens,
  1.0 - 1.0 * SUM(CASE WHEN d.key = 'other' THEN d.total_tokens ELSE 0 END) / NULLIF(SUM(d.total_tokens), 0) AS coverage,
  MAX(d.as_of) AS as_of, '{DATASET_CITATION}' || MAX(d.as_of) AS citation
FROM dataset_daily d
GROUP BY 1, 2
"""


# --- issue 4: price bases, the Monday-week series, revenue by author -----------------------------

@migrations()
def m101_monday_weeks(db: Database) -> None:
    """The Monday-week series (history/monday.py), and which prices priced each week row."""
    db["monday_weeks"].create(
        {
            "week_start": str, "week_end": str, "permaslug": str, "variant": str,
            "total_tokens": int, "prompt_tokens": int, "completion_tokens": int, "cached_tokens": int,
            "reasoning_tokens": int, "requests": int,
            "basis": str, "source": str, "mix_week_start": str,
            "prompt_price": float, "completion_price": float, "cache_read_price": float, "is_free": int,
            "price_basis": str, "price_observed_on": str, "crawl_id": str,
        },
        pk=("week_start", "week_end", "permaslug", "variant"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["model_weeks"].add_column("price_basis", str)
    db["model_weeks"].add_column("price_observed_on", str)
    # Rows stored before this: every crawl priced its week with its own catalogue.
    db.execute("""UPDATE model_weeks SET price_basis = 'crawl', price_observed_on =
                  (SELECT MIN(p.observed_on) FROM prices p WHERE p.crawl_id = model_weeks.crawl_id)""")


# The report's time series: one row per Monday week and model-variant (basis measured | modeled |
# volume; price_basis before | after | free), with the revenue formulas of weekly_revenue.
VIEWS["monday_revenue"] = f"""
SELECT
  m.week_start, m.week_end, m.permaslug, m.variant, m.basis, m.source, m.mix_week_start,
  m.total_tokens, m.prompt_tokens, m.completion_tokens, m.cached_tokens, m.reasoning_tokens, m.requests,
  m.prompt_price, m.completion_price, m.cache_read_price, m.is_free, m.price_basis, m.price_observed_on,
  {REVENUE_LIST} AS revenue_list_usd,
  {REVENUE_SEED} AS revenue_seed_usd,
  {REVENUE_HIGH} AS revenue_high_usd,
  m.crawl_id
FROM monday_weeks m
"""
# Per Monday week: `modeled` when any row's split is modeled, `measured` when every split is; the
# known revenue with the rows and tokens it covers; the chart's total of the week (Others included).
VIEWS["monday_totals"] = f"""
SELECT
  r.week_start, r.week_end,
  CASE WHEN SUM(r.basis = 'modeled') THEN 'modeled' WHEN SUM(r.basis = 'measured') THEN 'measured'
       ELSE 'volume' END AS basis,
  COUNT(*) AS models, SUM(r.basis = 'measured') AS measured_models, SUM(r.basis = 'modeled') AS modeled_models,
  SUM(r.basis = 'volume') AS volume_models, SUM(r.total_tokens) AS total_tokens,
  {known_sum("revenue_list_usd")} AS revenue_list_usd,
  {known_sum("revenue_seed_usd")} AS revenue_seed_usd,
  COUNT(r.revenue_list_usd) AS revenue_list_usd_models,
  SUM(CASE WHEN r.revenue_list_usd IS NOT NULL THEN r.total_tokens END) AS revenue_list_usd_tokens,
  GROUP_CONCAT(DISTINCT r.price_basis) AS price_bases,
  (SELECT SUM(k.tokens) FROM chart_weeks k
   WHERE k.week_start = r.week_start AND k.week_end = r.week_end) AS chart_tokens
FROM monday_revenue r
GROUP BY r.week_start, r.week_end
"""


def _author_sql(source: str, columns: list[str], carried: str) -> str:
    """Weekly tokens and revenue per author (the permaslug before `/`) of a per-model view: its token
    share, and per revenue column its known revenue (``known_sum``) and share of the week's known
    revenue (`<column>_share`): token share vs dollar share.

    The week's totals are window sums over the week's authors, not a join with a per-week CTE: a
    CTE read twice is materialized over the whole history, so asking for one week cost as much as
    asking for all (1.6 s a week on 10 years, and the report asks once per week: bench/history.py)."""
    sums = ",\n  ".join(f"{known_sum(c)} AS {c}, {known_sum(c)} / NULLIF(SUM(SUM(r.{c})) OVER week, 0) AS {c}_share"
                        for c in columns)
    return f"""
SELECT r.week_start, r.week_end, r.author, {carried},
  COUNT(*) AS models, SUM(r.total_tokens) AS total_tokens,
  1.0 * SUM(r.total_tokens) / NULLIF(SUM(SUM(r.total_tokens)) OVER week, 0) AS token_share,
  COUNT(*) - COUNT(r.revenue_list_usd) AS unknown_revenue_models,
  {sums}
FROM (
  SELECT *, CASE WHEN instr(permaslug, '/') > 0 THEN substr(permaslug, 1, instr(permaslug, '/') - 1)
                 ELSE permaslug END AS author
  FROM {source}
) r
GROUP BY r.week_start, r.week_end, r.author
WINDOW week AS (PARTITION BY r.week_start, r.week_end)
"""


VIEWS["author_weekly"] = _author_sql("weekly_revenue", REVENUE_COLUMNS, "MAX(r.status) AS status")
VIEWS["author_monday"] = _author_sql("monday_revenue", ["revenue_list_usd", "revenue_seed_usd", "revenue_high_usd"],
                                     "GROUP_CONCAT(DISTINCT r.basis) AS bases")


@migrations()
def m303_drop_dataset_weekly_revenue(db: Database) -> None:
    """The Data API's weeks now feed the Monday-week series (history/monday.py, source `data_api`),
    which models their revenue with the nearest measured mix and the prices valid in each week: the
    earlier view that did the same with the nearest week's revenue per token goes."""
    db.execute("DROP VIEW IF EXISTS dataset_weekly_revenue")


@migrations()
def m102_monday_weeks_indexes(db: Database) -> None:
    """What folding one crawl into the Monday series looks up: a model-variant's weeks, a crawl's rows."""
    db["monday_weeks"].create_index(["permaslug", "variant", "week_end"])
    db["monday_weeks"].create_index(["crawl_id"])


@migrations()
def m103_monday_weeks_lookups(db: Database) -> None:
    """The nearest measured week of a model-variant (its mix), and the weeks priced from a day on."""
    db["monday_weeks"].create_index(["permaslug", "variant", "basis", "week_start"])
    db["monday_weeks"].create_index(["permaslug", "variant", "price_observed_on"])
