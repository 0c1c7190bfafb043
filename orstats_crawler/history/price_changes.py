"""``price_changes``: every catalogue sighting whose prompt, completion or cache-read price differs
from the sighting of the same public id just before it (by day, then crawl start), with both prices.

The price_changes canned query reads it: a window over every price ever stored costs seconds on a
long history, and the changes are a few rows a week. The writer keeps it: a crawl's sightings can
land before later ones (an import, an archived week), so the changes of each public id it touches
are recomputed from its earliest sighting there on, against the sighting just before.
"""

from __future__ import annotations

from sqlite_utils import Database

TABLE = "price_changes"
PRICES = ("prompt_price", "completion_price", "cache_read_price")

# Each sighting with the one before it; ``{where}`` keeps the sightings to recompute and the one
# just before the first of them (whose own row stays as it was: its sighting number is then 1).
_CHANGES = f"""
WITH seen AS (
  SELECT p.public_id, p.name, p.observed_on, p.crawl_id, {", ".join(f"p.{c}" for c in PRICES)},
    lag(p.observed_on) OVER w AS previous_observed_on,
    {", ".join(f"lag(p.{c}) OVER w AS previous_{c}" for c in PRICES)},
    row_number() OVER w AS sighting
  FROM prices p JOIN crawls c ON c.id = p.crawl_id
  {{where}}
  WINDOW w AS (PARTITION BY p.public_id ORDER BY p.observed_on, c.started_at)
)
INSERT OR REPLACE INTO {TABLE} (public_id, name, observed_on, crawl_id, previous_observed_on,
  {", ".join(f"previous_{c}, {c}" for c in PRICES)})
SELECT public_id, name, observed_on, crawl_id, previous_observed_on, {", ".join(f"previous_{c}, {c}" for c in PRICES)}
FROM seen
WHERE sighting > 1 AND ({" OR ".join(f"{c} IS NOT previous_{c}" for c in PRICES)})
"""

_TOUCHED = "temp.touched_prices"
_SINCE_THE_SIGHTING_BEFORE = f"""
JOIN {_TOUCHED} t ON t.public_id = p.public_id
WHERE p.observed_on >= COALESCE(
  (SELECT MAX(q.observed_on) FROM prices q WHERE q.public_id = p.public_id AND q.observed_on < t.since), '')
"""


def sightings(db: Database, crawl_id: str) -> dict[str, str]:
    """The public ids a crawl's stored prices hold, each with its earliest day."""
    return dict(db.execute("SELECT public_id, MIN(observed_on) FROM prices WHERE crawl_id = ? GROUP BY public_id",
                           [crawl_id]).fetchall())


def update(db: Database, before: dict[str, str], after: dict[str, str]) -> None:
    """Recompute the changes of the public ids a crawl's prices held before its write and hold after
    it, from their earliest day of either (inside the writer's transaction)."""
    touched = {public_id: min(day for day in (before.get(public_id), after.get(public_id)) if day)
               for public_id in before.keys() | after.keys()}
    if not touched:
        return
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_TOUCHED.split('.')[1]} (public_id TEXT PRIMARY KEY, since TEXT)")
    db.execute(f"DELETE FROM {_TOUCHED}")
    db.conn.executemany(f"INSERT INTO {_TOUCHED} VALUES (?, ?)", touched.items())
    db.execute(f"DELETE FROM {TABLE} WHERE rowid IN (SELECT pc.rowid FROM {TABLE} pc JOIN {_TOUCHED} t "
               "ON t.public_id = pc.public_id AND pc.observed_on >= t.since)")
    db.execute(_CHANGES.format(where=_SINCE_THE_SIGHTING_BEFORE))
    db.execute(f"DELETE FROM {_TOUCHED}")


def rebuild(db: Database) -> None:
    """Every change of the whole history (inside the caller's transaction)."""
    db.execute(f"DELETE FROM {TABLE}")
    db.execute(_CHANGES.format(where=""))
