"""``price_changes`` (history/price_changes.py), kept by the writer crawl by crawl, against a window
over every stored price computed here (what the canned query used to run): the same rows after each
write, including a crawl whose sightings land before later ones and a crawl rewritten without an id."""

from __future__ import annotations

import json

from sqlite_utils import Database

from orstats_crawler.history import price_changes
from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.history.records import CrawlRecords, CrawlRow, PriceRow
from orstats_crawler.history.writer import write_crawl

# Every sighting with the one before it (by day, then crawl start), kept where a price differs.
EVERY_CHANGE = """
WITH seen AS (
  SELECT p.public_id, p.name, p.observed_on, p.crawl_id, p.prompt_price, p.completion_price, p.cache_read_price,
    lag(p.observed_on) OVER w AS previous_observed_on, lag(p.prompt_price) OVER w AS previous_prompt_price,
    lag(p.completion_price) OVER w AS previous_completion_price,
    lag(p.cache_read_price) OVER w AS previous_cache_read_price, row_number() OVER w AS sighting
  FROM prices p JOIN crawls c ON c.id = p.crawl_id
  WINDOW w AS (PARTITION BY p.public_id ORDER BY p.observed_on, c.started_at)
)
SELECT public_id, name, observed_on, crawl_id, previous_observed_on, previous_prompt_price, prompt_price,
  previous_completion_price, completion_price, previous_cache_read_price, cache_read_price
FROM seen
WHERE sighting > 1 AND (prompt_price IS NOT previous_prompt_price OR completion_price IS NOT previous_completion_price
  OR cache_read_price IS NOT previous_cache_read_price)
ORDER BY crawl_id, public_id
"""


def catalogue_crawl(crawl_id: str, day: str, started_at: str, prices: dict[str, tuple[float, float, float | None]]
                    ) -> CrawlRecords:
    crawl = CrawlRow(id=crawl_id, started_at=started_at, finished_at=started_at, status="published", era="current",
                     base_url=None, snapshot=None, week_start=None, week_end=None, selection=None, coverage=None,
                     planned_coverage=None, token_coverage=None, models_ranked=0, models_measured=0, problems=0,
                     forced=0, checks="[]", stats="{}")
    rows = [PriceRow(crawl_id=crawl_id, observed_on=day, public_id=public_id, canonical_slug=public_id,
                     variant="standard", name=public_id.upper(), prompt_price=prompt, completion_price=completion,
                     cache_read_price=cache, is_free=0, pricing=json.dumps({"prompt": prompt}), created=None)
            for public_id, (prompt, completion, cache) in prices.items()]
    return CrawlRecords(crawl=crawl, prices=rows)


def stored(db: Database) -> list[dict]:
    return list(db.query(f"SELECT * FROM {price_changes.TABLE} ORDER BY crawl_id, public_id"))


def write(db: Database, records: CrawlRecords) -> list[dict]:
    with immediate(db):
        write_crawl(db, records, fold_series=False)
    kept, computed = stored(db), list(db.query(EVERY_CHANGE))
    assert kept == computed
    return kept


def test_the_writer_keeps_every_change_as_a_window_over_every_price_finds_it(tmp_path):
    db = open_for_writing(str(tmp_path / "history.db"))
    same = {"x/m": (1e-6, 2e-6, None), "y/m": (3e-6, 4e-6, 1e-7)}
    assert write(db, catalogue_crawl("a", "2026-02-02", "2026-02-02T06:00", same)) == []
    assert write(db, catalogue_crawl("b", "2026-02-09", "2026-02-09T06:00", same)) == []
    # x's prompt price doubles on the 16th; y gains a cache price of None (no longer listed).
    changed = write(db, catalogue_crawl("c", "2026-02-16", "2026-02-16T06:00",
                                        {"x/m": (2e-6, 2e-6, None), "y/m": (3e-6, 4e-6, None)}))
    assert [(r["public_id"], r["previous_observed_on"], r["previous_prompt_price"], r["prompt_price"],
             r["previous_cache_read_price"], r["cache_read_price"]) for r in changed] == [
        ("x/m", "2026-02-09", 1e-6, 2e-6, None, None), ("y/m", "2026-02-09", 3e-6, 3e-6, 1e-7, None)]
    # An archived week's catalogue lands between b and c with x already at the new price: the change
    # moves to the 12th, and c, seen after it, changes nothing of x.
    moved = write(db, catalogue_crawl("archive:2026-02-12", "2026-02-12", "2026-12-01T06:00",
                                      {"x/m": (2e-6, 2e-6, None)}))
    assert [(r["crawl_id"], r["public_id"], r["previous_observed_on"]) for r in moved] == [
        ("archive:2026-02-12", "x/m", "2026-02-09"), ("c", "y/m", "2026-02-09")]
    # Rewritten without x: c's x is compared with b's again.
    rewritten = write(db, catalogue_crawl("archive:2026-02-12", "2026-02-12", "2026-12-01T06:00",
                                          {"y/m": (3e-6, 4e-6, 1e-7)}))
    assert [(r["crawl_id"], r["public_id"], r["previous_observed_on"]) for r in rewritten] == [
        ("c", "x/m", "2026-02-09"), ("c", "y/m", "2026-02-12")]
    # Two crawls of one day: the later-started one is compared with the earlier.
    write(db, catalogue_crawl("c2", "2026-02-16", "2026-02-16T09:00", {"x/m": (5e-6, 2e-6, None)}))
    with immediate(db):
        price_changes.rebuild(db)
    assert stored(db) == list(db.query(EVERY_CHANGE)) and len(stored(db)) == 3
