"""The comparable Monday-week series (`monday_series`, `monday_series_authors`): one best estimate of
ALL of each complete Monday week's tokens, so that week over week compares like with like.

A week's tokens are the chart's total (its top 9 plus `Others`), else the official Data API's total
of a complete week, else the rows the history holds for it. From the week's rows in `monday_weeks`
(history/series.py):

- **measured** rows (a split of that week: seven days of a crawl's daily activity, a Monday-window
  crawl, an imported week) at their own best estimate: effective prices of the crawl that measured
  them where it fetched one, else the list price valid that week; the band runs between the two;
- **modeled** rows (a known volume, no split: a chart key, a Data API top-50 row) at the $/token of
  the same model-variant in its rated weeks: its measured Monday weeks and the published crawls'
  own weeks (where every ranked model-variant has a best estimate: effective prices need no split),
  interpolated in time between the nearest one on either side (the nearest one beyond the last);
  the band runs between those two;
- **blended**: the rest of the week's tokens at a blended $/token. A measured week's rest is what
  its splits leave (cheap, high-volume traffic): the nearest crawl week's $/token of the
  model-variants the week neither names nor measured. A week with nothing measured prices all it
  does not name (the chart's `Others`) at the $/token of the traffic outside the named keys,
  interpolated between the rated weeks on either side: measured Monday weeks and crawl weeks.
  Without any crawl week (imports only) the measured rows outside the chart's named keys of the
  nearest week where they hold enough of `Others` stand in. Rows known to have no price are left
  out (`unpriced_tokens`).

`basis` is `measured` when measured rows carry at least ``MEASURED_SHARE`` of the estimate, else
`modeled`. The series ends with the last complete Monday week the latest published crawl has seen.
The writer rebuilds both tables after each crawl (``rebuild``), so no reader aggregates the history;
``backtest`` models each measured week from the others and compares (bench/backtest.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlite_utils import Database

from orstats_crawler.history.formulas import REVENUE_EFFECTIVE_WEEK, REVENUE_LIST
from orstats_crawler.history.series import MEASURED, MODELED
from orstats_crawler.pricing import split_id

MEASURED_SHARE = 0.9  # a week is `measured` when measured rows carry this share of its estimate
# Without crawl weeks, a week whose measured rows outside the named keys hold at least this share of
# the tokens outside them (Others) stands for the rest of other weeks.
BLEND_MIN_SHARE = 0.25
OTHERS = "Others"
Key = tuple[str, str]

_ROWS = f"""
SELECT m.week_start, m.week_end, m.permaslug, m.variant, m.basis, m.total_tokens, m.is_free,
  m.prompt_price IS NOT NULL AND m.completion_price IS NOT NULL AS listed,
  {REVENUE_LIST} AS list_usd, {REVENUE_EFFECTIVE_WEEK} AS effective_usd
FROM monday_weeks m
LEFT JOIN effective_prices e ON e.crawl_id = m.crawl_id AND e.permaslug = m.permaslug AND e.variant = m.variant
WHERE m.total_tokens IS NOT NULL
"""
_CHART = "SELECT week_start, week_end, key, tokens FROM chart_weeks ORDER BY week_start"
_DATASET = "SELECT week_start, week_end, total_tokens FROM dataset_weeks WHERE complete"
# Published crawls' own weeks: a best estimate for (almost) every ranked model-variant. (An imported
# week holds the earlier project's top rows only: it is a measured Monday week, not a whole week.)
_CRAWL_WEEKS = """
SELECT r.week_start, r.permaslug, r.variant, r.total_tokens, r.revenue_best_usd FROM weekly_revenue r
JOIN crawls c ON c.id = r.crawl_id
WHERE r.status = 'published' AND c.era != 'import' AND r.revenue_best_usd IS NOT NULL AND r.total_tokens > 0
"""
_HORIZON = "SELECT MAX(week_end) FROM weeks WHERE status = 'published'"


@dataclass
class Row:
    key: Key  # (permaslug, variant)
    basis: str  # measured, or a volume (modeled | volume in monday_weeks)
    tokens: int
    best: float | None = None  # a measured row's own estimate, and its band
    low: float | None = None
    high: float | None = None
    unpriced: bool = False  # known to have no price of any kind


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
    measured_usd: float = 0.0
    modeled_usd: float = 0.0
    blended_usd: float = 0.0
    low: float = 0.0
    high: float = 0.0
    blend_week_start: str | None = None  # the nearest week the blended rate came from
    named_usd: float = 0.0  # of the chart's named keys (measured or modeled)
    named_tokens: int = 0
    authors: dict[str, list[float]] = field(default_factory=dict)  # author -> [usd, tokens]

    @property
    def best(self) -> float:
        return self.measured_usd + self.modeled_usd + self.blended_usd

    @property
    def basis(self) -> str:
        return MEASURED if self.best and self.measured_usd >= MEASURED_SHARE * self.best else MODELED

    def outside_named_rate(self) -> float | None:
        """The estimate's $/token of everything outside the chart's named keys."""
        tokens = self.total_tokens - self.named_tokens - self.unpriced_tokens
        return (self.best - self.named_usd) / tokens if tokens > 0 else None

    def record(self) -> dict[str, Any]:
        known = self.measured_tokens or self.modeled_tokens or self.blended_tokens
        return {"week_start": self.week_start, "week_end": self.week_end, "total_tokens": self.total_tokens,
                "total_source": self.total_source, "measured_tokens": self.measured_tokens,
                "modeled_tokens": self.modeled_tokens, "blended_tokens": self.blended_tokens,
                "measured_usd": self.measured_usd, "modeled_usd": self.modeled_usd, "blended_usd": self.blended_usd,
                "revenue_best_usd": self.best if known else None, "revenue_low_usd": self.low if known else None,
                "revenue_high_usd": self.high if known else None, "basis": self.basis if known else None,
                "blend_week_start": self.blend_week_start, "unpriced_tokens": self.unpriced_tokens}


class Rates:
    """$/token by week start, per key (a model-variant, or ``OTHERS`` for a blend)."""

    def __init__(self) -> None:
        self.by_key: dict[Any, dict[str, float]] = defaultdict(dict)

    def add(self, key: Any, week: str, rate: float) -> None:
        self.by_key[key][week] = rate

    def around(self, key: Any, week: str) -> list[tuple[str, float]]:
        """The rate of ``week`` itself, else of the nearest week on each side that has one."""
        known = self.by_key.get(key, {})
        if week in known:
            return [(week, known[week])]
        before = max((w for w in known if w < week), default=None)
        after = min((w for w in known if w > week), default=None)
        return [(w, known[w]) for w in (before, after) if w is not None]

    def interpolated(self, key: Any, week: str) -> tuple[float, float, float, str] | None:
        """(rate, low, high, nearest week): linear in time between the weeks on either side, low and
        high their two rates; beyond the first or last rated week, the nearest one's rate, low and
        high those of the two nearest (how much the rate moves from one rated week to the next)."""
        points = self.around(key, week)
        if not points:
            return None
        if len(points) == 2:
            (first, a), (last, b) = points
            share = _days(week, first) / _days(last, first)
            return a + (b - a) * share, min(a, b), max(a, b), min(points, key=lambda p: abs(_days(p[0], week)))[0]
        nearest, rate = points[0]
        known = self.by_key[key]
        side = sorted((w for w in known if (w < week) == (nearest < week)), key=lambda w: abs(_days(w, week)))[:2]
        rates = [known[w] for w in side]
        return rate, min(rates), max(rates), nearest


def _days(a: str, b: str) -> int:
    return (date.fromisoformat(a) - date.fromisoformat(b)).days


# --- what the history holds ---------------------------------------------------------------------

def load_weeks(db: Database) -> dict[str, Week]:
    """Every complete Monday week up to the latest published crawl's week."""
    horizon = db.execute(_HORIZON).fetchone()[0]
    weeks: dict[str, Week] = {}

    def week(start: str, end: str) -> Week:
        return weeks.setdefault(start, Week(start, end))

    for r in db.query(_ROWS):
        row = Row((r["permaslug"], r["variant"]), r["basis"], r["total_tokens"])
        if r["basis"] == MEASURED:
            options = [v for v in (r["effective_usd"], r["list_usd"]) if v is not None]
            if options:
                row.best, row.low, row.high = options[0], min(options), max(options)
        row.unpriced = not r["is_free"] and not r["listed"] and row.best is None
        week(r["week_start"], r["week_end"]).rows.append(row)
    for r in db.query(_CHART):
        w = week(r["week_start"], r["week_end"])
        w.chart_total = (w.chart_total or 0) + r["tokens"]
        if r["key"] != OTHERS:
            w.chart_values[split_id(r["key"])] = r["tokens"]
    for r in db.query(_DATASET):
        week(r["week_start"], r["week_end"]).dataset_total = r["total_tokens"]
    return {start: w for start, w in weeks.items() if horizon and w.week_end <= horizon}


@dataclass
class CrawlWeek:
    """A published crawl's own week: every rated model-variant's (best, tokens)."""

    week_start: str
    rows: dict[Key, tuple[float, int]] = field(default_factory=dict)

    def rate_outside(self, excluded: set[Key]) -> float | None:
        usd = tokens = 0
        for key, (best, count) in self.rows.items():
            if key not in excluded:
                usd, tokens = usd + best, tokens + count
        return usd / tokens if tokens else None


def load_crawl_weeks(db: Database) -> list[CrawlWeek]:
    found: dict[str, CrawlWeek] = {}
    for r in db.query(_CRAWL_WEEKS):
        week = found.setdefault(r["week_start"], CrawlWeek(r["week_start"]))
        week.rows[(r["permaslug"], r["variant"])] = (r["revenue_best_usd"], r["total_tokens"])
    return list(found.values())


# --- the estimate ---------------------------------------------------------------------------------

class Series:
    """The rated weeks the estimates draw on: measured Monday weeks and the crawls' own weeks."""

    def __init__(self, weeks: dict[str, Week], crawl_weeks: list[CrawlWeek]):
        self.weeks, self.crawl_weeks = weeks, crawl_weeks
        self.rates = Rates()
        for crawl_week in crawl_weeks:
            for key, (best, tokens) in crawl_week.rows.items():
                self.rates.add(key, crawl_week.week_start, best / tokens)
        for w in weeks.values():  # a measured Monday week wins over a crawl week starting that day
            for row in w.rows:
                if row.basis == MEASURED and row.best is not None and row.tokens:
                    self.rates.add(row.key, w.week_start, row.best / row.tokens)
        # The $/token outside the named keys of each measured week, from its own estimate (its rest
        # priced from the crawl weeks): a rated week for the weeks that measured nothing.
        # A measured week's estimate reads no other week's, so it is kept for estimates().
        self.outside_named: dict[str, float] = {}
        self._measured: dict[str, Estimate] = {}
        for start, w in weeks.items():
            if w.measured and self.crawl_weeks:
                self._measured[start] = self.estimate(w)
                rate = self._measured[start].outside_named_rate()
                if rate is not None:
                    self.outside_named[start] = rate

    def blend(self, w: Week) -> tuple[float, float, float, str] | None:
        """The blended rate for the rest of ``w`` (rate, low, high, nearest source week)."""
        blends = Rates()
        excluded = w.known_keys
        for crawl_week in self.crawl_weeks:
            rate = crawl_week.rate_outside(excluded)
            if rate is not None:
                blends.add(OTHERS, crawl_week.week_start, rate)
        if not w.measured:
            for start, rate in self.outside_named.items():
                if start != w.week_start:
                    blends.add(OTHERS, start, rate)
        if not blends.by_key:
            self._without_crawl_weeks(blends)
        return blends.interpolated(OTHERS, w.week_start)

    def _without_crawl_weeks(self, blends: Rates) -> None:
        for w in self.weeks.values():
            outside = [r for r in w.rows if r.basis == MEASURED and r.best is not None and r.key not in w.chart_values]
            tokens = sum(r.tokens for r in outside)
            named = sum(r.tokens for r in w.rows if r.key in w.chart_values)
            others = (w.chart_total - named) if w.chart_total is not None else tokens
            if tokens and others > 0 and tokens >= BLEND_MIN_SHARE * others:
                blends.add(OTHERS, w.week_start, sum(r.best for r in outside) / tokens)

    def estimate(self, w: Week) -> Estimate:
        total, source = w.total()
        e = Estimate(w.week_start, w.week_end, total, source)
        for row in w.rows:
            named = row.key in w.chart_values
            if row.unpriced:
                e.unpriced_tokens += row.tokens
                continue
            if row.basis == MEASURED and row.best is not None:
                usd, low, high = row.best, row.low, row.high
                e.measured_tokens, e.measured_usd = e.measured_tokens + row.tokens, e.measured_usd + usd
            else:
                found = self.rates.interpolated(row.key, w.week_start)
                if found is None:
                    continue  # never rated: left to the blend
                rate, low_rate, high_rate, _ = found
                usd, low, high = row.tokens * rate, row.tokens * low_rate, row.tokens * high_rate
                e.modeled_tokens, e.modeled_usd = e.modeled_tokens + row.tokens, e.modeled_usd + usd
            e.low, e.high = e.low + low, e.high + high
            if named:
                e.named_usd, e.named_tokens = e.named_usd + usd, e.named_tokens + row.tokens
            author = row.key[0].partition("/")[0]
            totals = e.authors.setdefault(author, [0.0, 0])
            totals[0], totals[1] = totals[0] + usd, totals[1] + row.tokens
        rest = max(total - e.measured_tokens - e.modeled_tokens - e.unpriced_tokens, 0)
        blend = self.blend(w) if rest else None
        if blend is None:
            e.unpriced_tokens += rest
        else:
            rate, low_rate, high_rate, e.blend_week_start = blend
            e.blended_tokens, e.blended_usd = rest, rest * rate
            e.low, e.high = e.low + rest * low_rate, e.high + rest * high_rate
        return e

    def estimates(self) -> list[Estimate]:
        return [self._measured.get(start) or self.estimate(w) for start, w in sorted(self.weeks.items())]


def load_series(db: Database) -> Series:
    return Series(load_weeks(db), load_crawl_weeks(db))


# --- backtest -------------------------------------------------------------------------------------

@dataclass
class Backtest:
    week_start: str
    measured_usd: float  # the week's estimate from its own measurements
    modeled_usd: float  # the same week modeled as if nothing in it had been measured
    nearest_week: str | None  # the nearest week its blended rate came from

    @property
    def error(self) -> float:
        return self.modeled_usd / self.measured_usd - 1


def backtest(db: Database) -> list[Backtest]:
    """Every measured Monday week modeled from the other weeks only: what it would be had nothing in
    it been measured (its named volumes, the chart's keys or an imported week's rows, at their rates
    in the other weeks, the rest at the blend), against its estimate from its own measurements."""
    series = load_series(db)
    results = []
    for start, w in sorted(series.weeks.items()):
        if not w.measured:
            continue
        measured = series._measured.get(start) or series.estimate(w)
        others = Series({k: o for k, o in series.weeks.items() if k != start}, series.crawl_weeks)
        volumes = w.chart_values or {r.key: r.tokens for r in w.rows if r.basis == MEASURED}
        blind = Week(w.week_start, w.week_end, [Row(key, MODELED, tokens) for key, tokens in volumes.items()],
                     w.chart_total, dict(w.chart_values), w.dataset_total)
        modeled = others.estimate(blind)
        if measured.best:
            results.append(Backtest(start, measured.best, modeled.best, modeled.blend_week_start))
    return results


def rebuild(db: Database) -> None:
    """Recompute `monday_series` and `monday_series_authors` (inside the writer's transaction)."""
    estimates = load_series(db).estimates()
    db.execute("DELETE FROM monday_series")
    db.execute("DELETE FROM monday_series_authors")
    if estimates:
        db["monday_series"].insert_all((e.record() for e in estimates), pk=("week_start", "week_end"))
        db["monday_series_authors"].insert_all(
            ({"week_start": e.week_start, "week_end": e.week_end, "author": author, "revenue_best_usd": usd,
              "tokens": tokens} for e in estimates for author, (usd, tokens) in sorted(e.authors.items())),
            pk=("week_start", "week_end", "author"))
