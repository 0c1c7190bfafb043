"""Which model-variants get their token split fetched.

The split is unknown until fetched, so model-variants are ranked by an upper bound of their spend
(leaderboard prompt and completion tokens at list price, no cache discount): on 2026-08-08 the top
10 by tokens held 16 % of the week's list-price spend, the top ~45 by this bound 95 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from orstats_crawler.arguments import ALL
from orstats_crawler.items import ActivityPlan


@dataclass(frozen=True)
class Candidate:
    permaslug: str
    variant: str
    tokens: int
    upper_bound_usd: float | None  # None: no usable price, so its spend cannot be ranked


def plan(candidates: Iterable[Candidate], top: int | None, coverage: float) -> ActivityPlan:
    """Order by upper bound (unpriced last, by tokens) and select by count, all, or spend coverage."""
    ordered = sorted(
        candidates,
        key=lambda c: (c.upper_bound_usd is None, -(c.upper_bound_usd or 0.0), -c.tokens, c.permaslug, c.variant),
    )
    total = sum(c.upper_bound_usd or 0.0 for c in ordered)
    selected: list[bool] = []
    reached = 0.0
    for index, candidate in enumerate(ordered):
        if top == ALL:
            take = True
        elif top is not None:
            take = index < top
        else:  # enough of the priced ones to reach the coverage target
            take = candidate.upper_bound_usd is not None and (total == 0 or reached < coverage * total)
            take = take and (candidate.upper_bound_usd or 0.0) > 0
        if take:
            reached += candidate.upper_bound_usd or 0.0
        selected.append(take)
    return ActivityPlan(
        selection="all" if top == ALL else f"top:{top}" if top is not None else f"coverage:{coverage:g}",
        candidates=[
            {
                "permaslug": c.permaslug,
                "variant": c.variant,
                "tokens": c.tokens,
                "upper_bound_usd": c.upper_bound_usd,
                "selected": take,
            }
            for c, take in zip(ordered, selected)
        ],
        spend_upper_bound_usd=total,
        planned_spend_coverage=(reached / total) if total else None,
    )
