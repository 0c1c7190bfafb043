"""The dated price history: which list price held in a given week.

Every crawl stores the catalogue it saw in ``prices`` with ``observed_on`` (and an import stores the
prices its file applied). A week is priced with the observation nearest to it that could have held
in it: the latest one on or before the week's last day; failing that, the earliest one after it.
``price_basis`` says which (`before` | `after`), ``price_observed_on`` which day; a `:free` variant
is free (`free`) whatever was observed; with no observation at all the price is unknown (NULL).

The other bases in the history: `crawl` (a crawl's own week, priced with its own catalogue, the
day after the week) and `file` (an imported week, priced as its file priced it).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from orstats_crawler.pricing import FREE_VARIANT

BEFORE, AFTER, FREE, CRAWL, FILE = "before", "after", "free", "crawl", "file"


@dataclass(frozen=True)
class WeekPrice:
    prompt_price: float | None
    completion_price: float | None
    cache_read_price: float | None
    is_free: int | None
    price_basis: str | None
    price_observed_on: str | None

    def columns(self) -> dict[str, Any]:
        return dict(self.__dict__)


UNKNOWN = WeekPrice(None, None, None, None, None, None)
FREE_PRICE = WeekPrice(0.0, 0.0, 0.0, 1, FREE, None)

# One usable observation per (canonical_slug, variant, day): aliases (`~author/...-latest` ids)
# after real ids, then the latest crawl of the day.
_OBSERVATIONS = """
SELECT p.canonical_slug, p.variant, p.observed_on, p.prompt_price, p.completion_price,
       p.cache_read_price, p.is_free
FROM prices p LEFT JOIN crawls c ON c.id = p.crawl_id
WHERE p.prompt_price IS NOT NULL AND p.completion_price IS NOT NULL AND p.observed_on IS NOT NULL
ORDER BY p.canonical_slug, p.variant, p.observed_on, substr(p.public_id, 1, 1) = '~' DESC,
         c.started_at, p.crawl_id
"""


class PriceHistory:
    """All usable observations, loaded once, looked up by (permaslug, variant, week end)."""

    def __init__(self, db: Database):
        by_key: dict[tuple[str, str], dict[str, tuple]] = defaultdict(dict)
        for slug, variant, day, prompt, completion, cache_read, is_free in db.execute(_OBSERVATIONS).fetchall():
            by_key[(slug, variant)][day] = (prompt, completion, cache_read, is_free)  # the last one wins
        self._days = {key: sorted(days) for key, days in by_key.items()}
        self._prices = dict(by_key)

    def at(self, permaslug: str, variant: str, week_end: str) -> WeekPrice:
        if variant == FREE_VARIANT:
            return FREE_PRICE
        days = self._days.get((permaslug, variant))
        if not days:
            return UNKNOWN
        index = bisect_right(days, week_end)
        day, basis = (days[index - 1], BEFORE) if index else (days[0], AFTER)
        prompt, completion, cache_read, is_free = self._prices[(permaslug, variant)][day]
        return WeekPrice(prompt, completion, cache_read, is_free, basis, day)
