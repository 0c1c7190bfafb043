"""The dated price history: which list price held in a given week.

Every crawl stores the catalogue it saw in ``prices`` with ``observed_on`` (and an import stores the
prices its file applied; an archived week, its archived catalogue dated by its capture day); a
rejected crawl's catalogue prices nothing. A week is priced with the observation nearest to it that could have held
in it: the latest one on or before the week's last day; failing that, the earliest one after it.
``price_basis`` says which (`before` | `after`), ``price_observed_on`` which day; a `:free` variant
is free (`free`) whatever was observed; with no observation at all the price is unknown (NULL).
Of several observations of one day, a real id's wins over an alias's (`~author/...-latest`), then
the latest crawl's.

The other bases in the history: `crawl` (a crawl's own week, priced with its own catalogue, the
day after the week) and `file` (an imported week, priced as its file priced it).
"""

from __future__ import annotations

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

# The nearest usable observation day on either side; both walk the (canonical_slug, variant,
# observed_on) index and stop at the first row. A rejected crawl's catalogue is kept for inspection
# but prices nothing: the gate turned it down (a price beyond the bound, say).
# (The crawl's status is looked up for the row found, not gathered from every crawl at each lookup.)
_USABLE = ("canonical_slug = ? AND variant = ? AND prompt_price IS NOT NULL AND completion_price IS NOT NULL "
           "AND NOT EXISTS (SELECT 1 FROM crawls c WHERE c.id = prices.crawl_id AND c.status = 'rejected')")
_DAY_BEFORE = f"SELECT observed_on FROM prices WHERE {_USABLE} AND observed_on <= ? ORDER BY observed_on DESC LIMIT 1"
_DAY_AFTER = f"SELECT observed_on FROM prices WHERE {_USABLE} AND observed_on > ? ORDER BY observed_on LIMIT 1"
_ON_DAY = """
SELECT p.prompt_price, p.completion_price, p.cache_read_price, p.is_free
FROM prices p LEFT JOIN crawls c ON c.id = p.crawl_id
WHERE p.canonical_slug = ? AND p.variant = ? AND p.observed_on = ?
  AND p.prompt_price IS NOT NULL AND p.completion_price IS NOT NULL AND COALESCE(c.status, '') != 'rejected'
ORDER BY substr(p.public_id, 1, 1) = '~', c.started_at DESC, p.crawl_id DESC LIMIT 1
"""


class PriceHistory:
    """Looks prices up in ``prices`` by (permaslug, variant, week end), remembering each answer."""

    def __init__(self, db: Database):
        self.conn = db.conn
        self._seen: dict[tuple[str, str, str], WeekPrice] = {}

    def at(self, permaslug: str, variant: str, week_end: str) -> WeekPrice:
        if variant == FREE_VARIANT:
            return FREE_PRICE
        key = (permaslug, variant, week_end)
        if key not in self._seen:
            self._seen[key] = self._lookup(*key)
        return self._seen[key]

    def _lookup(self, permaslug: str, variant: str, week_end: str) -> WeekPrice:
        for query, basis in ((_DAY_BEFORE, BEFORE), (_DAY_AFTER, AFTER)):
            day = self.conn.execute(query, [permaslug, variant, week_end]).fetchone()
            if day:
                prices = self.conn.execute(_ON_DAY, [permaslug, variant, day[0]]).fetchone()
                return WeekPrice(*prices, basis, day[0])
        return UNKNOWN
