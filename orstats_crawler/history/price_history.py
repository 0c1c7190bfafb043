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

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
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

# A model-variant's usable observation days within a span around the weeks it prices, and the
# nearest one on either side of the span, oldest first: any week in the span finds its nearest day
# on either side among them in Python. Each part walks the (canonical_slug, variant, observed_on)
# index over the span only, so a lookup costs the same on a long history as on a new one. A
# rejected crawl's catalogue is kept for inspection but prices nothing: the gate turned it down (a
# price beyond the bound, say). (The crawl's status is looked up for each row found, not gathered
# from every crawl at each lookup.)
_USABLE = ("canonical_slug = :permaslug AND variant = :variant AND prompt_price IS NOT NULL "
           "AND completion_price IS NOT NULL "
           "AND NOT EXISTS (SELECT 1 FROM crawls c WHERE c.id = prices.crawl_id AND c.status = 'rejected')")
_DAYS_AROUND = f"""
SELECT * FROM (SELECT observed_on FROM prices WHERE {_USABLE} AND observed_on < :first
               ORDER BY observed_on DESC LIMIT 1)
UNION SELECT observed_on FROM prices WHERE {_USABLE} AND observed_on BETWEEN :first AND :last
UNION SELECT * FROM (SELECT observed_on FROM prices WHERE {_USABLE} AND observed_on > :last
                     ORDER BY observed_on LIMIT 1)
ORDER BY 1
"""
_SPAN = timedelta(days=400)  # either side of a week: about the weeks one crawl prices
_ON_DAY = """
SELECT p.prompt_price, p.completion_price, p.cache_read_price, p.is_free
FROM prices p LEFT JOIN crawls c ON c.id = p.crawl_id
WHERE p.canonical_slug = ? AND p.variant = ? AND p.observed_on = ?
  AND p.prompt_price IS NOT NULL AND p.completion_price IS NOT NULL AND COALESCE(c.status, '') != 'rejected'
ORDER BY substr(p.public_id, 1, 1) = '~', c.started_at DESC, p.crawl_id DESC LIMIT 1
"""


class PriceHistory:
    """Looks prices up in ``prices`` by (permaslug, variant, week end), remembering each answer, the
    observation days it read and each day's price."""

    def __init__(self, db: Database):
        self.conn = db.conn
        self._seen: dict[tuple[str, str, str], WeekPrice] = {}
        self._spans: dict[tuple[str, str], list[tuple[str, str, list[str]]]] = {}
        self._on_day: dict[tuple[str, str, str], tuple] = {}

    def at(self, permaslug: str, variant: str, week_end: str) -> WeekPrice:
        if variant == FREE_VARIANT:
            return FREE_PRICE
        key = (permaslug, variant, week_end)
        if key not in self._seen:
            self._seen[key] = self._lookup(*key)
        return self._seen[key]

    def _lookup(self, permaslug: str, variant: str, week_end: str) -> WeekPrice:
        """The latest observation on or before the week's last day; failing that, the earliest after."""
        days = self._observation_days(permaslug, variant, week_end)
        before = bisect_right(days, week_end)
        if before:
            return self._price(permaslug, variant, days[before - 1], BEFORE)
        if days:
            return self._price(permaslug, variant, days[0], AFTER)
        return UNKNOWN

    def _observation_days(self, permaslug: str, variant: str, week_end: str) -> list[str]:
        """The usable days of a span holding the week's last day, with the nearest on either side of it."""
        spans = self._spans.setdefault((permaslug, variant), [])
        for first, last, days in spans:
            if first <= week_end <= last:
                return days
        end = date.fromisoformat(week_end)
        first, last = (end - _SPAN).isoformat(), (end + _SPAN).isoformat()
        days = [row[0] for row in self.conn.execute(
            _DAYS_AROUND, {"permaslug": permaslug, "variant": variant, "first": first, "last": last})]
        spans.append((first, last, days))
        return days

    def _price(self, permaslug: str, variant: str, day: str, basis: str) -> WeekPrice:
        key = (permaslug, variant, day)
        if key not in self._on_day:
            self._on_day[key] = self.conn.execute(_ON_DAY, key).fetchone()
        return WeekPrice(*self._on_day[key], basis, day)
