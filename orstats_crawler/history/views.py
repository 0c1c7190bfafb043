"""The history's views: the questions readers ask, in one ordered list (a view may read those above
it). Views are derived, so a writer recreates any that differ from these definitions whenever it
opens the history, and a reader uses them as temporary views; tables change only by migration.
"""

from __future__ import annotations

from orstats_crawler.history.formulas import (EFFECTIVE_INPUT_WEEK, M, REVENUE_COLUMNS, REVENUE_EFFECTIVE,
                                              REVENUE_EFFECTIVE_WEEK, REVENUE_HIGH, REVENUE_LIST, REVENUE_SEED,
                                              author, best_basis, best_high, best_low, best_revenue,
                                              effective_week_revenue, imputed_revenue, known_sum, known_zero,
                                              list_revenue, monday_of, row, with_tokens)


def chart_tokens(alias: str) -> str:
    """The weekly chart's total (Others included) of the days of row ``alias``'s week; NULL when the
    week is not one of the chart's."""
    return (f"(SELECT SUM(k.tokens) FROM chart_weeks k "
            f"WHERE k.week_start = {alias}.week_start AND k.week_end = {alias}.week_end)")


def complete_sum(column: str) -> str:
    """The SUM of a token column over a group, NULL ("n/a") when any row's count is unknown: a total
    never counts an unknown row as 0."""
    return f"CASE WHEN COUNT({column}) = COUNT(*) THEN SUM({column}) END"


# The previous 7 days' tokens (a measured row's from its own crawl's daily activity, any other row's
# from the published week 7 days earlier: history/writer.py), at this week's prices and basis: week
# over week is the change in what the same traffic mix would have cost.
_PREVIOUS = with_tokens(M, "m.previous_prompt_tokens", "m.previous_completion_tokens", "m.previous_cached_tokens")

# A model-week's stored columns that weekly_revenue shows, in its order.
_STORED = ("week_start", "week_end", "permaslug", "variant", "public_id", "name", "rank", "total_tokens",
           "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "requests", "change",
           "split_source", "prompt_price", "completion_price", "cache_read_price", "is_free", "price_status",
           "price_basis", "price_observed_on")


def _columns(alias: str, names: tuple[str, ...]) -> str:
    return ", ".join(f"{alias}.{name}" for name in names)


# Each revenue formula of a stored model-week, computed once (formulas.py): every crawl's rows,
# model-variant by model-variant, with its effective prices and the week's band of cached shares.
# CRAWL_MODEL_REVENUE reads these columns; the writer stores its rows (history/crawl_revenue.py).
MODEL_WEEK_REVENUE = f"""
SELECT
  {_columns("m", _STORED)},
  {REVENUE_LIST} AS revenue_list_usd,
  {REVENUE_SEED} AS revenue_seed_usd,
  {REVENUE_HIGH} AS revenue_high_usd,
  e.weighted_input_price AS effective_input_price, e.weighted_output_price AS effective_output_price,
  e.cache_hit_rate AS effective_cache_hit_rate,
  {REVENUE_EFFECTIVE} AS revenue_effective_usd,
  {EFFECTIVE_INPUT_WEEK} AS effective_input_price_week,
  {REVENUE_EFFECTIVE_WEEK} AS revenue_effective_week_usd,
  m.cached_share_imputed, m.cached_share_from,
  {imputed_revenue(M)} AS revenue_imputed_usd,
  {imputed_revenue(M, "c.cached_share_p90")} AS revenue_imputed_most_cache_usd,
  {imputed_revenue(M, "c.cached_share_p10")} AS revenue_imputed_least_cache_usd,
  m.previous_prompt_tokens + m.previous_completion_tokens AS previous_tokens,
  {list_revenue(_PREVIOUS)} AS previous_revenue_list_usd,
  {effective_week_revenue(_PREVIOUS)} AS previous_revenue_effective_week_usd,
  {imputed_revenue(_PREVIOUS)} AS previous_revenue_imputed_usd,
  m.previous_source, c.status, m.crawl_id, {author("m.permaslug")} AS author
FROM model_weeks m
JOIN crawls c ON c.id = m.crawl_id
LEFT JOIN effective_prices e ON e.crawl_id = m.crawl_id AND e.permaslug = m.permaslug AND e.variant = m.variant
"""

# Every formula's revenue of each stored model-week and the best estimate (formulas.py: its basis
# and band), read from the columns model_week_revenue computed: what the writer stores for each crawl
# in `crawl_model_revenue` (history/crawl_revenue.py), so that no reader evaluates the formulas again.
_R = row("r", "r")
# What the best estimate chooses from (formulas.best_revenue), for the week and its previous 7 days.
# The effective figure it uses is the one weighted to the week (formulas.effective_input_week).
_EFFECTIVE, _LIST, _IMPUTED = "r.revenue_effective_week_usd", "r.revenue_list_usd", "r.revenue_imputed_usd"
_PREVIOUS_BEST = ("r.previous_revenue_effective_week_usd", "r.previous_revenue_list_usd",
                  "r.previous_revenue_imputed_usd")
CRAWL_MODEL_REVENUE = f"""
SELECT
  {_columns("r", _STORED)},
  r.revenue_list_usd, r.revenue_seed_usd, r.revenue_high_usd,
  r.effective_input_price, r.effective_output_price, r.effective_cache_hit_rate,
  r.revenue_effective_usd, r.effective_input_price_week, r.revenue_effective_week_usd,
  r.cached_share_imputed, r.cached_share_from, r.revenue_imputed_usd,
  {best_basis(known_zero(_R), _EFFECTIVE, _LIST, _IMPUTED)} AS best_basis,
  {best_revenue(_EFFECTIVE, _LIST, _IMPUTED)} AS revenue_best_usd,
  {best_low(_EFFECTIVE, _LIST, "r.revenue_imputed_most_cache_usd")} AS revenue_best_low_usd,
  {best_high(_EFFECTIVE, _LIST, "r.revenue_imputed_least_cache_usd")} AS revenue_best_high_usd,
  r.previous_tokens, {best_revenue(*_PREVIOUS_BEST)} AS previous_revenue_best_usd,
  r.previous_source, r.status, r.crawl_id, r.author
FROM ({MODEL_WEEK_REVENUE}) r
"""

# The published numbers: each shown week's crawl (weeks), its stored rows.
WEEKLY_REVENUE = """
SELECT r.* FROM weeks w
JOIN crawl_model_revenue r ON r.crawl_id = w.crawl_id AND r.week_start = w.week_start AND r.week_end = w.week_end
"""


# The crawl weeks of the last year up to the latest published one.
LAST_YEAR = "w.week_end >= date((SELECT MAX(week_end) FROM weeks WHERE status = 'published'), '-364 days')"

# One row per stored crawl week (the writer stores them in `crawl_revenue_totals`, history/crawl_revenue.py):
# counts, token sums (``total_tokens`` NULL when a row's count is unknown, ``known_total_tokens`` those
# of the rows whose count is known) and, per revenue column, the sum over the model-variants whose
# revenue is known (``known_sum``: NULL when no paid row's is) with how many model-variants and tokens
# that sum covers.
_SUMS = (
    ("models", "COUNT(*)"),
    ("free_models", "SUM(r.is_free = 1)"),
    ("paid_models",
     "SUM(COALESCE(r.is_free, 0) = 0 AND r.prompt_price IS NOT NULL AND r.completion_price IS NOT NULL)"),
    ("unpriced_models", "SUM(COALESCE(r.is_free, 0) = 0 AND (r.prompt_price IS NULL OR r.completion_price IS NULL))"),
    ("split_models", "SUM(r.cached_tokens IS NOT NULL)"),
    ("total_tokens", complete_sum("r.total_tokens")),
    ("known_total_tokens", "SUM(r.total_tokens)"),
    ("unknown_total_tokens_models", "COUNT(*) - COUNT(r.total_tokens)"),
    ("split_uncached_prompt_tokens",
     "SUM(CASE WHEN r.cached_tokens IS NOT NULL THEN r.prompt_tokens - r.cached_tokens END)"),
    ("split_cached_tokens", "SUM(r.cached_tokens)"),
    ("split_completion_tokens", "SUM(CASE WHEN r.cached_tokens IS NOT NULL THEN r.completion_tokens END)"),
    ("split_reasoning_tokens", "SUM(CASE WHEN r.cached_tokens IS NOT NULL THEN r.reasoning_tokens END)"),
    *((name, sql) for c in REVENUE_COLUMNS for name, sql in (
        (c, known_sum(c)),
        (f"{c}_models", f"COUNT(r.{c})"),
        (f"{c}_tokens", f"SUM(CASE WHEN r.{c} IS NOT NULL THEN r.total_tokens END)"))),
    ("revenue_best_low_usd", known_sum("revenue_best_low_usd")),
    ("revenue_best_high_usd", known_sum("revenue_best_high_usd")),
    ("priced_tokens", "SUM(CASE WHEN r.is_free = 1 OR (r.prompt_price IS NOT NULL AND r.completion_price IS NOT NULL) "
                      "OR r.effective_input_price IS NOT NULL THEN r.total_tokens END)"),
    ("like_for_like_best_usd", "SUM(CASE WHEN r.previous_revenue_best_usd IS NOT NULL THEN r.revenue_best_usd END)"),
    ("previous_revenue_best_usd", "SUM(CASE WHEN r.revenue_best_usd IS NOT NULL THEN r.previous_revenue_best_usd END)"),
    ("previous_models", "SUM(CASE WHEN r.revenue_best_usd IS NOT NULL AND r.previous_revenue_best_usd IS NOT NULL "
                        "THEN 1 END)"),
)
_SUMS_SQL = ",\n  ".join(f"{sql} AS {name}" for name, sql in _SUMS)
CRAWL_REVENUE_TOTALS = f"""
SELECT
  r.crawl_id, r.week_start, r.week_end, r.status,
  {_SUMS_SQL}
FROM crawl_model_revenue r
GROUP BY r.crawl_id, r.week_start, r.week_end
"""
# The stored sums, shown beside the crawl's own columns.
_SUMMED = tuple(name for name, _ in _SUMS)


def _weekly_totals_sql(where: str = "1") -> str:
    """One row per week shown (of those ``where`` keeps): its crawl's stored sums with the crawl's
    own columns; ``chart_tokens`` is the chart's total of the same days (Others included), NULL when
    the week is not one of the chart's Monday weeks (read here: a later crawl may revise the chart)."""
    return f"""
SELECT
  w.week_start, w.week_end, t.status, w.crawl_id, c.finished_at,
  c.coverage AS upper_bound_coverage, c.token_coverage,
  {_columns("t", _SUMMED)},
  c.spend_coverage, c.cached_share_p10, c.cached_share_p90,
  {chart_tokens("w")} AS chart_tokens,
  c.platform_fee,
  t.revenue_best_usd * c.platform_fee AS openrouter_take_usd,
  t.revenue_best_low_usd * c.platform_fee AS openrouter_take_low_usd,
  t.revenue_best_high_usd * c.platform_fee AS openrouter_take_high_usd
FROM weeks w
JOIN crawl_revenue_totals t ON t.crawl_id = w.crawl_id AND t.week_start = w.week_start AND t.week_end = w.week_end
JOIN crawls c ON c.id = w.crawl_id
WHERE {where}
"""


# The Data API's days by Monday week (the chart's weeks). A model-variant outside the top 50 on some
# days has those days in `other`, so its weekly total is only complete when `days` = 7.
DATASET_CITATION = "Source: OpenRouter (openrouter.ai/rankings), as of "
_MONDAY = monday_of("d.day")
DATASET_WEEKLY = f"""
SELECT {_MONDAY} AS week_start, date({_MONDAY}, '+6 days') AS week_end,
  d.key, d.permaslug, d.variant, SUM(d.total_tokens) AS total_tokens, COUNT(*) AS days, MAX(d.as_of) AS as_of,
  MAX(d.crawl_id) AS crawl_id
FROM dataset_daily d
GROUP BY 1, 2, d.key
"""
# Per week: the total, the `other` rows and the coverage of the named top 50 (1 - other / total).
DATASET_WEEKS = f"""
SELECT {_MONDAY} AS week_start, date({_MONDAY}, '+6 days') AS week_end,
  COUNT(DISTINCT d.day) AS days, COUNT(DISTINCT d.day) = 7 AS complete,
  SUM(d.total_tokens) AS total_tokens,
  SUM(CASE WHEN d.key = 'other' THEN d.total_tokens ELSE 0 END) AS other_tokens,
  1.0 - 1.0 * SUM(CASE WHEN d.key = 'other' THEN d.total_tokens ELSE 0 END)
    / NULLIF(SUM(d.total_tokens), 0) AS coverage,
  MAX(d.as_of) AS as_of, '{DATASET_CITATION}' || MAX(d.as_of) AS citation
FROM dataset_daily d
GROUP BY 1, 2
"""

# The report's time series: one row per Monday week and model-variant (basis measured | modeled |
# volume; price_basis before | after | free), with the revenue formulas of weekly_revenue; a measured
# row's best estimate (the effective prices of the crawl that measured it, else its list figure) is
# what the comparable series (history/monday_series.py) counts it at.
_MEASURED_BEST = best_revenue("r.revenue_effective_week_usd", "r.revenue_list_usd", "NULL")
MONDAY_REVENUE = f"""
SELECT r.*, CASE WHEN r.basis = 'measured' THEN {_MEASURED_BEST} END AS revenue_best_usd
FROM (SELECT
  m.week_start, m.week_end, m.permaslug, m.variant, m.basis, m.source, m.mix_week_start,
  m.total_tokens, m.prompt_tokens, m.completion_tokens, m.cached_tokens, m.reasoning_tokens, m.requests,
  m.prompt_price, m.completion_price, m.cache_read_price, m.is_free, m.price_basis, m.price_observed_on,
  {REVENUE_LIST} AS revenue_list_usd,
  {REVENUE_SEED} AS revenue_seed_usd,
  {REVENUE_HIGH} AS revenue_high_usd,
  m.crawl_id, {author("m.permaslug")} AS author,
  {REVENUE_EFFECTIVE} AS revenue_effective_usd,
  {REVENUE_EFFECTIVE_WEEK} AS revenue_effective_week_usd
FROM monday_weeks m
LEFT JOIN effective_prices e ON e.crawl_id = m.crawl_id AND e.permaslug = m.permaslug AND e.variant = m.variant) r
"""
# Per Monday week: `modeled` when any row's split is modeled, `measured` when every split is; the
# known revenue with the rows and tokens it covers; the chart's total of the week (Others included).
MONDAY_TOTALS = f"""
SELECT
  r.week_start, r.week_end,
  CASE WHEN SUM(r.basis = 'modeled') THEN 'modeled' WHEN SUM(r.basis = 'measured') THEN 'measured'
       ELSE 'volume' END AS basis,
  COUNT(*) AS models, SUM(r.basis = 'measured') AS measured_models, SUM(r.basis = 'modeled') AS modeled_models,
  SUM(r.basis = 'volume') AS volume_models, {complete_sum("r.total_tokens")} AS total_tokens,
  {known_sum("revenue_list_usd")} AS revenue_list_usd,
  {known_sum("revenue_seed_usd")} AS revenue_seed_usd,
  COUNT(r.revenue_list_usd) AS revenue_list_usd_models,
  SUM(CASE WHEN r.revenue_list_usd IS NOT NULL THEN r.total_tokens END) AS revenue_list_usd_tokens,
  GROUP_CONCAT(DISTINCT r.price_basis) AS price_bases,
  {chart_tokens("r")} AS chart_tokens
FROM monday_revenue r
GROUP BY r.week_start, r.week_end
"""


def _author_sql(source: str, columns: list[str], carried: str) -> str:
    """Weekly tokens and revenue per author (its ``author`` column) of a per-model view: its token
    share, and per revenue column its known revenue (``known_sum``) and share of the week's known
    revenue (`<column>_share`): token share vs dollar share.

    The week's totals are window sums over the week's authors, not a join with a per-week CTE: a
    CTE read twice is materialized over the whole history, so asking for one week would cost as much
    as asking for all (the report asks once per week)."""
    sums = ",\n  ".join(f"{known_sum(c)} AS {c}, {known_sum(c)} / NULLIF(SUM(SUM(r.{c})) OVER week, 0) AS {c}_share"
                        for c in columns)
    tokens = complete_sum("r.total_tokens")
    week_tokens = ("CASE WHEN SUM(COUNT(*) - COUNT(r.total_tokens)) OVER week = 0 "
                   "THEN SUM(SUM(r.total_tokens)) OVER week END")
    return f"""
SELECT r.week_start, r.week_end, r.author, {carried},
  COUNT(*) AS models, {tokens} AS total_tokens,
  1.0 * {tokens} / NULLIF({week_tokens}, 0) AS token_share,
  COUNT(*) - COUNT(r.revenue_list_usd) AS unknown_revenue_models,
  {sums}
FROM {source} r
GROUP BY r.week_start, r.week_end, r.author
WINDOW week AS (PARTITION BY r.week_start, r.week_end)
"""


# --- revenue by provider --------------------------------------------------------------------------
# Each model-variant's best estimate (and its band) shared among the providers that served it, by
# their share of its spend at their own effective prices: an endpoint's weight is its tokens in the
# effective-pricing sample x (prompt x its input price + completion x its output price), prompt and
# completion being the model-variant's week (a provider's own split is not published); a price the
# source did not give is the model-variant's. Where no weight is known, the share is of the sample's
# tokens. A provider is its slug (its endpoints: regions, tiers), named by its shortest name.
#
# CRAWL_PROVIDER_REVENUE shares each row out, endpoint by endpoint, each provider summary carrying
# its answer's sums (provider_summaries.sample_weights, the same fallback price); the writer stores
# its rows for each crawl (`crawl_provider_revenue`) and provider_endpoint_weekly shows those of the
# weeks shown: no window and no aggregate, so a filter on the week, even one holding a subquery,
# reaches the tables; the two views above it sum its rows in one aggregate each, which SQLite filters
# by week the same way.

def _weight(s: str) -> str:
    return (f"COALESCE({s}.total_tokens, 0) * (r.prompt_tokens * COALESCE({s}.effective_input_price, "
            f"r.effective_input_price, 0) + r.completion_tokens * COALESCE({s}.effective_output_price, "
            f"r.effective_output_price, 0))")


_MODEL_WEIGHT = "(r.prompt_tokens * s.sample_input_weight + r.completion_tokens * s.sample_output_weight)"
_TOKEN_SHARE = "1.0 * COALESCE(s.total_tokens, 0) / NULLIF(s.sample_tokens, 0)"
_SHARE = f"COALESCE({_weight('s')} / NULLIF({_MODEL_WEIGHT}, 0), {_TOKEN_SHARE})"

# One row per crawl, model-variant and endpoint: its shares of the model-variant's spend and of its
# sample's tokens, and those shares of the best estimate, its band and the week's tokens.
CRAWL_PROVIDER_REVENUE = f"""
SELECT r.week_start, r.week_end, r.permaslug, r.variant, r.name, r.is_free, r.best_basis,
  s.provider_slug, s.provider_name, s.endpoint_id, s.total_tokens AS sample_tokens,
  s.effective_input_price, s.effective_output_price, s.cache_hit_rate,
  {_SHARE} AS revenue_share, {_TOKEN_SHARE} AS token_share, r.total_tokens * {_TOKEN_SHARE} AS tokens,
  r.revenue_best_usd * {_SHARE} AS revenue_best_usd,
  r.revenue_best_low_usd * {_SHARE} AS revenue_best_low_usd,
  r.revenue_best_high_usd * {_SHARE} AS revenue_best_high_usd,
  r.status, r.crawl_id
FROM crawl_model_revenue r
JOIN provider_summaries s ON s.crawl_id = r.crawl_id AND s.permaslug = r.permaslug AND s.variant = r.variant
"""
# The weeks shown: each one's crawl (weeks), its stored rows.
PROVIDER_ENDPOINT_WEEKLY = """
SELECT p.* FROM weeks w
JOIN crawl_provider_revenue p ON p.crawl_id = w.crawl_id AND p.week_start = w.week_start AND p.week_end = w.week_end
"""


def shortest(column: str) -> str:
    """The shortest of a group's names (ties: the first in order): a provider's regions and tiers add words."""
    return f"substr(MIN(printf('%06d', length({column})) || {column}), 7)"


# One row per crawl, week and provider with a positive best estimate: what the providers chart sums
# over a year, summed once per crawl from its stored endpoint rows (`crawl_provider_totals`, kept by
# the writer), so that the chart reads a row per provider and week instead of one per endpoint.
CRAWL_PROVIDER_TOTALS = f"""
SELECT p.week_start, p.week_end, p.provider_slug, {shortest("p.provider_name")} AS provider_name,
  COUNT(*) AS endpoints, SUM(p.revenue_best_usd) AS revenue_best_usd, SUM(p.tokens) AS tokens,
  MAX(p.status) AS status, p.crawl_id
FROM crawl_provider_revenue p
WHERE p.revenue_best_usd > 0
GROUP BY p.crawl_id, p.week_start, p.week_end, p.provider_slug
"""
# The weeks shown: each one's crawl (weeks), its stored provider totals.
PROVIDER_TOTALS_WEEKLY = """
SELECT t.* FROM weeks w
JOIN crawl_provider_totals t ON t.crawl_id = w.crawl_id AND t.week_start = w.week_start AND t.week_end = w.week_end
"""


def _token_weighted(column: str) -> str:
    return (f"SUM(p.sample_tokens * p.{column}) / SUM(CASE WHEN p.{column} IS NOT NULL THEN p.sample_tokens END) "
            f"AS {column}")


_PROVIDER_SUMS = f"""{shortest("p.provider_name")} AS provider_name, COUNT(*) AS endpoints,
  SUM(p.sample_tokens) AS sample_tokens, SUM(p.tokens) AS tokens,
  {known_sum("revenue_best_usd", "p")} AS revenue_best_usd,
  {known_sum("revenue_best_low_usd", "p")} AS revenue_best_low_usd,
  {known_sum("revenue_best_high_usd", "p")} AS revenue_best_high_usd"""

# One row per week, model-variant and provider: its share of the model-variant's spend and tokens,
# and that share of its best estimate and band.
PROVIDER_MODEL_WEEKLY = f"""
SELECT p.week_start, p.week_end, p.permaslug, p.variant, p.name, p.is_free, p.best_basis, p.provider_slug,
  {_PROVIDER_SUMS}, SUM(p.revenue_share) AS revenue_share, SUM(p.token_share) AS token_share,
  {_token_weighted("effective_input_price")}, {_token_weighted("effective_output_price")},
  {_token_weighted("cache_hit_rate")}, p.status, p.crawl_id
FROM provider_endpoint_weekly p
GROUP BY p.week_start, p.week_end, p.permaslug, p.variant, p.provider_slug
"""

# One row per week and provider: the model-variants it served, its tokens (its share of each one's
# week), its revenue with its band, and its shares of the week's model-variants with provider summaries.
PROVIDER_WEEKLY = f"""
SELECT p.week_start, p.week_end, p.provider_slug, {_PROVIDER_SUMS},
  COUNT(DISTINCT p.permaslug || ':' || p.variant) AS models,
  SUM(p.tokens) / NULLIF(SUM(SUM(p.tokens)) OVER week, 0) AS token_share,
  SUM(p.revenue_best_usd) / NULLIF(SUM(SUM(p.revenue_best_usd)) OVER week, 0) AS revenue_share,
  MAX(p.status) AS status, MAX(p.crawl_id) AS crawl_id
FROM provider_endpoint_weekly p
GROUP BY p.week_start, p.week_end, p.provider_slug
WINDOW week AS (PARTITION BY p.week_start, p.week_end)
"""


# (name, SQL) in dependency order.
# The week the report's front page and the dashboards lead with: the latest published week with a
# known best estimate (a week whose every revenue is unknown is never the headline).
HEADLINE_WEEK = """
SELECT w.week_start, w.week_end, w.crawl_id FROM weeks w
WHERE w.status = 'published' AND EXISTS (
  SELECT 1 FROM weekly_revenue r
  WHERE r.week_start = w.week_start AND r.week_end = w.week_end AND r.revenue_best_usd > 0)
ORDER BY w.week_end DESC, w.week_start DESC
LIMIT 1
"""

VIEWS: list[tuple[str, str]] = [
    ("model_week_revenue", MODEL_WEEK_REVENUE),
    ("weekly_revenue", WEEKLY_REVENUE),
    ("weekly_totals", _weekly_totals_sql()),
    ("weekly_totals_last_year", _weekly_totals_sql(LAST_YEAR)),
    ("dataset_weekly", DATASET_WEEKLY),
    ("dataset_weeks", DATASET_WEEKS),
    ("monday_revenue", MONDAY_REVENUE),
    ("monday_totals", MONDAY_TOTALS),
    ("author_weekly", _author_sql("weekly_revenue", REVENUE_COLUMNS, "MAX(r.status) AS status")),
    ("author_monday", _author_sql("monday_revenue", ["revenue_list_usd", "revenue_seed_usd", "revenue_high_usd"],
                                  "GROUP_CONCAT(DISTINCT r.basis) AS bases")),
    ("provider_endpoint_weekly", PROVIDER_ENDPOINT_WEEKLY),
    ("provider_totals_weekly", PROVIDER_TOTALS_WEEKLY),
    ("provider_model_weekly", PROVIDER_MODEL_WEEKLY),
    ("provider_weekly", PROVIDER_WEEKLY),
    ("headline_week", HEADLINE_WEEK),
]
