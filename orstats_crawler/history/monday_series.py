"""The comparable Monday-week series (`monday_series`, `monday_series_authors`): one best estimate of
ALL of each complete Monday week's tokens, so that week over week compares like with like.

A week's tokens are the chart's total (its top 9 plus `Others`), else the official Data API's total
of a complete week, else the rows the history holds for it. From the week's rows in `monday_weeks`
(history/monday_weeks.py), each priced by the first that applies:

- **free**: a `:free` variant (or a known zero price) is 0, wherever it appears;
- **measured** rows (a split of that week: seven days of a crawl's daily activity, a Monday-window
  crawl, an imported or archived week) at their own best estimate, read from the view
  (`monday_revenue.revenue_best_usd`: effective prices of the crawl that measured them, else the
  list price valid that week);
- **modeled** rows (a known volume, no split: a chart key, a Data API top-50 row) at the $/token of
  the same model-variant in its rated weeks (its measured Monday weeks and the published crawls'
  own weeks), interpolated in time between the nearest one on either side (the nearest one beyond
  the last); else at the list price valid that week (or the nearest one the history ever held) with
  the split of its nearest measured week;
- **imputed**: a paid row the history never saw a price of (a model retired before any crawl) at the
  $/token of its author's rated rows of the nearest weeks, else of every named row of those weeks;
- **unpriced** (`unpriced_tokens`, shown): only a row seen without a price of any kind (ranked by a
  crawl with no list or effective price, or listed in a catalogue without one: embedding models), for
  which no other model's rate can stand in;
- **blended**: the rest of the week's tokens at a blended $/token. A measured week's rest is what
  its splits leave (cheap, high-volume traffic): the nearest crawl week's $/token of the
  model-variants the week neither names nor measured. A week with nothing measured prices all it
  does not name (the chart's `Others`) at the $/token of the traffic outside the named keys,
  interpolated between the rated weeks on either side (measured Monday weeks, crawl weeks, imported
  and archived weeks); beyond the last one it is extrapolated (`extrapolated_weeks`) and its band
  widens with the distance. Without any crawl week (imports only) the measured rows outside the
  chart's named keys of the nearest week where they hold enough of `Others` stand in.

The rest is shared among labs by the same weeks' mix of the rest (`monday_series_authors`), or,
where no week shows it, given to ``NOT_ATTRIBUTED``: never a lab at 0 because of the method.

**The band** is an interval of stated nominal coverage (``NOMINAL_COVERAGE``), calibrated on the
backtest (bench/backtest.py, docs/ACCURACY.md): each part of the estimate carries the relative
half-width of its tier's 80th percentile absolute error (``TIER_BAND``: measured, archived, modeled
from a Data API or import top list, modeled from the chart's top 9), widened by ``EXTRAPOLATED_PER_WEEK``
for each week of extrapolation; imputed rows add ``IMPUTED_DOUBT`` of themselves on each side, and
unpriced tokens may have cost up to the blended rate (high end).

`basis` is `measured` when measured rows carry at least ``MEASURED_SHARE`` of the estimate, else
`modeled`; `tier` names the week's least certain part. The series ends with the last complete Monday
week the latest published crawl has seen. The writer keeps both tables up to date after each crawl
(history/monday_series_update.py: the weeks its changes reach, from what each week read, ``Reads``;
``rebuild`` recomputes them all), so no reader aggregates the history; ``backtest`` models each
measured week from the weeks that share no day with it and compares (bench/backtest.py).
"""

from __future__ import annotations

import bisect
import functools
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from sqlite_utils import Database

from orstats_crawler.history.formulas import (best_revenue, effective_revenue, imputed_revenue, known_zero,
                                              list_revenue, row as formula_row)
from orstats_crawler.history.monday_weeks import MEASURED, MODELED
from orstats_crawler import pricing
from orstats_crawler.pricing import FREE_VARIANT, split_id

MEASURED_SHARE = 0.9  # a week is `measured` when measured rows carry this share of its estimate
# Without crawl weeks, a week whose measured rows outside the named keys hold at least this share of
# the tokens outside them (Others) stands for the rest of other weeks.
BLEND_MIN_SHARE = 0.25
OTHERS = "Others"
NOT_ATTRIBUTED = "(not attributed)"  # the rest of a week no neighbouring week shows the lab mix of
Key = tuple[str, str]

# The band: the nominal coverage it is calibrated for, and per tier the relative half-width that
# covered that share of the backtest's weeks (bench/backtest.py prints the coverage it reaches).
NOMINAL_COVERAGE = 0.8
MEASURED_TIER, ARCHIVED_TIER, TOP_LIST_TIER, CHART_TIER = "measured", "archived", "top_list", "chart"
TIER_BAND = {MEASURED_TIER: 0.03, ARCHIVED_TIER: 0.22, TOP_LIST_TIER: 0.10, CHART_TIER: 0.11}
# A rate extrapolated beyond the last rated week: the band widens by this much per week of distance
# (the rest's $/token drifts with the mix of models, faster than the named keys').
EXTRAPOLATED_PER_WEEK = 0.012
IMPUTED_DOUBT = 0.5  # an imputed row (its author's $/token) may be off by half either way
ARCHIVED_SOURCES = ("import", "archived")  # measured rows of an imported or archived week: list prices only

_M = formula_row()
# A measured row's best estimate is the view's (monday_revenue: the formula every reader uses).
_ROWS = f"""
SELECT r.week_start, r.week_end, r.permaslug, r.variant, r.basis, r.source, r.total_tokens,
  {known_zero(formula_row("r", "r"))} OR r.variant = '{FREE_VARIANT}' AS free,
  r.revenue_best_usd AS best_usd, r.revenue_list_usd AS list_usd
FROM monday_revenue r
WHERE r.total_tokens IS NOT NULL {{since}}
ORDER BY r.week_start, r.week_end, r.permaslug, r.variant
"""
# Whether a model-variant was seen with no price of any kind: ranked by a published crawl without a
# best estimate (no list or effective price), or listed in a catalogue without a usable price; by
# any crawl but `:crawl` ('' for none). One key at a time: each shown week's row is a primary-key
# lookup, where the whole history's rows would be a scan of every week.
# (model_weeks, not the weekly_revenue view: only the rows without a list price need the formula.)
SEEN_UNPRICED = f"""
SELECT 1 FROM weeks w
JOIN model_weeks m ON m.crawl_id = w.crawl_id AND m.week_start = w.week_start AND m.week_end = w.week_end
  AND m.permaslug = :permaslug AND m.variant = :variant
LEFT JOIN effective_prices e ON e.crawl_id = m.crawl_id AND e.permaslug = m.permaslug AND e.variant = m.variant
WHERE w.status = 'published' AND w.crawl_id != :crawl AND m.total_tokens > 0
  AND (m.prompt_price IS NULL OR m.completion_price IS NULL)
  AND {best_revenue(effective_revenue(_M), list_revenue(_M), imputed_revenue(_M))} IS NULL
UNION ALL
SELECT 1 FROM prices WHERE canonical_slug = :permaslug AND variant = :variant AND crawl_id != :crawl
  AND (prompt_price IS NULL OR completion_price IS NULL)
LIMIT 1
"""
_CHART = "SELECT week_start, week_end, key, tokens FROM chart_weeks WHERE 1 {since} ORDER BY week_start, key"
_DATASET = "SELECT week_start, week_end, total_tokens FROM dataset_weeks WHERE complete {since}"
# Published crawls' own weeks: a best estimate for (almost) every ranked model-variant. (An imported
# or archived week holds a leaderboard priced at list prices: a measured Monday week, not a crawl's.)
_CRAWL_WEEKS = """
SELECT r.week_start, r.week_end, r.permaslug, r.variant, r.total_tokens, r.revenue_best_usd FROM weekly_revenue r
JOIN crawls c ON c.id = r.crawl_id
WHERE r.status = 'published' AND c.era NOT IN ('import', 'archive') AND r.revenue_best_usd IS NOT NULL
  AND r.total_tokens > 0 {since}
ORDER BY r.week_start, r.permaslug, r.variant
"""
_HORIZON = "SELECT MAX(week_end) FROM weeks WHERE status = 'published'"
# A window of the history (``since``): the rows of the weeks starting on or after a day.
_SINCE = "AND {alias}week_start >= :since"
# Bounds of the span an estimate reads (``Reads``): before and after every week.
EARLIEST, LATEST = "0001-01-01", "9999-12-31"


@functools.lru_cache(maxsize=65536)
def author_of(key: Key) -> str:
    return pricing.author_of(key[0])


@dataclass
class Row:
    key: Key  # (permaslug, variant)
    basis: str  # measured, or a volume (modeled | volume in monday_weeks)
    tokens: int
    best: float | None = None  # a measured row's own estimate (formulas.best_revenue)
    list_usd: float | None = None  # at the list price valid that week, with its measured or borrowed split
    free: bool = False
    unpriced: bool = False  # seen without a price of any kind (ranked by a crawl, or in a catalogue)
    source: str | None = None  # monday_weeks.source


@dataclass
class Week:
    week_start: str
    week_end: str
    rows: list[Row] = field(default_factory=list)
    chart_total: int | None = None
    chart_values: dict[Key, int] = field(default_factory=dict)  # the named keys' tokens
    dataset_total: int | None = None

    @property
    def measured(self) -> bool:
        return any(row.basis == MEASURED and row.best is not None for row in self.rows)

    @property
    def known_keys(self) -> set[Key]:
        """What the week names or holds a row of: its rest is everything else."""
        return {row.key for row in self.rows} | set(self.chart_values)

    def total(self) -> tuple[int, str]:
        if self.chart_total is not None:
            return self.chart_total, "chart"
        if self.dataset_total is not None:
            return self.dataset_total, "data_api"
        return sum(row.tokens for row in self.rows), "rows"

    def days(self) -> tuple[date, date]:
        return date.fromisoformat(self.week_start), date.fromisoformat(self.week_end)


@dataclass
class Reads:
    """The span of weeks an estimate read: its own week, the rated weeks its rates and blend came
    from (and theirs, for a measured week's estimate it blended from), and the keys whose lookup found
    nothing before its week inside a window of the history (``edge``: a model-variant, an author's
    key, or ``OTHERS`` for the blend; the whole history may hold a nearer week there). A change on
    or after a day reaches every week whose span ends on or after it. A blend with no rated week
    after its week ends at ``LATEST``: any new rated week is nearer."""

    first: str
    last: str
    edge: set[Any] = field(default_factory=set)

    def add(self, week: str) -> None:
        self.first, self.last = min(self.first, week), max(self.last, week)

    def merge(self, other: "Reads") -> None:
        self.add(other.first)
        self.add(other.last)
        self.edge |= other.edge


@dataclass
class Estimate:
    week_start: str
    week_end: str
    total_tokens: int
    total_source: str  # chart | data_api | rows
    measured_tokens: int = 0
    modeled_tokens: int = 0
    blended_tokens: int = 0
    unpriced_tokens: int = 0
    imputed_tokens: int = 0  # of modeled_tokens: priced at their author's $/token
    measured_usd: float = 0.0
    modeled_usd: float = 0.0
    blended_usd: float = 0.0
    imputed_usd: float = 0.0
    blend_week_start: str | None = None  # the nearest week the blended rate came from
    blend_rate: float | None = None
    extrapolated_weeks: float = 0.0  # how far beyond the last (or before the first) rated week the rest is
    # author -> [usd, tokens]: named and held rows, then the rest by its lab mix
    authors: dict[str, list[float]] = field(default_factory=dict)
    tiers: dict[str, float] = field(default_factory=dict)  # usd by band tier
    held: dict[Key, tuple[float, int]] = field(default_factory=dict)  # (usd, tokens) of each priced row
    rest_mix: dict[str, float] = field(default_factory=dict)  # the blended rest's lab mix
    reads: Reads | None = None  # what it was estimated from (``Series.estimate`` sets it)

    @property
    def best(self) -> float:
        return self.measured_usd + self.modeled_usd + self.blended_usd

    @property
    def basis(self) -> str:
        return MEASURED if self.best and self.measured_usd >= MEASURED_SHARE * self.best else MODELED

    @property
    def tier(self) -> str:
        """The least certain tier holding a part of the estimate."""
        order = [CHART_TIER, TOP_LIST_TIER, ARCHIVED_TIER, MEASURED_TIER]
        return next((t for t in order if self.tiers.get(t)), MEASURED_TIER)

    def band(self) -> tuple[float, float]:
        """(low, high): each part's tier half-width (the rest's widened by extrapolation), imputed rows'
        doubt, and what unpriced tokens may have cost at the blended rate."""
        half = sum(usd * TIER_BAND[tier] for tier, usd in self.tiers.items())
        half += (self.modeled_usd + self.blended_usd) * EXTRAPOLATED_PER_WEEK * self.extrapolated_weeks
        half += self.imputed_usd * IMPUTED_DOUBT
        unpriced = self.unpriced_tokens * (self.blend_rate or 0.0)
        return max(self.best - half, 0.0), self.best + half + unpriced

    def add(self, tier: str, usd: float) -> None:
        self.tiers[tier] = self.tiers.get(tier, 0.0) + usd

    def credit(self, author: str, usd: float, tokens: float) -> None:
        totals = self.authors.setdefault(author, [0.0, 0])
        totals[0], totals[1] = totals[0] + usd, totals[1] + tokens

    def rated(self) -> "RatedWeek":
        return RatedWeek(self.week_start, self.week_end, dict(self.held), self.blended_usd, self.blended_tokens,
                         self.rest_mix, self.reads)

    def record(self) -> dict[str, Any]:
        known = self.measured_tokens or self.modeled_tokens or self.blended_tokens
        low, high = self.band()
        return {"week_start": self.week_start, "week_end": self.week_end, "total_tokens": self.total_tokens,
                "total_source": self.total_source, "measured_tokens": self.measured_tokens,
                "modeled_tokens": self.modeled_tokens, "blended_tokens": self.blended_tokens,
                "measured_usd": self.measured_usd, "modeled_usd": self.modeled_usd, "blended_usd": self.blended_usd,
                "revenue_best_usd": self.best if known else None, "revenue_low_usd": low if known else None,
                "revenue_high_usd": high if known else None, "basis": self.basis if known else None,
                "blend_week_start": self.blend_week_start, "unpriced_tokens": self.unpriced_tokens,
                "imputed_tokens": self.imputed_tokens, "imputed_usd": self.imputed_usd,
                "extrapolated_weeks": self.extrapolated_weeks, "tier": self.tier if known else None}


def _shares(usd: dict[str, float]) -> dict[str, float]:
    positive = {k: v for k, v in usd.items() if v > 0}
    total = sum(positive.values())
    return {k: v / total for k, v in positive.items()} if total else {}


def _days(a: str, b: str) -> int:
    return (date.fromisoformat(a) - date.fromisoformat(b)).days


def weights(known: Iterable[str], week: str) -> tuple[list[tuple[str, float]], float]:
    """How a week borrows from rated weeks: itself; else linear in time between the nearest on either
    side; else the nearest one, with how many weeks beyond it the week lies."""
    known = set(known)
    if week in known:
        return [(week, 1.0)], 0.0
    before = max((w for w in known if w < week), default=None)
    after = min((w for w in known if w > week), default=None)
    if before and after:
        share = _days(week, before) / _days(after, before)
        return [(before, 1 - share), (after, share)], 0.0
    nearest = before or after
    if nearest is None:
        return [], 0.0
    return [(nearest, 1.0)], abs(_days(week, nearest)) / 7


class Rates:
    """$/token by week start, per key (a model-variant, an author, or ``OTHERS`` for a blend), and for
    a blend the lab mix that goes with it."""

    def __init__(self, window: bool = False) -> None:
        self.by_key: dict[Any, dict[str, float]] = defaultdict(dict)
        self.mixes: dict[str, dict[str, float]] = {}
        self.window = window  # the rates of a window of the history: nothing before a week is an edge

    def add(self, key: Any, week: str, rate: float, mix: dict[str, float] | None = None) -> None:
        self.by_key[key][week] = rate
        if mix is not None:
            self.mixes[week] = mix

    def interpolated(self, key: Any, week: str,
                     reads: Reads | None = None) -> tuple[float, str, float, dict[str, float]] | None:
        """(rate, nearest week, weeks of extrapolation, lab mix) at ``week``; the weeks it read go to ``reads``."""
        known = self.by_key.get(key, {})
        points, beyond = weights(known, week)
        if reads is not None:
            for w, _ in points:
                reads.add(w)
            if self.window and (not points or (beyond > 0 and points[0][0] > week)):
                reads.edge.add(key)  # nothing before the week: a window of the history may have left it out
        if not points:
            return None
        rate = sum(known[w] * weight for w, weight in points)
        mix: dict[str, float] = defaultdict(float)
        for w, weight in points:
            for author, share in self.mixes.get(w, {}).items():
                mix[author] += weight * share
        nearest = min(points, key=lambda p: (abs(_days(p[0], week)), p[0]))[0]
        return rate, nearest, beyond, _shares(mix)


# --- what the history holds ---------------------------------------------------------------------

def _windowed(sql: str, since: str | None, alias: str = "") -> str:
    return sql.format(since=_SINCE.format(alias=alias) if since else "")


def load_weeks(db: Database, since: str | None = None) -> dict[str, Week]:
    """Every complete Monday week up to the latest published crawl's week (starting on or after ``since``)."""
    horizon = db.execute(_HORIZON).fetchone()[0]
    window = {"since": since}
    weeks: dict[str, Week] = {}

    def week(start: str, end: str) -> Week:
        return weeks.setdefault(start, Week(start, end))

    rows: list[Row] = []
    for r in db.query(_windowed(_ROWS, since, "r."), window):
        row = Row((r["permaslug"], r["variant"]), r["basis"], r["total_tokens"], list_usd=r["list_usd"],
                  free=bool(r["free"]), source=r["source"])
        if r["basis"] == MEASURED:
            row.best = r["best_usd"]
        row.unpriced = not row.free and r["list_usd"] is None and row.best is None  # if seen so (below)
        rows.append(row)
        week(r["week_start"], r["week_end"]).rows.append(row)
    unpriced = seen_unpriced(db, {row.key for row in rows if row.unpriced})
    for row in rows:
        row.unpriced = row.unpriced and row.key in unpriced
    for r in db.query(_windowed(_CHART, since), window):
        w = week(r["week_start"], r["week_end"])
        w.chart_total = (w.chart_total or 0) + r["tokens"]
        if r["key"] != OTHERS:
            w.chart_values[split_id(r["key"])] = r["tokens"]
    for r in db.query(_windowed(_DATASET, since), window):
        week(r["week_start"], r["week_end"]).dataset_total = r["total_tokens"]
    return {start: w for start, w in weeks.items() if horizon and w.week_end <= horizon}


@dataclass
class RatedWeek:
    """A week whose every token has a price: a published crawl's own week (every ranked model-variant's
    best estimate) or a measured Monday week's estimate (its rows, and its rest at its blended rate)."""

    week_start: str
    week_end: str
    rows: dict[Key, tuple[float, int]] = field(default_factory=dict)  # (usd, tokens) of each held row
    rest_usd: float = 0.0  # what no row holds, and its lab mix
    rest_tokens: int = 0
    rest_mix: dict[str, float] = field(default_factory=dict)
    reads: Reads | None = None  # a measured week's estimate: what it read (a crawl week reads only itself)

    def read_by(self, reads: Reads) -> None:
        if self.reads is None:
            reads.add(self.week_start)
        else:
            reads.merge(self.reads)

    def outside(self, excluded: set[Key]) -> tuple[float, dict[str, float]] | None:
        """The $/token of everything outside ``excluded`` (another week's named keys), and its lab mix."""
        usd, tokens = self.rest_usd, self.rest_tokens
        by_author: dict[str, float] = defaultdict(float, {a: self.rest_usd * s for a, s in self.rest_mix.items()})
        for key, (best, count) in self.rows.items():
            if key not in excluded:
                usd, tokens = usd + best, tokens + count
                by_author[author_of(key)] += best
        return (usd / tokens, _shares(by_author)) if tokens > 0 else None

    def overlaps(self, first: date, last: date) -> bool:
        return date.fromisoformat(self.week_start) <= last and date.fromisoformat(self.week_end) >= first


def seen_unpriced(db: Database, keys: Iterable[Key], except_crawl: str = "") -> set[Key]:
    """Those of the model-variants seen with no price of any kind (``SEEN_UNPRICED``)."""
    return {key for key in sorted(keys) if db.execute(
        SEEN_UNPRICED, {"permaslug": key[0], "variant": key[1], "crawl": except_crawl}).fetchone()}


def load_crawl_weeks(db: Database, since: str | None = None) -> list[RatedWeek]:
    found: dict[str, RatedWeek] = {}
    for r in db.query(_windowed(_CRAWL_WEEKS, since, "r."), {"since": since}):
        week = found.setdefault(r["week_start"], RatedWeek(r["week_start"], r["week_end"]))
        week.rows[(r["permaslug"], r["variant"])] = (r["revenue_best_usd"], r["total_tokens"])
    return list(found.values())


# --- the estimate ---------------------------------------------------------------------------------

class Series:
    """The rated weeks the estimates draw on: measured Monday weeks and the crawls' own weeks."""

    def __init__(self, weeks: dict[str, Week], crawl_weeks: list[RatedWeek], window: bool = False):
        """``window``: the weeks and crawl weeks are those of a window of the history (``load_series``)."""
        self.weeks, self.crawl_weeks = weeks, crawl_weeks
        self.window = window
        self.rates = Rates(window)
        for crawl_week in crawl_weeks:
            by_author: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
            for key, (best, tokens) in crawl_week.rows.items():
                self.rates.add(key, crawl_week.week_start, best / tokens)
                if not key[1] == FREE_VARIANT:
                    by_author[author_of(key)][0] += best
                    by_author[author_of(key)][1] += tokens
            self._add_author_rates(crawl_week.week_start, by_author)
        for w in weeks.values():  # a measured Monday week wins over a crawl week starting that day
            by_author = defaultdict(lambda: [0.0, 0])
            for row in w.rows:
                if row.basis == MEASURED and row.best is not None and row.tokens:
                    self.rates.add(row.key, w.week_start, row.best / row.tokens)
                    if not row.free:
                        by_author[author_of(row.key)][0] += row.best
                        by_author[author_of(row.key)][1] += row.tokens
            self._add_author_rates(w.week_start, by_author)
        # Each measured week's own estimate (its rest priced from the crawl weeks): a rated week for
        # the weeks that measured nothing. It reads no other week's, so it is kept for estimates().
        self._crawl_sources = sorted(crawl_weeks, key=lambda rated: rated.week_start)
        self._all: list[RatedWeek] | None = None
        self._measured: dict[str, Estimate] = {}
        self.measured_weeks: list[RatedWeek] = []
        for start, w in weeks.items():
            if w.measured and self.crawl_weeks:
                self._measured[start] = self.estimate(w)
                self.measured_weeks.append(self._measured[start].rated())

    def _add_author_rates(self, week: str, by_author: dict[str, list[float]]) -> None:
        """Each author's paid $/token in a rated week, and every author's together (``None``): what an
        unpriced row of theirs is imputed from."""
        for author, (usd, tokens) in by_author.items():
            if tokens:
                self.rates.add(("author", author), week, usd / tokens)
        usd, tokens = sum(v[0] for v in by_author.values()), sum(v[1] for v in by_author.values())
        if tokens:
            self.rates.add(("author", None), week, usd / tokens)

    def blend(self, w: Week, reads: Reads) -> tuple[float, str, float, dict[str, float]] | None:
        """The blended rate for the rest of ``w`` (rate, nearest source week, weeks of extrapolation,
        lab mix): from the rated weeks nearest to it on either side that hold anything outside its
        keys (crawl weeks; for a week that measured nothing, measured Monday weeks too). Every rated
        week it looks at goes to ``reads`` (one that held nothing outside the keys could later)."""
        blends = Rates()
        excluded = w.known_keys
        sources = self._crawl_sources if w.measured else self._all_sources()
        starts = [rated.week_start for rated in sources]
        first, last = bisect.bisect_left(starts, w.week_start), bisect.bisect_right(starts, w.week_start)
        for index in range(first, last):  # the week itself, when rated, is taken alone
            sources[index].read_by(reads)
            found = sources[index].outside(excluded)
            if found is not None:
                blends.add(OTHERS, w.week_start, *found)
        for before, side in (() if blends.by_key else ((True, range(first - 1, -1, -1)),
                                                       (False, range(last, len(sources))))):
            for index in side:
                sources[index].read_by(reads)
                found = sources[index].outside(excluded)
                if found is not None:
                    blends.add(OTHERS, sources[index].week_start, *found)
                    break
            else:  # none on this side: a window may have left one out before, a later crawl may add one after
                if before and self.window:
                    reads.edge.add(OTHERS)
                reads.add(w.week_start if before else LATEST)
        if not blends.by_key:
            self._without_crawl_weeks(blends)
            reads.merge(Reads(EARLIEST, LATEST, {OTHERS} if self.window else set()))  # every week's rows
        return blends.interpolated(OTHERS, w.week_start)

    def _all_sources(self) -> list[RatedWeek]:
        """Crawl weeks and measured Monday weeks by start (a measured Monday week wins its start day)."""
        if self._all is None:
            by_start = {rated.week_start: rated for rated in self.crawl_weeks}
            by_start.update((rated.week_start, rated) for rated in self.measured_weeks)
            self._all = [by_start[start] for start in sorted(by_start)]
        return self._all

    def _without_crawl_weeks(self, blends: Rates) -> None:
        for w in self.weeks.values():
            outside = [r for r in w.rows if r.basis == MEASURED and r.best is not None and r.key not in w.chart_values]
            tokens = sum(r.tokens for r in outside)
            named = sum(r.tokens for r in w.rows if r.key in w.chart_values)
            others = (w.chart_total - named) if w.chart_total is not None else tokens
            if tokens and others > 0 and tokens >= BLEND_MIN_SHARE * others:
                by_author: dict[str, float] = defaultdict(float)
                for r in outside:
                    by_author[author_of(r.key)] += r.best
                blends.add(OTHERS, w.week_start, sum(r.best for r in outside) / tokens, _shares(by_author))

    def price(self, row: Row, week: str, reads: Reads) -> tuple[float, str, bool] | None:
        """(usd, tier, imputed) of a row without its own measured estimate: its rated weeks' $/token,
        else its list price, else its author's $/token; None when it has no price of any kind."""
        tier = TOP_LIST_TIER if row.source not in (None, "chart") else CHART_TIER
        found = self.rates.interpolated(row.key, week, reads)
        if found is not None:
            return row.tokens * found[0], tier, False
        if row.list_usd is not None:
            return row.list_usd, tier, False
        if row.unpriced:
            return None
        for key in (("author", author_of(row.key)), ("author", None)):
            found = self.rates.interpolated(key, week, reads)
            if found is not None:
                return row.tokens * found[0], tier, True
        return None

    def estimate(self, w: Week) -> Estimate:
        total, source = w.total()
        e = Estimate(w.week_start, w.week_end, total, source, reads=Reads(w.week_start, w.week_start))
        for row in w.rows:
            imputed = False
            if row.free:
                usd, tier = 0.0, MEASURED_TIER
                measured = row.basis == MEASURED
            elif row.basis == MEASURED and row.best is not None:
                usd, measured = row.best, True
                tier = ARCHIVED_TIER if row.source in ARCHIVED_SOURCES else MEASURED_TIER
            else:
                priced = self.price(row, w.week_start, e.reads)
                if priced is None:
                    e.unpriced_tokens += row.tokens
                    continue
                (usd, tier, imputed), measured = priced, False
            if measured:
                e.measured_tokens, e.measured_usd = e.measured_tokens + row.tokens, e.measured_usd + usd
            else:
                e.modeled_tokens, e.modeled_usd = e.modeled_tokens + row.tokens, e.modeled_usd + usd
            if imputed:
                e.imputed_tokens, e.imputed_usd = e.imputed_tokens + row.tokens, e.imputed_usd + usd
            e.add(tier, usd)
            e.held[row.key] = (usd, row.tokens)
            e.credit(author_of(row.key), usd, row.tokens)
        rest = max(total - e.measured_tokens - e.modeled_tokens - e.unpriced_tokens, 0)
        blend = self.blend(w, e.reads) if rest or e.unpriced_tokens else None
        if blend is not None:
            e.blend_rate, e.blend_week_start, beyond, mix = blend
        if rest and blend is None:
            e.unpriced_tokens += rest
        elif rest:
            e.blended_tokens, e.blended_usd, e.extrapolated_weeks = rest, rest * e.blend_rate, beyond
            e.add(TOP_LIST_TIER if w.measured or source != "chart" else CHART_TIER, e.blended_usd)
            e.rest_mix = mix
            for author, share in (mix or {NOT_ATTRIBUTED: 1.0}).items():
                e.credit(author, e.blended_usd * share, rest * share)
        return e

    def measured_estimate(self, start: str) -> Estimate | None:
        """A measured week's estimate, made once when the series was loaded (the blend of other weeks reads it)."""
        return self._measured.get(start)

    def estimates(self) -> list[Estimate]:
        return [self.measured_estimate(start) or self.estimate(w) for start, w in sorted(self.weeks.items())]


def load_series(db: Database, since: str | None = None) -> Series:
    """The whole history's series, or (``since``) that of the weeks starting on or after a day."""
    return Series(load_weeks(db, since), load_crawl_weeks(db, since), window=since is not None)


# --- backtest -------------------------------------------------------------------------------------

@dataclass
class Backtest:
    week_start: str
    tier: str  # how the week was modeled (a band tier)
    measured_usd: float  # the week's estimate from its own measurements
    modeled_usd: float  # the same week modeled from what the tier would know of it
    low: float  # the modeled estimate's band
    high: float
    nearest_week: str | None  # the nearest week its blended rate came from

    @property
    def error(self) -> float:
        return self.modeled_usd / self.measured_usd - 1

    @property
    def covered(self) -> bool:
        return self.low <= self.measured_usd <= self.high


def blind_weeks(w: Week, held_out: bool, top: int = 50) -> Iterable[tuple[str, Week]]:
    """What each tier would know of a measured week:
    - `measured`: the week itself, its rest then priced from weeks sharing no day with it (only where
      a crawl week sharing days with it was ``held_out``: else nothing differs);
    - `archived`: its measured rows at the list price valid that week (an archived or imported
      leaderboard has no effective prices);
    - `top_list`: the volumes of its `top` largest rows (the Data API's top 50, an imported top list);
    - `chart`: the volumes of the chart's top 9, and its total."""
    measured = [r for r in w.rows if r.basis == MEASURED]
    if held_out:
        yield MEASURED_TIER, w
    if any(r.source not in ARCHIVED_SOURCES for r in measured):
        archived = [Row(r.key, MEASURED, r.tokens, best=r.list_usd, free=r.free, unpriced=r.unpriced,
                        source="archived") if r.basis == MEASURED and r.list_usd is not None
                    else Row(r.key, MODELED, r.tokens, free=r.free, unpriced=r.unpriced, source="archived")
                    for r in w.rows]
        yield ARCHIVED_TIER, Week(w.week_start, w.week_end, archived, w.chart_total, dict(w.chart_values),
                                  w.dataset_total)
    largest = sorted(measured, key=lambda r: -r.tokens)[:top]
    yield TOP_LIST_TIER, Week(w.week_start, w.week_end, [
        Row(r.key, MODELED, r.tokens, free=r.free, unpriced=r.unpriced, source="data_api") for r in largest],
        w.chart_total, {}, w.dataset_total)
    if w.chart_values:
        unpriced = {r.key for r in w.rows if r.unpriced}
        yield CHART_TIER, Week(w.week_start, w.week_end, [
            Row(key, MODELED, tokens, free=key[1] == FREE_VARIANT, unpriced=key in unpriced, source="chart")
            for key, tokens in w.chart_values.items()], w.chart_total, dict(w.chart_values), w.dataset_total)


def backtest(db: Database) -> list[Backtest]:
    """Every measured Monday week modeled, tier by tier (``blind_weeks``), from the weeks that share no
    day with it (its rates and blend never come from a crawl week overlapping it), against its estimate
    from its own measurements."""
    series = load_series(db)
    results = []
    for start, w in sorted(series.weeks.items()):
        if not w.measured:
            continue
        measured = series._measured.get(start) or series.estimate(w)
        if not measured.best:
            continue
        first, last = w.days()
        apart = [c for c in series.crawl_weeks if not c.overlaps(first, last)]
        others = Series({k: o for k, o in series.weeks.items() if k != start}, apart)
        for tier, blind in blind_weeks(w, len(apart) < len(series.crawl_weeks)):
            modeled = others.estimate(blind)
            if modeled.best:
                results.append(Backtest(start, tier, measured.best, modeled.best, *modeled.band(),
                                        modeled.blend_week_start))
    return results


@dataclass
class TierScore:
    tier: str
    weeks: int
    median_error: float  # absolute, relative to the measured estimate
    p90_error: float
    coverage: float  # share of the weeks whose measured estimate lies in the modeled band
    needed_band: float  # the half-width that would have covered NOMINAL_COVERAGE of them


def scores(results: list[Backtest]) -> list[TierScore]:
    out = []
    for tier in (MEASURED_TIER, ARCHIVED_TIER, TOP_LIST_TIER, CHART_TIER):
        chosen = [r for r in results if r.tier == tier]
        if not chosen:
            continue
        errors = sorted(abs(r.error) for r in chosen)
        out.append(TierScore(tier, len(chosen), statistics.median(errors), _quantile(errors, 0.9),
                             sum(r.covered for r in chosen) / len(chosen), _quantile(errors, NOMINAL_COVERAGE)))
    return out


def _quantile(ordered: list[float], q: float) -> float:
    """The nearest-rank quantile: the smallest value at or above a share ``q`` of the values."""
    return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered) - 1e-9))) - 1]


SERIES_TABLES = ("monday_series", "monday_series_authors", "monday_series_reads")


def rebuild(db: Database) -> None:
    """Recompute `monday_series` and `monday_series_authors` (inside the writer's transaction)."""
    estimates = load_series(db).estimates()
    for table in SERIES_TABLES:
        db.execute(f"DELETE FROM [{table}]")
    store(db, estimates)


def store(db: Database, estimates: list[Estimate]) -> None:
    """Insert the weeks' rows (their earlier rows deleted by the caller), and what each read."""
    if estimates:
        _insert(db, "monday_series", [e.record() for e in estimates])
        _insert(db, "monday_series_authors", [
            {"week_start": e.week_start, "week_end": e.week_end, "author": author, "revenue_best_usd": usd,
             "tokens": round(tokens)} for e in estimates for author, (usd, tokens) in sorted(e.authors.items())])
        _insert(db, "monday_series_reads", [
            {"week_start": e.week_start, "week_end": e.week_end, "first_week": e.reads.first,
             "last_week": e.reads.last} for e in estimates if e.reads is not None])


def _insert(db: Database, table: str, rows: list[dict[str, Any]]) -> None:
    """One executemany: sqlite-utils' insert_all wraps every chunk in a savepoint of its own."""
    columns = list(rows[0])
    db.conn.executemany(f"INSERT INTO [{table}] ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        [[row[c] for c in columns] for row in rows])
