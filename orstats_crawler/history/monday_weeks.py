"""The Monday-week series (`monday_weeks`): what the history knows of each (Monday week, model-variant).

A crawl's own week is the 7 days before it (`weeks`, `weekly_revenue`); the chart's weeks start on
Mondays. The report's time series uses Monday weeks, built here from every published crawl:

- **measured** (best first; between two of the same rank the later crawl wins):
  1. `daily`: seven complete days of a crawl's daily activity (a crawl fetches about 30 days,
     so about four complete Monday weeks of every model-variant whose split it fetched);
  2. `activity` / `leaderboard` / `import`: the rows of the crawl shown for a window that is itself
     a Monday week (a Monday crawl, an imported week) whose split is known (its `split_source`).
- **modeled**: a known volume without a split takes the prompt/completion, cached and reasoning
  shares of the nearest measured week of the same model-variant (`mix_week_start`; on a tie, the
  later week). Volumes, best first: a row of such a Monday-window crawl whose split is unknown
  (`leaderboard` / `import`), a complete week of the official Data API's top 50 (`data_api`,
  fetched only with a key), a finished chart week's top 9 (`chart`).
- **volume**: a known volume and no measured week to take a mix from: split and revenue unknown
  (a `:free` variant's revenue is still a known 0). The chart's `Others` is kept in `chart_weeks` only.

Every row is priced with the prices valid in its week (``price_history``).

The series is derived. ``update`` folds one stored crawl in (inside the writer's transaction): its
own measured weeks and volumes, the re-modeling of the model-variants they touch, the repricing of
the weeks its price observations reach; so a weekly crawl costs the same on a 10-year history as on
a new one. ``rebuild`` recomputes everything; ``update`` falls back to it where a crawl's rows may
replace others' (a crawl stored again under its id, a second crawl shown for a Monday window), and
gives the same table as ``rebuild`` otherwise (tests/test_backfill.py checks it).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date
from operator import itemgetter
from typing import Any, Iterable, Iterator

from sqlite_utils import Database

from orstats_crawler import pricing, weeks
from orstats_crawler.history.price_history import UNKNOWN, PriceHistory
from orstats_crawler.history.formulas import monday_of
from orstats_crawler.items import SPLIT

MEASURED, MODELED, VOLUME = "measured", "modeled", "volume"
DAILY = "daily"
PK = ("week_start", "week_end", "permaslug", "variant")
WINDOW_SOURCES = ("activity", "leaderboard", "import")  # rows of a crawl whose window is a Monday week
VOLUME_RANK = {"chart": 0, "data_api": 1, "leaderboard": 2, "import": 2}
SPAN = ("permaslug", "variant", "first_week", "last_week")  # the weeks of some rows of a model-variant
MeasuredWeeks = tuple[list[str], list[dict[str, Any]]]  # a model-variant's week starts, and their rows

# Complete Monday weeks of published crawls' daily activity. daily_activity holds complete days
# only, so 7 rows are the whole week.
_DAILY_WEEKS = f"""
SELECT {monday_of("d.day")} AS week_start, d.permaslug, d.variant, d.crawl_id,
  SUM(d.prompt_tokens) AS prompt_tokens, SUM(d.completion_tokens) AS completion_tokens,
  SUM(d.cached_tokens) AS cached_tokens, SUM(d.reasoning_tokens) AS reasoning_tokens,
  CASE WHEN COUNT(d.requests) = 7 THEN SUM(d.requests) END AS requests, MAX(c.started_at) AS started_at
FROM daily_activity d JOIN crawls c ON c.id = d.crawl_id
WHERE c.status = 'published' {{crawl}}
GROUP BY 1, 2, 3, 4 HAVING COUNT(*) = 7
"""
# The rows shown for windows that are Monday weeks (strftime %w: 1 = Monday).
_WINDOW_ROWS = """
SELECT m.week_start, m.permaslug, m.variant, m.crawl_id, m.split_source, m.total_tokens, m.prompt_tokens,
  m.completion_tokens, m.cached_tokens, m.reasoning_tokens, m.requests, c.started_at, c.era
FROM weeks w
JOIN model_weeks m ON m.crawl_id = w.crawl_id AND m.week_start = w.week_start AND m.week_end = w.week_end
JOIN crawls c ON c.id = w.crawl_id
WHERE w.status = 'published' AND strftime('%w', w.week_start) = '1'
  AND julianday(w.week_end) - julianday(w.week_start) = 6 {crawl}
"""
_CHART_ROWS = """
SELECT week_start, key, tokens, crawl_id FROM chart_weeks WHERE key != 'Others' AND tokens IS NOT NULL {crawl}
"""
# The official Data API's weeks in which a model-variant was in the top 50 on all 7 days (on other
# days its tokens are in `other`, so its week total would fall short).
_DATASET_ROWS = """
SELECT week_start, permaslug, variant, total_tokens, crawl_id FROM dataset_weekly
WHERE key != 'other' AND days = 7 {crawl}
"""
# What one crawl brought, for ``update``: the same queries narrowed to it.
_ONE_CRAWL = {
    _DAILY_WEEKS: "AND d.crawl_id = :crawl",
    _WINDOW_ROWS: "AND w.crawl_id = :crawl",
    _CHART_ROWS: "AND crawl_id = :crawl",
    _DATASET_ROWS: f"AND week_start IN (SELECT DISTINCT {monday_of('day')} FROM dataset_daily WHERE crawl_id = :crawl)",
}
# Weeks whose price a crawl's observations may change: from the observation day on, and those
# priced from that day or a later one, or not at all (each part walks an index of monday_weeks).
_REPRICED_BY = " UNION ".join(f"""
SELECT m.week_start, m.week_end, m.permaslug, m.variant FROM prices p CROSS JOIN monday_weeks m
  ON m.permaslug = p.canonical_slug AND m.variant = p.variant AND {condition}
WHERE p.crawl_id = :crawl AND p.variant != 'free'""" for condition in (
    "m.week_end >= p.observed_on", "m.price_observed_on >= p.observed_on", "m.price_observed_on IS NULL"))
# Unmeasured rows whose nearest measured week may now be one a crawl wrote: no mix yet, a mix among
# the rewritten weeks, or a rewritten week at least as near as the mix (by the span of those weeks).
_STALE_MIXES = """
SELECT m.* FROM temp.monday_span s CROSS JOIN monday_weeks m
  ON m.permaslug = s.permaslug AND m.variant = s.variant AND m.basis IN ('modeled', 'volume')
WHERE m.mix_week_start IS NULL OR m.mix_week_start BETWEEN s.first_week AND s.last_week
   OR MAX(julianday(s.first_week) - julianday(m.week_start), julianday(m.week_start) - julianday(s.last_week), 0)
      <= abs(julianday(m.mix_week_start) - julianday(m.week_start))
"""
# The mixes the volumes of some model-variants may take, read once for all the rows being modeled:
# the measured weeks with traffic within the span of those rows (temp.monday_models) and the nearest
# on either side of it, oldest first (each part walks an index of monday_weeks over the span only).
_MEASURED_OF = ("SELECT rowid FROM monday_weeks WHERE permaslug = s.permaslug AND variant = s.variant "
                "AND basis = 'measured' AND total_tokens > 0")
_MIXES = f"""
SELECT m.* FROM temp.monday_models s CROSS JOIN monday_weeks m ON m.rowid IN (
  {_MEASURED_OF} AND week_start BETWEEN s.first_week AND s.last_week
  UNION ALL SELECT * FROM ({_MEASURED_OF} AND week_start < s.first_week ORDER BY week_start DESC LIMIT 1)
  UNION ALL SELECT * FROM ({_MEASURED_OF} AND week_start > s.last_week ORDER BY week_start LIMIT 1))
ORDER BY m.permaslug, m.variant, m.week_start
"""


def rebuild(db: Database) -> dict[str, int]:
    """Recompute `monday_weeks` from the whole history (inside the writer's transaction)."""
    measured = _best(_measured_candidates(db, None))
    volumes = _best(c for c in _volume_candidates(db, None) if _key(c[1]) not in measured)
    db.execute("DELETE FROM monday_weeks")
    prices = PriceHistory(db)
    _write(db, measured.values(), prices)
    _write(db, _modeled(db, volumes.values()), prices)  # their mixes are the measured rows just written
    return counts(db)


def update(db: Database, crawl_id: str) -> dict[str, Any]:
    """Fold one stored crawl into `monday_weeks` (inside the writer's transaction); how many rows
    it wrote and repriced (or, when it had to rebuild, the table's counts), and under `weeks` the
    Monday weeks whose rows it changed (None when it rebuilt: any of them)."""
    status = db.execute("SELECT status FROM crawls WHERE id = ?", [crawl_id]).fetchone()
    if not status or status[0] != "published":
        return {"written": 0, "repriced": 0, "weeks": set()}  # a rejected crawl feeds nothing
    measured = _best(_measured_candidates(db, crawl_id))
    volumes = _best(_volume_candidates(db, crawl_id))
    if _replaces_others(db, crawl_id, {*measured, *volumes}):
        return {**rebuild(db), "weeks": None}
    current = _current(db, {*measured, *volumes})
    written = {key: row for key, row in measured.items() if _wins(row, current.get(key), crawl_id)}
    written.update((key, row) for key, row in volumes.items()
                   if key not in measured and _wins(row, current.get(key), crawl_id))
    before = {key: current.get(key) for key in written}  # what each row was, to tell what changed
    prices = PriceHistory(db)
    # The volumes are stored once, modeled (they are among the stale mixes); the stored rows they
    # replace go first, so that none is taken for a mix.
    _write(db, (row for row in written.values() if row["basis"] == MEASURED), prices)
    _delete(db, [key for key, row in written.items() if row["basis"] != MEASURED and current.get(key)])
    stale = _stale_mixes(db, written.values())
    before.update((_key(row), row) for row in stale if _key(row) not in before)
    remodeled = _modeled(db, stale)
    _write(db, remodeled, prices)
    done = set(written) | {_key(row) for row in remodeled}
    repriced = [tuple(r) for r in db.execute(_REPRICED_BY, {"crawl": crawl_id}).fetchall() if tuple(r) not in done]
    before.update(_stored(db, repriced))
    _reprice(db, repriced, prices)
    return {"written": len(done), "repriced": len(repriced), "weeks": _changed_weeks(db, before)}


def _changed_weeks(db: Database, before: dict[tuple, dict[str, Any] | None]) -> set[str]:
    """The Monday weeks of the rows that differ from what they were (a row that only changed the
    crawl it came from is the same unless measured: a measured row's crawl gives its effective prices)."""
    columns = list(db["monday_weeks"].columns_dict)
    changed = {key[0] for key, old in before.items() if old is None}  # a row where none was: written
    after = _stored(db, (key for key, old in before.items() if old is not None))
    for key, old in before.items():
        new = after.get(key)
        if old is None or new is None:
            if old is not new:
                changed.add(key[0])
            continue
        same_crawl = old["crawl_id"] == new["crawl_id"] or MEASURED not in (old["basis"], new["basis"])
        if not same_crawl or any(old[c] != new[c] for c in columns if c != "crawl_id"):
            changed.add(key[0])
    return changed


def _wins(row: dict[str, Any], stored: dict[str, Any] | None, crawl_id: str) -> bool:
    """Whether a crawl's row replaces the stored one: its own earlier row always; a measured row
    any unmeasured one and a measured one it ranks above (``_order``); a volume a volume of no
    higher rank (VOLUME_RANK)."""
    if stored is None or stored["crawl_id"] == crawl_id:
        return True
    if row["basis"] == MEASURED:
        return stored["basis"] != MEASURED or _order(row) >= _order(stored)
    return stored["basis"] != MEASURED and _rank(row) >= _rank(stored)


def counts(db: Database) -> dict[str, int]:
    """Rows by basis, and weeks."""
    found = {basis: n for basis, n in db.execute("SELECT basis, COUNT(*) FROM monday_weeks GROUP BY basis")}
    found["weeks"] = db.execute("SELECT COUNT(DISTINCT week_start) FROM monday_weeks").fetchone()[0]
    return found


# --- candidates ---------------------------------------------------------------------------------

def _query(db: Database, sql: str, crawl_id: str | None) -> Iterator[dict[str, Any]]:
    return db.query(sql.format(crawl=_ONE_CRAWL[sql] if crawl_id else ""), {"crawl": crawl_id})


def _measured_candidates(db: Database, crawl_id: str | None) -> Iterator[tuple[tuple, dict[str, Any]]]:
    """(order, row) of every measured split: daily weeks, then the Monday windows' measured rows."""
    for rank, sql in ((1, _DAILY_WEEKS), (0, _WINDOW_ROWS)):
        for source in _query(db, sql, crawl_id):
            origin = DAILY if rank else source["split_source"]
            if origin:
                row = _row(source, MEASURED, origin, {name: source[name] for name in SPLIT})
                row["total_tokens"] = row["prompt_tokens"] + row["completion_tokens"]
                row["_started_at"] = source["started_at"] or ""
                yield _order(row), row


def _volume_candidates(db: Database, crawl_id: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(rank, row) of every known volume without a split (VOLUME_RANK)."""
    unsplit = dict.fromkeys(SPLIT)
    for source in _query(db, _WINDOW_ROWS, crawl_id):
        if not source["split_source"] and source["total_tokens"] is not None:
            row = _row(source, VOLUME, "import" if source["era"] == "import" else "leaderboard", unsplit)
            yield _rank(row), row
    for source in _query(db, _DATASET_ROWS, crawl_id):
        yield VOLUME_RANK["data_api"], _row(source, VOLUME, "data_api", unsplit)
    for chart in _query(db, _CHART_ROWS, crawl_id):
        permaslug, variant = pricing.split_id(chart["key"])
        source = {"week_start": chart["week_start"], "permaslug": permaslug, "variant": variant,
                  "total_tokens": chart["tokens"], "crawl_id": chart["crawl_id"]}
        yield VOLUME_RANK["chart"], _row(source, VOLUME, "chart", unsplit)


def _best(candidates: Iterable[tuple[Any, dict[str, Any]]]) -> dict[tuple, dict[str, Any]]:
    """The best candidate of each key (the highest order; on a tie, the first)."""
    found: dict[tuple, tuple[Any, dict[str, Any]]] = {}
    for order, row in candidates:
        key = _key(row)
        if key not in found or order > found[key][0]:
            found[key] = (order, row)
    return {key: row for key, (_, row) in found.items()}


def _row(source: dict[str, Any], basis: str, origin: str, split: dict[str, Any]) -> dict[str, Any]:
    start = date.fromisoformat(source["week_start"])
    return {
        "week_start": start.isoformat(), "week_end": weeks.chart_week_end(start).isoformat(),
        "permaslug": source["permaslug"], "variant": source["variant"],
        "total_tokens": source.get("total_tokens"), **split,
        "requests": source.get("requests") if basis == MEASURED else None,
        "basis": basis, "source": origin, "mix_week_start": None, "crawl_id": source["crawl_id"],
    }


_key = itemgetter(*PK)  # a row's primary key, as a tuple


def _order(row: dict[str, Any]) -> tuple:
    """Which of two measured rows wins: daily weeks over window rows, then the later crawl."""
    return (1 if row["source"] == DAILY else 0, row["_started_at"], row["crawl_id"])


def _rank(row: dict[str, Any]) -> int:
    return VOLUME_RANK[row["source"]]


# --- what is stored -----------------------------------------------------------------------------

def _replaces_others(db: Database, crawl_id: str, offered: set[tuple]) -> bool:
    """Whether storing the crawl may leave rows no candidate supports: it was stored before and
    no longer brings a row it had won, or it is now shown for a Monday window whose rows another
    crawl gave. Only a rebuild finds what replaces those."""
    own = db.execute("SELECT week_start, week_end, permaslug, variant FROM monday_weeks WHERE crawl_id = ?", [crawl_id])
    if any(tuple(key) not in offered for key in own):
        return True
    return bool(db.execute(f"""
        SELECT 1 FROM weeks w JOIN monday_weeks m ON m.week_start = w.week_start AND m.week_end = w.week_end
        WHERE w.crawl_id = ? AND m.crawl_id != w.crawl_id
          AND m.source IN ({", ".join("?" * len(WINDOW_SOURCES))}) LIMIT 1""",
        [crawl_id, *WINDOW_SOURCES]).fetchone())


def _current(db: Database, keys: set[tuple]) -> dict[tuple, dict[str, Any]]:
    """The stored rows of some keys, with what decides precedence."""
    _scope(db, "monday_keys", PK, keys)
    rows = db.query("""SELECT m.*, COALESCE(c.started_at, '') AS _started_at FROM temp.monday_keys k
                       CROSS JOIN monday_weeks m USING (week_start, week_end, permaslug, variant)
                       LEFT JOIN crawls c ON c.id = m.crawl_id""")
    return {_key(row): row for row in rows}


def _stored(db: Database, keys: Iterable[tuple]) -> dict[tuple, dict[str, Any]]:
    """The stored rows of some keys."""
    _scope(db, "monday_keys", PK, keys)
    rows = db.query("""SELECT m.* FROM temp.monday_keys k
                       CROSS JOIN monday_weeks m USING (week_start, week_end, permaslug, variant)""")
    return {_key(row): row for row in rows}


def _scope(db: Database, name: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """A temporary table holding some keys, to join on."""
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({', '.join(columns)})")
    db.execute(f"DELETE FROM temp.{name}")
    db.conn.executemany(f"INSERT INTO temp.{name} VALUES ({', '.join('?' * len(columns))})", sorted(rows))


def _stale_mixes(db: Database, written: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The unmeasured rows to model again after some rows were written: the new volumes, and the
    stored ones whose nearest measured week may have changed (``_STALE_MIXES``)."""
    written = list(written)
    stale = {_key(row): row for row in written if row["basis"] != MEASURED}
    _scope(db, "monday_span", SPAN, _spans(row for row in written if row["basis"] == MEASURED))
    for row in db.query(_STALE_MIXES):
        stale.setdefault(_key(row), row)
    return list(stale.values())


def _modeled(db: Database, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Volumes with the shares of the nearest measured week of the same model-variant, if any."""
    rows = list(rows)
    mixes = _measured_weeks(db, rows)
    out = []
    for row in rows:
        estimate = {**row, **dict.fromkeys(SPLIT), "basis": VOLUME, "mix_week_start": None, "requests": None}
        mix = _nearest_mix(mixes.get((row["permaslug"], row["variant"])), estimate["week_start"])
        if mix is not None:
            total = estimate["total_tokens"]
            prompt = round(total * mix["prompt_tokens"] / mix["total_tokens"])
            completion = total - prompt
            estimate.update({
                "basis": MODELED, "mix_week_start": mix["week_start"],
                "prompt_tokens": prompt, "completion_tokens": completion,
                "cached_tokens": (round(prompt * mix["cached_tokens"] / mix["prompt_tokens"])
                                  if mix["prompt_tokens"] else 0),
                "reasoning_tokens": (round(completion * mix["reasoning_tokens"] / mix["completion_tokens"])
                                     if mix["completion_tokens"] else 0),
            })
        out.append(estimate)
    return out


def _spans(rows: Iterable[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """The first and last week of some rows, by model-variant (SPAN)."""
    spans: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        span = spans.setdefault((row["permaslug"], row["variant"]), [row["week_start"], row["week_start"]])
        span[0], span[1] = min(span[0], row["week_start"]), max(span[1], row["week_start"])
    return [(*model, first, last) for model, (first, last) in spans.items()]


def _measured_weeks(db: Database, rows: list[dict[str, Any]]) -> dict[tuple[str, str], MeasuredWeeks]:
    """The stored measured weeks with traffic that may be the mix of some rows, by model-variant."""
    _scope(db, "monday_models", SPAN, _spans(rows))
    found: dict[tuple[str, str], MeasuredWeeks] = {}
    for mix in db.query(_MIXES):
        starts, weeks = found.setdefault((mix["permaslug"], mix["variant"]), ([], []))
        starts.append(mix["week_start"])
        weeks.append(mix)
    return found


def _nearest_mix(weeks: MeasuredWeeks | None, week_start: str) -> dict[str, Any] | None:
    """The measured week with traffic nearest to a week, before or after it (on a tie, the later one)."""
    if weeks is None:
        return None
    starts, rows = weeks
    before, after = bisect_left(starts, week_start), bisect_right(starts, week_start)
    found = rows[before - 1:before] + rows[after:after + 1] if before else rows[after:after + 1]
    week = date.fromisoformat(week_start)
    return min(found, default=None, key=lambda m: (abs((date.fromisoformat(m["week_start"]) - week).days),
                                                   m["week_start"] < week_start))


def _write(db: Database, rows: Iterable[dict[str, Any]], prices: PriceHistory) -> None:
    """Price and store rows (replacing any stored under the same key)."""
    columns = list(db["monday_weeks"].columns_dict)
    out = []
    for row in sorted(rows, key=_key):
        priced = {**row, **prices.at(row["permaslug"], row["variant"], row["week_end"]).columns()}
        out.append([priced.get(c) for c in columns])
    marks = ", ".join("?" * len(columns))
    db.conn.executemany(f"INSERT OR REPLACE INTO monday_weeks ({', '.join(columns)}) VALUES ({marks})", out)


def _delete(db: Database, keys: list[tuple[str, ...]]) -> None:
    db.conn.executemany(f"DELETE FROM monday_weeks WHERE {' AND '.join(f'{k} = ?' for k in PK)}", keys)


def _reprice(db: Database, keys: list[tuple[str, ...]], prices: PriceHistory) -> None:
    """Price stored rows again (their tokens stay)."""
    names = ", ".join(f"{name} = ?" for name in UNKNOWN.columns())
    db.conn.executemany(
        f"UPDATE monday_weeks SET {names} WHERE {' AND '.join(f'{k} = ?' for k in PK)}",
        ([*prices.at(permaslug, variant, week_end).columns().values(), week_start, week_end, permaslug, variant]
         for week_start, week_end, permaslug, variant in keys))
