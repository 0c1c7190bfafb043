"""The revenue formulas, once, as SQL fragments over a row aliased ``m`` (and ``e`` for effective
prices): every view and every reader of the history computes revenue through these.

Cached tokens are part of prompt tokens, reasoning tokens part of completion tokens (sources doc,
section 7). NULL propagates: an unknown split or an unknown price gives an unknown revenue, never 0.
"""

from __future__ import annotations

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
# What the traffic actually paid (effective-pricing, $/M per total prompt and per completion token:
# cache reads and writes, provider mix and long-context tiers included). It needs no split, so it is
# known wherever an effective price is, measured split or not (prompt/completion are then the
# leaderboard's). NULL where the source gives no price (`:batch`, no traffic); 0 for free variants.
REVENUE_EFFECTIVE = f"""CASE WHEN {KNOWN_ZERO} THEN 0.0 ELSE
    (m.prompt_tokens * e.weighted_input_price + m.completion_tokens * e.weighted_output_price) / 1e6 END"""

# The revenue columns of weekly_revenue that are summed per week; a new formula adds its column here.
REVENUE_COLUMNS = ["revenue_list_usd", "revenue_seed_usd", "revenue_high_usd", "revenue_effective_usd"]


def monday_of(day: str) -> str:
    """SQL for the Monday on or before the day in column ``day`` (the start of its chart week)."""
    return f"date({day}, '-6 days', 'weekday 1')"


def known_sum(column: str, alias: str = "r") -> str:
    """The SUM of a revenue column over the rows whose revenue is known; NULL unless some paid (or
    unpriced) row's is: free rows alone (0 each) do not make a week's revenue known, or $0."""
    paid = f"COALESCE({alias}.is_free, 0) = 0"
    return (f"CASE WHEN COUNT(CASE WHEN {paid} THEN {alias}.{column} END) > 0 OR SUM({paid}) = 0 "
            f"THEN SUM({alias}.{column}) END")
