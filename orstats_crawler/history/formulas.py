"""The revenue formulas, once, as SQL expressions: every view and every reader of the history (and
the spider's stop rule, through ``evaluate``) computes revenue through these.

Cached tokens are part of prompt tokens, reasoning tokens part of completion tokens (docs/SOURCES.md,
section 7). NULL propagates: an unknown split or an unknown price gives an unknown revenue, never 0.

A formula is built for a ``Row``: the SQL expressions of one model-variant's week (its tokens, list
prices, effective prices, imputed cached share), so the same formula prices a row of ``model_weeks``
(alias ``m``, effective prices ``e``) or its previous week's tokens. The constants below are the
formulas of ``model_weeks m`` joined to ``effective_prices e``.

The best estimate of a row, by basis (``best_basis``):
- ``free``: a free variant (or both list prices 0): 0;
- ``effective``: what the traffic paid, effective-pricing's prices x prompt and completion tokens
  (no split needed), the input price weighted to the week's cached share where the split was
  measured (``effective_input_week``); its band is ``EFFECTIVE_DOUBT`` either way (the prices are a
  sample);
- ``list``: the list price with the measured split (cached tokens at the cache-read price);
- ``imputed``: the list price with the cached share of prompt tokens imputed from the week's
  measured model-variants (``cached_share_imputed``: same model, family or author, else the week's
  median); its band uses the 90th and 10th percentile of the measured shares (more cache, cheaper);
- none of these: unknown (NULL), never 0.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

FREE, EFFECTIVE, LIST, IMPUTED = "free", "effective", "list", "imputed"


@dataclass(frozen=True)
class Row:
    """The SQL expressions a formula is evaluated on."""

    prompt: str
    completion: str
    cached: str
    prompt_price: str
    completion_price: str
    cache_read_price: str
    is_free: str
    effective_input: str  # $/M per total prompt token
    effective_output: str  # $/M per completion token
    cached_share: str  # imputed share of prompt tokens read from cache
    cache_hit_rate: str  # the share of the effective price's sample read from cache


def row(m: str = "m", e: str = "e", share: str | None = None) -> Row:
    """A model-week row aliased ``m`` with its effective prices aliased ``e``."""
    believed = f"{e}.rejected_because IS NULL"  # an effective price the gate did not believe is not used
    return Row(f"{m}.prompt_tokens", f"{m}.completion_tokens", f"{m}.cached_tokens", f"{m}.prompt_price",
               f"{m}.completion_price", f"{m}.cache_read_price", f"{m}.is_free",
               f"(CASE WHEN {believed} THEN {e}.weighted_input_price END)",
               f"(CASE WHEN {believed} THEN {e}.weighted_output_price END)", share or f"{m}.cached_share_imputed",
               f"{e}.cache_hit_rate")


def with_tokens(r: Row, prompt: str, completion: str, cached: str) -> Row:
    """The same prices applied to other tokens (a previous week's)."""
    return replace(r, prompt=prompt, completion=completion, cached=cached)


def known_zero(r: Row) -> str:
    return f"({r.is_free} = 1 OR ({r.prompt_price} = 0 AND {r.completion_price} = 0))"


def _priced(r: Row, formula: str) -> str:
    return f"(CASE WHEN {known_zero(r)} THEN 0.0 ELSE {formula} END)"


def list_revenue(r: Row) -> str:
    """List price, cached tokens counted once at the cache-read price."""
    return _priced(r, f"({r.prompt} - {r.cached}) * {r.prompt_price} + {r.cached} * {r.cache_read_price} "
                      f"+ {r.completion} * {r.completion_price}")


def seed_revenue(r: Row) -> str:
    """The seed README's formula: it charges every cached token twice (kept for continuity)."""
    return _priced(r, f"{r.prompt} * {r.prompt_price} + {r.completion} * {r.completion_price} "
                      f"+ {r.cached} * {r.cache_read_price}")


def high_revenue(r: Row) -> str:
    """No cache discount: the most the tokens can have cost at list price (no split needed)."""
    return _priced(r, f"{r.prompt} * {r.prompt_price} + {r.completion} * {r.completion_price}")


def effective_revenue(r: Row) -> str:
    """What the traffic actually paid (effective-pricing, $/M: cache reads and writes, provider mix
    and price tiers included). No split needed; NULL where the source gives no price."""
    return _priced(r, f"({r.prompt} * {r.effective_input} + {r.completion} * {r.effective_output}) / 1e6")


def effective_input_week(r: Row) -> str:
    """The effective input price ($/M per total prompt token) weighted to the week's cached share.

    effective-pricing's input price is an average over a sample of the traffic whose share of prompt
    tokens read from cache is its own (``cache_hit_rate``, h), not the week's (c = cached / prompt of
    the measured split). It is re-weighted by how the list input price of a prompt token moves
    between the two shares, with the list prompt price p and cache-read price r:

        effective input x (p - c x (p - r)) / (p - h x (p - r))

    so whatever the traffic paid above or below list (cache writes, provider mix, tiers) keeps its
    proportion. Where the week's split is not measured, or the list prices cannot weight it (no
    cache-read price, a zero list input price), it is the sample's price unchanged. The integrity
    checks on an effective input price apply to this one too: it is the price the best estimate uses."""
    difference = f"({r.prompt_price} - {r.cache_read_price})"
    week = f"({r.prompt_price} - 1.0 * {r.cached} / {r.prompt} * {difference})"
    sample = f"({r.prompt_price} - {r.cache_hit_rate} * {difference})"
    return (f"(CASE WHEN {r.cached} IS NOT NULL AND {r.prompt} > 0 AND {sample} > 0 "
            f"THEN {r.effective_input} * {week} / {sample} ELSE {r.effective_input} END)")


def effective_week_revenue(r: Row) -> str:
    """What the traffic paid at the effective prices, the input price weighted to the week."""
    return effective_revenue(replace(r, effective_input=effective_input_week(r)))


def imputed_revenue(r: Row, share: str | None = None) -> str:
    """List price with an imputed cached share of prompt tokens (``share``, default the row's)."""
    s = share or r.cached_share
    return _priced(r, f"{r.prompt} * (1 - {s}) * {r.prompt_price} + {r.prompt} * {s} * {r.cache_read_price} "
                      f"+ {r.completion} * {r.completion_price}")


# The best estimate reads the revenue columns computed above, once per row (weekly_revenue reads
# them from its base, model_week_revenue): what the traffic paid, else the list price with the
# measured split, else the list price with the imputed cached share.

def best_revenue(effective: str, listed: str, imputed: str) -> str:
    return f"COALESCE({effective}, {listed}, {imputed})"


def best_basis(free: str, effective: str, listed: str, imputed: str) -> str:
    """Which of the columns ``best_revenue`` takes; ``free`` the condition of a known zero."""
    return (f"(CASE WHEN {free} THEN '{FREE}' WHEN {effective} IS NOT NULL THEN '{EFFECTIVE}' "
            f"WHEN {listed} IS NOT NULL THEN '{LIST}' WHEN {imputed} IS NOT NULL THEN '{IMPUTED}' END)")


# Effective prices are a sample: OpenRouter's rolling week up to the crawl, not exactly the
# leaderboard's 7 days. The same tokens priced at the effective prices of the successive captures one
# week apart move a week's total by 3.7 % and 6.7 % (docs/ACCURACY.md): an effective figure's band.
EFFECTIVE_DOUBT = 0.05


def best_low(effective: str, listed: str, imputed_most_cache: str) -> str:
    """The low end of the best estimate's band, from its real sources of doubt: an effective figure
    less ``EFFECTIVE_DOUBT``; a list figure with its measured split is itself; an imputed one with the
    most cache seen."""
    return f"COALESCE({effective} * {1 - EFFECTIVE_DOUBT}, {listed}, {imputed_most_cache})"


def best_high(effective: str, listed: str, imputed_least_cache: str) -> str:
    return f"COALESCE({effective} * {1 + EFFECTIVE_DOUBT}, {listed}, {imputed_least_cache})"


M = row()
REVENUE_LIST = list_revenue(M)
REVENUE_SEED = seed_revenue(M)
REVENUE_HIGH = high_revenue(M)
REVENUE_EFFECTIVE = effective_revenue(M)
REVENUE_EFFECTIVE_WEEK = effective_week_revenue(M)
EFFECTIVE_INPUT_WEEK = effective_input_week(M)

# The revenue columns of weekly_revenue that are summed per week; a new formula adds its column here.
REVENUE_COLUMNS = ["revenue_best_usd", "revenue_list_usd", "revenue_seed_usd", "revenue_high_usd",
                   "revenue_effective_usd", "revenue_effective_week_usd"]


def author(permaslug: str) -> str:
    """SQL for the author of the permaslug in column ``permaslug``: pricing.author_of's rule (the
    part before the first `/`, else the whole slug); tests/test_estimate.py holds them together."""
    return (f"(CASE WHEN instr({permaslug}, '/') > 0 THEN substr({permaslug}, 1, instr({permaslug}, '/') - 1) "
            f"ELSE {permaslug} END)")


def monday_of(day: str) -> str:
    """SQL for the Monday on or before the day in column ``day`` (the start of its chart week)."""
    return f"date({day}, '-6 days', 'weekday 1')"


def known_sum(column: str, alias: str = "r") -> str:
    """The SUM of a revenue column over the rows whose revenue is known; NULL unless some paid (or
    unpriced) row's is: free rows alone (0 each) do not make a week's revenue known, or $0."""
    paid = f"COALESCE({alias}.is_free, 0) = 0"
    return (f"CASE WHEN COUNT(CASE WHEN {paid} THEN {alias}.{column} END) > 0 OR SUM({paid}) = 0 "
            f"THEN SUM({alias}.{column}) END")


def evaluate(formula: str, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
    """A formula of ``M`` evaluated by SQLite, as the views evaluate it, over rows given as dicts of
    ``model_weeks`` columns (and ``weighted_input_price``/``weighted_output_price``), outside any
    history: an in-memory table ``m`` (and ``e``) holding just these rows."""
    columns = ("prompt_tokens", "completion_tokens", "cached_tokens", "prompt_price", "completion_price",
               "cache_read_price", "is_free", "cached_share_imputed")
    memory = sqlite3.connect(":memory:")
    try:
        memory.execute(f"CREATE TABLE m (id INTEGER PRIMARY KEY, {', '.join(columns)})")
        memory.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, weighted_input_price, weighted_output_price, "
                       "rejected_because, cache_hit_rate)")
        for index, values in enumerate(rows):
            memory.execute(f"INSERT INTO m VALUES (?, {', '.join('?' * len(columns))})",
                           [index, *(values.get(c) for c in columns)])
            memory.execute("INSERT INTO e VALUES (?, ?, ?, ?, ?)",
                           [index, *(values.get(c) for c in ("weighted_input_price", "weighted_output_price",
                                                             "rejected_because", "cache_hit_rate"))])
        return [value for (value,) in memory.execute(
            f"SELECT {formula} FROM m LEFT JOIN e ON e.id = m.id ORDER BY m.id")]
    finally:
        memory.close()


def upper_bounds(rows: Iterable[tuple[int | None, int | None, Any]]) -> list[float | None]:
    """``high_revenue`` of each (prompt tokens, completion tokens, pricing.ListPrice): the most the
    tokens can have cost at list price, evaluated as the views evaluate it (None: no usable price)."""
    return evaluate(REVENUE_HIGH, [
        {"prompt_tokens": prompt, "completion_tokens": completion, "prompt_price": price.prompt,
         "completion_price": price.completion, "is_free": int(price.is_free)}
        for prompt, completion, price in rows])


def upper_bound_usd(prompt_tokens: int | None, completion_tokens: int | None, price: Any) -> float | None:
    [bound] = upper_bounds([(prompt_tokens, completion_tokens, price)])
    return bound


def guaranteed_share(measured_usd: float, unmeasured_bound_usd: float) -> float | None:
    """The share of a week's list spend that measured splits guarantee whatever the unmeasured ones
    are: measured list spend / (that + the upper bound of every priced model-variant not measured)."""
    whole = measured_usd + unmeasured_bound_usd
    return measured_usd / whole if whole else None
