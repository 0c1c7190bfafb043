"""The one writer of the history: ``write_crawl`` stores a crawl's records (a crawl of the site, an
imported week, a benchmark's synthetic week) inside the caller's write transaction, points its week
at it when it may be shown, and folds it into the Monday-week series; ``record_report`` adds what
became of the report once the crawl is stored. Nothing else writes the tables of a crawl.
"""

from __future__ import annotations

from typing import Iterable

from sqlite_utils import Database

from orstats_crawler.history import (crawl_revenue, monday_series, monday_series_update, monday_weeks,
                                     price_changes)
from orstats_crawler.history.records import (OWNED_TABLES, ActivityFetchRow, CrawlRecords, CrawlRow, DailyActivityRow,
                                             EffectivePriceRow, PriceRow, ProviderSummaryRow, Record, ResponseRow)

PUBLISHED, REJECTED = "published", "rejected"
REPORT_WRITTEN, REPORT_FAILED, REPORT_NOT_RENDERED = "written", "failed", "not_rendered"
IMPORT_ERA = "import"
ARCHIVE_ERA = "archive"  # a week read from the Web Archive's copies of the site (scrapy crawl archive)
# Weeks not measured by a crawl of the site: shown only where no such crawl is.
SECONDHAND_ERAS = (IMPORT_ERA, ARCHIVE_ERA)
# Owned tables whose records may repeat a key, the later record winning (a day listed twice by its
# source, an id listed by both catalogues); a repeated week row is an error.
LAST_WINS = (DailyActivityRow, ActivityFetchRow, PriceRow, EffectivePriceRow, ResponseRow, ProviderSummaryRow)


def write_crawl(db: Database, crawl: CrawlRecords, *, fold_series: bool = True) -> None:
    """Store one crawl, replacing whatever was stored under its id (inside the caller's transaction).

    ``fold_series=False`` leaves the Monday-week series alone, for a writer that stores many crawls
    and rebuilds the series once at the end (``rebuild_series``); until then it is marked stale, so
    that the next crawl rebuilds it if that writer stopped first."""
    row = crawl.crawl
    changes = monday_series_update.Changes.before(db, crawl) if fold_series else None
    if not fold_series:
        monday_series_update.mark_stale(db, crawl)
    insert(db, [row], replace=True)
    previous_from_history(db, crawl)
    priced_before = price_changes.sightings(db, row.id)
    for record in OWNED_TABLES:
        db.execute(f"DELETE FROM [{record.TABLE}] WHERE crawl_id = ?", [row.id])
        insert(db, crawl.owned(record), replace=record in LAST_WINS)
    price_changes.update(db, priced_before, price_changes.sightings(db, row.id))
    crawl_revenue.update(db, row.id)
    insert(db, crawl.response_bodies, ignore=True)
    insert(db, crawl.dataset_daily, replace=True)  # the dataset is live: the newest answer wins
    if row.status == PUBLISHED:  # shared by all crawls: only a published crawl may revise a chart week
        # An archived copy's chart is older than any crawl's: it fills weeks, it revises none.
        archived = row.era == ARCHIVE_ERA
        insert(db, crawl.chart_weeks, replace=not archived, ignore=archived)
    if row.week_end is not None:
        publish_week(db, row)
    if changes is not None and monday_series_update.stale(db):
        rebuild_series(db)
    elif changes is not None:  # only the weeks the crawl's changes reach
        folded = monday_weeks.update(db, row.id)
        monday_series_update.update(db, changes.since(db, folded))


def rebuild_series(db: Database) -> None:
    """The Monday-week series and its estimates from the whole history (inside the caller's transaction)."""
    monday_weeks.rebuild(db)
    monday_series.rebuild(db)


HISTORY = "history"  # previous_source of a row whose previous 7 days are the history's week before
_PREVIOUS_WEEK = """
SELECT m.permaslug, m.variant, m.prompt_tokens, m.completion_tokens, m.cached_tokens
FROM weeks w JOIN model_weeks m ON m.crawl_id = w.crawl_id AND m.week_start = w.week_start AND m.week_end = w.week_end
WHERE w.week_start = date(?, '-7 days') AND w.week_end = date(?, '-7 days') AND w.status = 'published'
"""


def previous_from_history(db: Database, crawl: CrawlRecords) -> None:
    """Give the rows without their own previous 7 days (measured rows have them from the crawl's daily
    activity) the tokens of the same model-variant in the published week 7 days before, if any."""
    row = crawl.crawl
    if row.week_start is None:
        return
    before = {(r[0], r[1]): r[2:] for r in db.execute(_PREVIOUS_WEEK, [row.week_start, row.week_end])}
    for week_row in crawl.model_weeks:
        found = before.get((week_row.permaslug, week_row.variant))
        if week_row.previous_source is None and found is not None and None not in found[:2]:
            (week_row.previous_prompt_tokens, week_row.previous_completion_tokens,
             week_row.previous_cached_tokens) = found
            week_row.previous_source = HISTORY


def insert(db: Database, records: Iterable[Record], *, replace: bool = False, ignore: bool = False) -> None:
    """Insert records of one table in one executemany."""
    records = list(records)
    if not records:
        return
    columns = records[0].columns()
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE" if ignore else "INSERT"
    sql = (f"{verb} INTO [{records[0].TABLE}] ({', '.join(f'[{c}]' for c in columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    db.conn.executemany(sql, (record.values() for record in records))


def publish_week(db: Database, crawl: CrawlRow) -> None:
    """Point the crawl's week at it when it may be shown: a published crawl wins over a rejected one
    (a week with only rejected crawls stays inspectable); an imported week is shown only where no
    crawl of the site is, and so is an archived week (which replaces an imported one: it is the
    site's own full leaderboard)."""
    shown = db.execute("SELECT w.status, c.era FROM weeks w JOIN crawls c ON c.id = w.crawl_id "
                       "WHERE w.week_start = ? AND w.week_end = ?", [crawl.week_start, crawl.week_end]).fetchone()
    if shown is not None:
        shown_status, shown_era = shown
        if crawl.status != PUBLISHED and shown_status == PUBLISHED:
            return
        if crawl.era == IMPORT_ERA and shown_era != IMPORT_ERA:
            return
        if crawl.era == ARCHIVE_ERA and shown_era not in SECONDHAND_ERAS:
            return
    db.execute("INSERT OR REPLACE INTO weeks (week_start, week_end, crawl_id, status) VALUES (?, ?, ?, ?)",
               [crawl.week_start, crawl.week_end, crawl.id, crawl.status])


def record_report(db: Database, crawl_id: str, status: str, message: str) -> None:
    """What became of the report after crawl ``crawl_id`` was stored (inside the caller's transaction)."""
    db.execute("UPDATE crawls SET report_status = ?, report_message = ? WHERE id = ?", [status, message, crawl_id])


def last_report_status(db: Database) -> str | None:
    """The report state the latest crawl that rendered recorded: `failed` means the report folder may
    be behind the history (until a crawl or `scrapy report` renders it again)."""
    row = db.execute("SELECT report_status FROM crawls WHERE report_status IN (?, ?) ORDER BY finished_at DESC, "
                     "rowid DESC LIMIT 1", [REPORT_WRITTEN, REPORT_FAILED]).fetchone()
    return row[0] if row else None
