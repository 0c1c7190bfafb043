"""The comparable Monday-week series after one crawl (`monday_series`, `monday_series_authors`):
re-estimate only the weeks the crawl's changes reach, from a window of the history.

A week's estimate (history/monday_series.py) reads its own rows, the rated weeks its rates were
interpolated between and the rated weeks its rest was blended from (``Reads``, stored per week in
`monday_series_reads`). A crawl changes the inputs of some weeks (``Changes``: the Monday weeks whose
rows it changed in `monday_weeks`, the chart and Data API weeks it revised, its own week, the weeks of
a model-variant it is the first to see without a price); from the earliest of them on (``since``), a
week needs a new estimate when:

- it starts on or after ``since`` (its own inputs, new weeks up to the latest crawl's);
- what it read reaches ``since`` (a rated week it interpolated or blended from changed);
- it priced a model-variant, or imputed an author's, from rated weeks all before its own and that
  key now has a rated week between it and ``since`` (a nearer week on the right, where it had none).

Those weeks are estimated from the history's weeks starting on or after a floor a little before the
earliest of them and of what they read. A lookup that finds nothing before its week inside that
window (``Reads.edge``) may have missed a nearer week before the floor: the floor moves back (twice
as far each time) and, once it reaches the start of the history, the series is rebuilt whole
(``monday_series.rebuild``), which is also what a crawl stored again under its id, or a history
without the spans, gets. tests/test_monday_series_update.py checks both agree after every kind of write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlite_utils import Database

from orstats_crawler.history import monday_series
from orstats_crawler.history.records import CrawlRecords
from orstats_crawler.history.monday_weeks import MEASURED
from orstats_crawler.history.monday_series import EARLIEST, LATEST, SERIES_TABLES, Series, author_of, load_series

MARGIN_DAYS = 14  # the window starts this far before what the weeks to estimate read

# Rows that may be priced from rated weeks (all but free rows and measured rows with a price).
_PRICED_FROM_RATES = "(basis != 'measured' OR prompt_price IS NULL OR completion_price IS NULL)"
# A row of a model-variant that may be a rated week before a day (monday_series: a measured
# Monday row or a published crawl's own row, with a best estimate): one with a list or effective price.
_HAS_PRICE = """((m.prompt_price IS NOT NULL AND m.completion_price IS NOT NULL) OR EXISTS (SELECT 1 FROM
  effective_prices e WHERE e.crawl_id = m.crawl_id AND e.permaslug = m.permaslug AND e.variant = m.variant))"""
_PRICED_BEFORE = f"""
SELECT 1 FROM monday_weeks m WHERE m.permaslug = :permaslug AND m.variant = :variant AND m.basis = 'measured'
  AND m.week_start < :floor AND {_HAS_PRICE}
UNION ALL
SELECT 1 FROM weeks w JOIN model_weeks m ON m.crawl_id = w.crawl_id AND m.week_start = w.week_start
  AND m.week_end = w.week_end AND m.permaslug = :permaslug AND m.variant = :variant
WHERE w.status = 'published' AND w.week_start < :floor AND {_HAS_PRICE}
LIMIT 1
"""
_FIRST_WEEK = """
SELECT MIN(first) FROM (SELECT MIN(week_start) AS first FROM monday_weeks UNION ALL SELECT MIN(week_start) FROM weeks
  UNION ALL SELECT MIN(week_start) FROM chart_weeks UNION ALL SELECT date(MIN(day), '-6 days') FROM dataset_daily)
"""


@dataclass
class Changes:
    """What a crawl is about to change of the series' inputs outside `monday_weeks`: taken before
    the writer stores it (``before``), compared after (``since``)."""

    crawl: CrawlRecords
    stored_again: bool  # its id was stored before: it may take rows away, which only a rebuild finds
    chart: dict[tuple, Any] = field(default_factory=dict)
    dataset: dict[tuple, Any] = field(default_factory=dict)

    @classmethod
    def before(cls, db: Database, crawl: CrawlRecords) -> "Changes":
        stored = db.execute("SELECT 1 FROM crawls WHERE id = ?", [crawl.crawl.id]).fetchone() is not None
        changes = cls(crawl, stored)
        changes.chart, changes.dataset = changes._chart(db), changes._dataset(db)
        return changes

    def _chart(self, db: Database) -> dict[tuple, Any]:
        weeks = sorted({(r.week_start, r.week_end) for r in self.crawl.chart_weeks})
        return {(r[0], r[1], r[2]): r[3] for start, end in weeks for r in db.execute(
            "SELECT week_start, week_end, key, tokens FROM chart_weeks WHERE week_start = ? AND week_end = ?",
            [start, end])}

    def _dataset(self, db: Database) -> dict[tuple, Any]:
        days = sorted({r.day for r in self.crawl.dataset_daily})
        return {(r[0], r[1]): r[2] for day in days for r in db.execute(
            "SELECT day, key, total_tokens FROM dataset_daily WHERE day = ?", [day])}

    def since(self, db: Database, folded: dict[str, Any]) -> str | None:
        """The earliest week whose inputs the stored crawl changed (None: rebuild the series whole),
        from these and from what ``series.update`` reported (``folded``)."""
        if self.stored_again or folded.get("weeks") is None:
            return None
        changed = set(folded["weeks"])
        chart = self._chart(db)
        changed.update(key[0] for key in chart.keys() | self.chart.keys() if chart.get(key) != self.chart.get(key))
        dataset = self._dataset(db)
        changed.update(_monday(key[0]) for key in dataset.keys() | self.dataset.keys()
                       if dataset.get(key) != self.dataset.get(key))
        if self.crawl.crawl.week_start is not None:
            changed.add(self.crawl.crawl.week_start)  # its own week, a rated week of every key it ranked
        changed.update(_first_unpriced_weeks(db, self.crawl))
        return min(changed, default=LATEST)


def _monday(day: str) -> str:
    start = date.fromisoformat(day)
    return (start - timedelta(days=start.weekday())).isoformat()


def _first_unpriced_weeks(db: Database, crawl: CrawlRecords) -> set[str]:
    """The first week with a row of each model-variant this crawl is the first to see without any
    price (from then on its rows count as unpriced wherever nothing else prices them)."""
    row_ = crawl.crawl
    keys = {(m.permaslug, m.variant) for m in crawl.model_weeks if None in (m.prompt_price, m.completion_price)}
    keys |= {(p.canonical_slug, p.variant) for p in crawl.prices if None in (p.prompt_price, p.completion_price)}
    found = set()
    for permaslug, variant in sorted(keys - monday_series.seen_unpriced(db, keys, except_crawl=row_.id)):
        first = db.execute(f"SELECT MIN(week_start) FROM monday_weeks WHERE permaslug = ? AND variant = ? "
                           f"AND {_PRICED_FROM_RATES}", [permaslug, variant]).fetchone()[0]
        if first is not None:
            found.add(first)
    return found


def mark_stale(db: Database, crawl: CrawlRecords) -> None:
    """The series no longer follows the history once this crawl is stored unfolded (by a writer that
    rebuilds it at the end): without the spans of what each week read, the next crawl rebuilds it
    whole. A crawl that brings none of the series' inputs (an archive run's own record) leaves it be."""
    inputs = (crawl.model_weeks, crawl.daily_activity, crawl.chart_weeks, crawl.dataset_daily, crawl.prices,
              crawl.effective_prices)
    if any(inputs) or db.execute("SELECT 1 FROM crawls WHERE id = ?", [crawl.crawl.id]).fetchone():
        db.execute("DELETE FROM monday_series_reads")


def stale(db: Database) -> bool:
    """Whether some week of the series lacks the span of what it read (``mark_stale``, or a history
    written before the spans were kept): then only a rebuild of the series is right."""
    return db.execute("SELECT (SELECT COUNT(*) FROM monday_series) != (SELECT COUNT(*) FROM monday_series_reads)"
                      ).fetchone()[0] == 1


def update(db: Database, since: str | None) -> str:
    """Bring the series up to date after a crawl changed inputs from ``since`` on (inside the
    writer's transaction); how: `rebuilt`, or `updated N weeks from FLOOR`."""
    stored, last = db.execute("SELECT COUNT(*), MAX(week_start) FROM monday_series").fetchone()
    if since is None or not stored:
        monday_series.rebuild(db)
        return "rebuilt"
    since = min(since, (date.fromisoformat(last) + timedelta(weeks=1)).isoformat())  # the weeks new to the series
    reaching, first_read = db.execute("SELECT group_concat(week_start), MIN(first_week) FROM monday_series_reads "
                                      "WHERE last_week >= ?", [since]).fetchone()
    todo = set(reaching.split(",")) if reaching else set()
    floor = _days_before(min(since, first_read or since), MARGIN_DAYS)
    start = db.execute(_FIRST_WEEK).fetchone()[0]
    while start is not None and floor > start:
        window = load_series(db, floor)
        weeks = todo | {w for w in window.weeks if w >= since} | _nearer_on_the_right(db, window, since, floor)
        earliest = min(weeks, default=since)
        if earliest < _days_before(floor, -MARGIN_DAYS):  # too near the floor: move it back first
            floor = _days_before(earliest, MARGIN_DAYS)
            continue
        estimates = [window.measured_estimate(w) or window.estimate(window.weeks[w])
                     for w in sorted(weeks) if w in window.weeks]
        if _rated_before(db, set().union(*(e.reads.edge for e in estimates)), floor):
            floor = _days_before(since, 2 * (date.fromisoformat(since) - date.fromisoformat(floor)).days)
            continue
        _replace(db, weeks, estimates)
        return f"updated {len(estimates)} weeks from {floor}"
    monday_series.rebuild(db)
    return "rebuilt"


def _rated_before(db: Database, keys: set[Any], floor: str) -> bool:
    """Whether the history may hold, before ``floor``, a rated week of a key the window found none
    of before a week: always for an author's key or the blend (rated in most weeks), for a
    model-variant when a measured row or a crawl's row of it has a price before then."""
    return any(not isinstance(key, tuple) or key[0] == "author"
               or db.execute(_PRICED_BEFORE, {"permaslug": key[0], "variant": key[1], "floor": floor}).fetchone()
               for key in sorted(keys, key=repr))


def _days_before(day: str, days: int) -> str:
    try:
        return (date.fromisoformat(day) - timedelta(days=days)).isoformat()
    except OverflowError:  # before the first day of the calendar: the whole history
        return EARLIEST


def _nearer_on_the_right(db: Database, window: Series, since: str, floor: str) -> set[str]:
    """Weeks before ``since`` that price a key (a model-variant, or an author for an imputed row)
    whose rated weeks all lay before them and which now has one on or after ``since``: those
    between its last rated week before ``since`` and ``since``. A key with no rated week in the
    window before ``since``: every such week of the history (found in `monday_weeks`)."""
    last_before: dict[Any, str | None] = {}
    for key, points in window.rates.by_key.items():
        if any(week >= since for week in points):
            last_before[key] = max((week for week in points if week < since), default=None)
    found = set()
    for start, week in window.weeks.items():
        if start >= since:
            continue
        for r in week.rows:
            if r.free or (r.basis == MEASURED and r.best is not None):
                continue
            for key in (r.key, ("author", author_of(r.key)), ("author", None)):
                if key in last_before and (last_before[key] or "") < start:
                    found.add(start)
    unrated = sorted(key for key, last in last_before.items() if last is None)
    keys = [key for key in unrated if key[0] != "author"]
    for permaslug, variant in keys:
        found.update(r[0] for r in db.execute(
            f"SELECT DISTINCT week_start FROM monday_weeks WHERE permaslug = ? AND variant = ? AND week_start < ? "
            f"AND {_PRICED_FROM_RATES}", [permaslug, variant, floor]))
    authors = {key[1] for key in unrated if key[0] == "author"}
    if authors:  # an author first rated now: the unpriced rows of its models before the window
        for start, permaslug, variant in db.execute(
                "SELECT week_start, permaslug, variant FROM monday_weeks WHERE week_start < ? "
                "AND (prompt_price IS NULL OR completion_price IS NULL)", [floor]):
            if None in authors or author_of((permaslug, variant)) in authors:
                found.add(start)
    return found


def _replace(db: Database, weeks: set[str], estimates: list[monday_series.Estimate]) -> None:
    """The weeks' rows replaced by their new estimates (a week no longer in the series loses its rows)."""
    for table in SERIES_TABLES:
        db.conn.executemany(f"DELETE FROM [{table}] WHERE week_start = ?", [[w] for w in sorted(weeks)])
    monday_series.store(db, estimates)
