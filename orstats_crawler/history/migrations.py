"""The history's tables, changed only through these migrations (sqlite-utils ``Migrations``).

Migrations are applied in the order of their names (m001, m101, ..., m303, then m304 ...): a new
column or table is a new function at the bottom, named after the last one, never an edit of an
applied one (a history file records which it has). Views are derived, and live in views.py.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from orstats_crawler.history import crawl_revenue, price_changes

migrations = Migrations("orstats_crawler")


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


@migrations()
def m101_monday_weeks(db: Database) -> None:
    """The Monday-week series (history/monday_weeks.py), and which prices priced each week row."""
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


@migrations()
def m303_drop_dataset_weekly_revenue(db: Database) -> None:
    """The Data API's weeks now feed the Monday-week series (history/monday_weeks.py, source `data_api`),
    which models their revenue with the nearest measured mix and the prices valid in each week: the
    earlier view that did the same with the nearest week's revenue per token goes."""
    db.execute("DROP VIEW IF EXISTS dataset_weekly_revenue")


@migrations()
def m304_report_state(db: Database) -> None:
    """What became of the report after the crawl was stored: `written`, `failed` (the week is
    published all the same; `report_message` says which file and why) or `not_rendered` (a rejected
    crawl leaves the report alone). NULL: an imported week, or a crawl stored before this column."""
    db["crawls"].add_column("report_status", str)
    db["crawls"].add_column("report_message", str)


@migrations()
def m305_best_estimate_inputs(db: Database) -> None:
    """What a crawl stores for its rows' best estimate (publish/week_summary.py): an unmeasured row's
    imputed cached share and where it came from, a measured row's previous 7 days from the same
    crawl's daily activity; per crawl the spend coverage it guarantees and the 10th and 90th
    percentiles of its measured cached shares (the band of an imputed row)."""
    for name, kind in (("cached_share_imputed", float), ("cached_share_from", str), ("previous_prompt_tokens", int),
                       ("previous_completion_tokens", int), ("previous_cached_tokens", int),
                       ("previous_source", str)):
        db["model_weeks"].add_column(name, kind)
    for name in ("spend_coverage", "cached_share_p10", "cached_share_p90"):
        db["crawls"].add_column(name, float)


@migrations()
def m306_monday_series(db: Database) -> None:
    """The comparable Monday-week series, one row per complete Monday week (history/monday_series.py):
    the best estimate of all of the week's tokens and its band, and how much of it was measured,
    modeled from the nearest measured week, or priced at the blended rate of the rest."""
    db["monday_series"].create(
        {
            "week_start": str, "week_end": str, "total_tokens": int, "total_source": str,
            "measured_tokens": int, "modeled_tokens": int, "blended_tokens": int,
            "measured_usd": float, "modeled_usd": float, "blended_usd": float,
            "revenue_best_usd": float, "revenue_low_usd": float, "revenue_high_usd": float,
            "basis": str, "blend_week_start": str, "unpriced_tokens": int,
        },
        pk=("week_start", "week_end"),
    )


@migrations()
def m307_monday_series_authors(db: Database) -> None:
    """Each complete Monday week's estimate by author (the permaslug before `/`): the revenue of its
    measured and modeled rows (the blended rest belongs to no author), for shares by lab over time."""
    db["monday_series_authors"].create(
        {"week_start": str, "week_end": str, "author": str, "revenue_best_usd": float, "tokens": int},
        pk=("week_start", "week_end", "author"),
    )


@migrations()
def m351_monday_series_reads(db: Database) -> None:
    """The span of weeks each Monday week's estimate read (history/monday_series.py ``Reads``): a
    crawl re-estimates only the weeks whose span reaches what it changed. Filled by the next rebuild."""
    db["monday_series_reads"].create(
        {"week_start": str, "week_end": str, "first_week": str, "last_week": str},
        pk=("week_start", "week_end"),
    )
    db["monday_series_reads"].create_index(["last_week"])


@migrations()
def m401_effective_price_verdicts(db: Database) -> None:
    """Why the gate did not believe a crawl's effective price (NULL: believed). The price is kept as
    the source gave it; the best estimate reads it only when believed, else the row falls back to
    its list price (formulas.row)."""
    db["effective_prices"].add_column("rejected_because", str)


@migrations()
def m402_chart_partial_weeks(db: Database) -> None:
    """Each crawl's view of the chart weeks not finished yet: the gate holds the week once finished
    against it (a week only grows, and not far beyond what its first days promised)."""
    db["chart_partial_weeks"].create(
        {"crawl_id": str, "week_start": str, "key": str, "tokens": int, "seen_on": str},
        pk=("crawl_id", "week_start", "key"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )


@migrations()
def m501_monday_series_band(db: Database) -> None:
    """What the comparable series' calibrated band is made of: the tokens and revenue imputed from
    their author's $/token (no price ever seen), how many weeks the rest's rate is extrapolated
    beyond the last rated week, and the week's least certain tier (history/monday_series.py)."""
    for name, kind in (("imputed_tokens", int), ("imputed_usd", float), ("extrapolated_weeks", float),
                       ("tier", str)):
        db["monday_series"].add_column(name, kind)


@migrations()
def m601_archive_copies(db: Database) -> None:
    """The archived copies each `archive` crawl used or turned down (scrapy crawl archive): where its
    rows come from (archive URL, capture time), and which copies a later run need not ask for again."""
    db["archive_copies"].create(
        {
            "crawl_id": str, "week_start": str, "kind": str, "original": str, "captured_at": str,
            "archive_url": str, "digest": str, "status": str, "message": str,
        },
        pk=("crawl_id", "archive_url"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["archive_copies"].create_index(["original", "captured_at"])


@migrations()
def m701_provider_summaries(db: Database) -> None:
    """Who served each model-variant's traffic: every provider summary of the effective-pricing
    answers (one row per crawl, model-variant and endpoint), and those of the crawls stored before
    this table, decoded again from their raw answers (history/provider_summaries.py)."""
    from orstats_crawler.history.provider_summaries import backfill_provider_summaries

    db["provider_summaries"].create(
        {
            "crawl_id": str, "permaslug": str, "variant": str, "endpoint_id": str, "provider_slug": str,
            "provider_name": str, "effective_input_price": float, "effective_output_price": float,
            "cache_hit_rate": float, "total_tokens": int,
            "sample_tokens": int, "sample_input_weight": float, "sample_output_weight": float,
        },
        pk=("crawl_id", "permaslug", "variant", "endpoint_id"),
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["provider_summaries"].create_index(["provider_slug"])
    backfill_provider_summaries(db)


@migrations()
def m702_platform_fee(db: Database) -> None:
    """The fee OpenRouter keeps of the spend (ORSTATS_PLATFORM_FEE) as each crawl assumed it; a crawl
    stored before this column assumes the setting's default, the fee published when it was added."""
    from orstats_crawler.settings import ORSTATS_PLATFORM_FEE

    db["crawls"].add_column("platform_fee", float)
    db.execute("UPDATE crawls SET platform_fee = ?", [ORSTATS_PLATFORM_FEE])


@migrations()
def m901_price_changes(db: Database) -> None:
    """Each catalogue sighting whose price differs from the one before it (history/price_changes.py):
    what the price_changes canned query lists, kept by the writer instead of a window over every
    price ever stored; filled here from the history's prices."""
    db["price_changes"].create(
        {
            "public_id": str, "name": str, "observed_on": str, "crawl_id": str, "previous_observed_on": str,
            "previous_prompt_price": float, "prompt_price": float, "previous_completion_price": float,
            "completion_price": float, "previous_cache_read_price": float, "cache_read_price": float,
        },
        pk=("crawl_id", "public_id"),
    )
    db["price_changes"].create_index(["observed_on", "public_id"])
    db["prices"].create_index(["public_id", "observed_on"])  # one public id's sightings by day: what it walks
    price_changes.rebuild(db)


@migrations()
def m902_crawl_revenue(db: Database) -> None:
    """Every revenue figure of each stored crawl's model-weeks and its week's sums
    (history/crawl_revenue.py), kept by the writer instead of evaluated by every reader; filled here
    from the history's crawls."""
    tables = (crawl_revenue.MODELS, crawl_revenue.TOTALS, crawl_revenue.PROVIDERS)
    crawl_revenue.create(db, tables)
    crawl_revenue.rebuild(db, tables)


@migrations()
def m903_crawl_provider_totals(db: Database) -> None:
    """Each stored crawl's revenue and tokens by provider (history/crawl_revenue.py), kept by the writer
    so that the providers chart reads a row per provider and week, not one per endpoint; filled here
    from the stored endpoint shares."""
    tables = (crawl_revenue.PROVIDER_TOTALS,)
    crawl_revenue.create(db, tables)
    crawl_revenue.rebuild(db, tables)
