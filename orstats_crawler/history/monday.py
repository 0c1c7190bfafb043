"""The Monday-week series (`monday_weeks`): what the history knows of each (Monday week, model-variant).

A crawl's own week is the 7 days before it (`weeks`, `weekly_revenue`); the chart's weeks start on
Mondays. The report's time series uses Monday weeks, built here from every published crawl:

- **measured** (best first):
  1. `activity`: seven complete days of a crawl's daily activity (a crawl fetches about 30 days,
     so about four complete Monday weeks of every model-variant whose split it fetched);
  2. `leaderboard` / `import` / `activity`: the rows of the crawl shown for a window that is itself a
     Monday week (a Monday crawl, an imported week) whose split is known.
  Between crawls of the same rank the latest one wins.
- **modeled**: a known volume without a split (a finished chart week's top 9, a complete week of
  the official Data API's top 50 (source `data_api`, fetched only with a key), a row of such a
  Monday-window crawl whose split is unknown) takes the prompt/completion, cached and reasoning
  shares of the nearest measured week of the same model-variant (`mix_week_start`; on a tie, the
  later week).
- **volume**: a known volume and no measured week to take a mix from: split and revenue unknown
  (a `:free` variant's revenue is still a known 0). The chart's `Others` is kept in `chart_weeks` only.

Every row is priced with the prices valid in its week (``price_history``). The series is derived:
it is rebuilt whole, inside the writer's transaction, after each crawl or import.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlite_utils import Database

from orstats_crawler.history.price_history import PriceHistory

MEASURED, MODELED, VOLUME = "measured", "modeled", "volume"
SPLIT = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")
PK = ("week_start", "week_end", "permaslug", "variant")

# Complete Monday weeks of published crawls' daily activity ('-6 days', 'weekday 1': the Monday on
# or before the day). daily_activity holds complete days only, so 7 rows are the whole week.
_ACTIVITY_WEEKS = """
SELECT date(d.day, '-6 days', 'weekday 1') AS week_start, d.permaslug, d.variant, d.crawl_id,
  SUM(d.prompt_tokens) AS prompt_tokens, SUM(d.completion_tokens) AS completion_tokens,
  SUM(d.cached_tokens) AS cached_tokens, SUM(d.reasoning_tokens) AS reasoning_tokens,
  CASE WHEN COUNT(d.requests) = 7 THEN SUM(d.requests) END AS requests, MAX(c.started_at) AS started_at
FROM daily_activity d JOIN crawls c ON c.id = d.crawl_id
WHERE c.status = 'published'
GROUP BY 1, 2, 3, 4 HAVING COUNT(*) = 7
"""
# The rows shown for windows that are Monday weeks (strftime %w: 1 = Monday).
_MONDAY_WINDOW_ROWS = """
SELECT m.week_start, m.permaslug, m.variant, m.crawl_id, m.split_source, m.total_tokens, m.prompt_tokens,
  m.completion_tokens, m.cached_tokens, m.reasoning_tokens, m.requests, c.started_at, c.era
FROM weeks w
JOIN model_weeks m ON m.crawl_id = w.crawl_id AND m.week_start = w.week_start AND m.week_end = w.week_end
JOIN crawls c ON c.id = w.crawl_id
WHERE w.status = 'published' AND strftime('%w', w.week_start) = '1'
  AND julianday(w.week_end) - julianday(w.week_start) = 6
"""
_CHART_ROWS = "SELECT week_start, key, tokens, crawl_id FROM chart_weeks WHERE key != 'Others' AND tokens IS NOT NULL"
# The official Data API's weeks in which a model-variant was in the top 50 on all 7 days (on other
# days its tokens are in `other`, so its week total would fall short).
_DATASET_ROWS = """
SELECT week_start, permaslug, variant, total_tokens, crawl_id FROM dataset_weekly WHERE key != 'other' AND days = 7
"""


def rebuild(db: Database) -> dict[str, int]:
    """Recompute `monday_weeks` from the history (call inside the writer's transaction)."""
    measured = _measured(db)
    mixes = defaultdict(list)  # (permaslug, variant) -> its measured weeks with traffic
    for row in measured.values():
        if row["total_tokens"] > 0:
            mixes[(row["permaslug"], row["variant"])].append(row)
    volumes = [_modeled(row, mixes[(row["permaslug"], row["variant"])]) for row in _volumes(db, measured)]
    prices = PriceHistory(db)
    rows = sorted([*measured.values(), *volumes], key=lambda r: [r[k] for k in PK])
    for row in rows:
        row.update(prices.at(row["permaslug"], row["variant"], row["week_end"]).columns())
    db.execute("DELETE FROM monday_weeks")
    db["monday_weeks"].insert_all(rows, pk=PK)
    counts = defaultdict(int, weeks=len({(r["week_start"], r["week_end"]) for r in rows}))
    for row in rows:
        counts[row["basis"]] += 1
    return dict(counts)


def _measured(db: Database) -> dict[tuple[str, ...], dict[str, Any]]:
    """The best measured split of each (week, model-variant): activity weeks first, then the
    Monday-window crawls' measured rows; the latest crawl within each."""
    found: dict[tuple[str, ...], tuple[tuple, dict[str, Any]]] = {}
    candidates = [
        *((1, dict(r, split_source="activity")) for r in db.query(_ACTIVITY_WEEKS)),
        *((0, dict(r)) for r in db.query(_MONDAY_WINDOW_ROWS) if r["split_source"]),
    ]
    for rank, source in candidates:
        row = _row(source, MEASURED, source["split_source"], {name: source[name] for name in SPLIT})
        row["total_tokens"] = row["prompt_tokens"] + row["completion_tokens"]
        order = (rank, source["started_at"] or "", source["crawl_id"])
        key = tuple(row[k] for k in PK)
        if key not in found or order > found[key][0]:
            found[key] = (order, row)
    return {key: row for key, (_, row) in found.items()}


def _volumes(db: Database, measured: dict[tuple[str, ...], Any]) -> list[dict[str, Any]]:
    """Known volumes of (week, model-variant)s with no measured split: the Monday-window crawls'
    rows first (the leaderboard's own figure), then the Data API's weeks (official daily totals of
    the top 50), then the chart's finished weeks (top 9)."""
    unsplit = {name: None for name in SPLIT}
    rows = [
        *(_row(dict(r), VOLUME, "import" if r["era"] == "import" else "leaderboard", unsplit)
          for r in db.query(_MONDAY_WINDOW_ROWS) if not r["split_source"] and r["total_tokens"] is not None),
        *(_row(dict(r), VOLUME, "data_api", unsplit) for r in db.query(_DATASET_ROWS)),
        *(_row(_chart_source(r), VOLUME, "chart", unsplit) for r in db.query(_CHART_ROWS)),
    ]
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in PK)
        if key not in measured:
            found.setdefault(key, row)
    return list(found.values())


def _row(source: dict[str, Any], basis: str, origin: str, split: dict[str, Any]) -> dict[str, Any]:
    start = date.fromisoformat(source["week_start"])
    return {
        "week_start": start.isoformat(), "week_end": (start + timedelta(days=6)).isoformat(),
        "permaslug": source["permaslug"], "variant": source["variant"],
        "total_tokens": source.get("total_tokens"), **split,
        "requests": source.get("requests") if basis == MEASURED else None,
        "basis": basis, "source": origin, "mix_week_start": None, "crawl_id": source["crawl_id"],
    }


def _chart_source(chart: dict[str, Any]) -> dict[str, Any]:
    permaslug, _, variant = chart["key"].partition(":")  # chart keys are `<permaslug>[:<variant>]`
    return {"week_start": chart["week_start"], "permaslug": permaslug, "variant": variant or "standard",
            "total_tokens": chart["tokens"], "crawl_id": chart["crawl_id"]}


def _modeled(row: dict[str, Any], mixes: list[dict[str, Any]]) -> dict[str, Any]:
    """A volume with the shares of the nearest measured week of the same model-variant, if any."""
    week = date.fromisoformat(row["week_start"])
    mix = min(mixes, default=None, key=lambda m: (abs((date.fromisoformat(m["week_start"]) - week).days),
                                                   -date.fromisoformat(m["week_start"]).toordinal()))
    if mix is None:
        return row
    total = row["total_tokens"]
    prompt = round(total * mix["prompt_tokens"] / mix["total_tokens"])
    completion = total - prompt
    row.update({
        "basis": MODELED, "mix_week_start": mix["week_start"],
        "prompt_tokens": prompt, "completion_tokens": completion,
        "cached_tokens": round(prompt * mix["cached_tokens"] / mix["prompt_tokens"]) if mix["prompt_tokens"] else 0,
        "reasoning_tokens": (round(completion * mix["reasoning_tokens"] / mix["completion_tokens"])
                             if mix["completion_tokens"] else 0),
    })
    return row
