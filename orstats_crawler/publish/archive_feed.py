"""The `archive` spider's feed storage (``ArchiveFeedStorage``): each Monday week of a run stored
as a crawl through the publish path's public functions and the one writer.

A run's items are grouped by the copy they came from (each item's source URL is the copy's archive
URL; the spider's ``ArchiveCopy`` items say which week each copy was chosen for). Each Monday week
whose copies all answered becomes crawl `archive:<monday>` (era `archive`), in its own transaction,
through the one writer:

- gated like a crawl: a week with a leaderboard by the quality gate's checks (quality.evaluate),
  a week of catalogues only by the checks that apply to prices (structure, duplicates, price bound);
- its leaderboard rows (`split_source` `archived`: the page's own cached/reasoning split) priced
  with the week's archived catalogue (`price_observed_on` its capture day); its catalogue entries
  in `prices` dated by their copy's capture day, so the price history prices a model retired since
  at its archived price;
- provenance: the crawl's `base_url` is the archive URL of its leaderboard copy (else of its first
  catalogue copy), `started_at` that copy's capture time; `archive_copies` lists every copy the
  week used or turned down (a problem copy stays listed, so it is never asked for again);
- shown only where no crawl of the site is (writer.publish_week), never over a measured week.

The run itself is a crawl too (its id, era `archive`, no week): its checks, stats, the CDX answers
and their problems. The Monday-week series is rebuilt once, after the last week.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from orstats_crawler import signals as orstats_signals
from orstats_crawler.archive_selection import LEADERBOARD as LEADERBOARD_KIND
from orstats_crawler.archive_selection import PAGES_PART, PROBLEM, STORED, WEEK_PART
from orstats_crawler.exporters import read_items
from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.history.records import ArchiveCopyRow, CrawlRecords
from orstats_crawler.history.writer import ARCHIVE_ERA, PUBLISHED, rebuild_series, write_crawl
from orstats_crawler.items import ArchiveCopy, ModelPrice, SourceProblem
from orstats_crawler.publish import quality
from orstats_crawler.publish.crawl import crawl_info
from orstats_crawler.publish.crawl_items import CrawlInfo, CrawlItems
from orstats_crawler.publish.crawl_records import crawl_records
from orstats_crawler.publish.feed import HistoryFeedStorage
from orstats_crawler.publish.week_summary import summarize_week
from orstats_crawler.raw_responses import ArchivedResponse
from orstats_crawler.sources import IDENTITY
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.cdx import captured_at
from orstats_crawler.sources.prices import SOURCE as PRICES
from orstats_crawler.sources.rankings import LEADERBOARD

logger = logging.getLogger(__name__)

ARCHIVED = "archived"  # model_weeks.split_source of a row whose split is the archived page's own
SELECTION = "archive"


@dataclass
class ArchivedWeek:
    """One part of a Monday week of a run (its leaderboard and catalogues, or its model pages): its
    copies and what they gave."""

    monday: str
    part: str
    copies: list[ArchiveCopy] = field(default_factory=list)
    items: CrawlItems = field(default_factory=CrawlItems)
    responses: list[ArchivedResponse] = field(default_factory=list)

    @property
    def crawl_id(self) -> str:
        return f"archive:{self.monday}" + ("" if self.part == WEEK_PART else f":{self.part}")

    @property
    def complete(self) -> bool:
        return bool(self.copies) and len(self.copies) == self.copies[0].week_copies

    def provenance(self) -> ArchiveCopy:
        """The copy the part is read from: its leaderboard copy when stored, else its latest stored one."""
        stored = [c for c in self.copies if c.status == STORED] or self.copies
        return max(stored, key=lambda c: (c.kind == LEADERBOARD_KIND, c.timestamp))


class ArchiveFeedStorage(HistoryFeedStorage):
    """The history feed of the `archive` spider: one crawl per Monday week, and one for the run."""

    def _merge(self, crawl_file: Path) -> orstats_signals.StoredVerdict:
        settings, stats = self.crawler.settings, self.crawler.stats
        run = crawl_info(self.crawler)
        weeks, rest = group_by_week([*read_items(crawl_file), *self.problems], self.archive)
        finish_reason = stats.get_value("finish_reason")
        outcomes: dict[str, str] = {}
        db = open_for_writing(self.path)
        try:
            for key in sorted(weeks):
                week = weeks[key]
                if not week.complete:  # the run was cut short: the next one asks again
                    logger.warning("archive: %s not stored: %d of its %d copies answered", week.crawl_id,
                                   len(week.copies), week.copies[0].week_copies if week.copies else 0)
                    continue
                with immediate(db):
                    outcomes[week.crawl_id] = store_week(db, week, run, settings)
            verdict = run_verdict(finish_reason, outcomes, weeks)
            status = verdict.status()
            quality.record(verdict, stats)
            run.stats = {k: v for k, v in stats.get_stats().items() if isinstance(k, str)}
            with immediate(db):
                write_crawl(db, run_records(run, rest, status, verdict.checks, settings), fold_series=False)
                if outcomes:  # once for all the weeks stored
                    rebuild_series(db)
        finally:
            db.close()
        quality.log(verdict)
        (logger.info if status == PUBLISHED else logger.error)(
            "history %s: archive run %s %s: %d weeks stored (%s)", self.path, run.id, status.upper(), len(outcomes),
            ", ".join(f"{crawl_id} {outcome}" for crawl_id, outcome in outcomes.items()) or "nothing new")
        return orstats_signals.StoredVerdict(crawl_id=run.id, status=status, history=str(self.path), week_start=None,
                                             week_end=None, forced=False, checks=verdict.checks)


Rest = tuple[CrawlItems, list[ArchivedResponse]]  # what belongs to no week: the CDX answers


def group_by_week(items: list[Any], responses: list[ArchivedResponse]) -> tuple[dict[tuple[str, str], ArchivedWeek],
                                                                                  Rest]:
    """Each item and response with the week of the copy it came from; the rest (CDX answers) apart."""
    copies = [item for item in items if isinstance(item, ArchiveCopy)]
    week_of = {copy.archive_url: (copy.week_start, copy.part) for copy in copies}
    weeks: dict[tuple[str, str], ArchivedWeek] = {}
    for copy in copies:
        weeks.setdefault((copy.week_start, copy.part), ArchivedWeek(copy.week_start, copy.part)).copies.append(copy)
    rest = CrawlItems()
    for item in items:
        if isinstance(item, ArchiveCopy):
            continue
        url = item.url if isinstance(item, SourceProblem) else getattr(item, "source_url", None)
        key = week_of.get(url)
        (weeks[key].items if key else rest).add(item)
    rest_responses = []
    for response in responses:
        key = week_of.get(response.url)
        (weeks[key].responses if key else rest_responses).append(response)
    return weeks, (rest, rest_responses)


def store_week(db: Database, week: ArchivedWeek, run: CrawlInfo, settings: Any) -> str:
    """Gate and write one week as crawl `archive:<monday>` (inside the caller's transaction); its status."""
    items = week.items
    if week.part == PAGES_PART:  # daily splits only: no week of its own
        summary, verdict = summarize_week(CrawlItems()), pages_verdict(items)
    elif items.leaderboard:
        summary = summarize_week(items)
        verdict = quality.evaluate(items, summary, db, settings, crawl_id=week.crawl_id, finish_reason="finished")
    else:
        summary, verdict = summarize_week(items), catalogue_verdict(items, settings)
    status = verdict.status()
    source = week.provenance()
    info = CrawlInfo(id=week.crawl_id, started_at=captured_at(source.timestamp), base_url=source.archive_url,
                     snapshot=run.snapshot, finished_at=datetime.now(timezone.utc),
                     stats={"archive_run": run.id, "copies": len(week.copies)})
    records = crawl_records(info, items, summary, status, verdict.checks, week.responses)
    as_archived(records, week, items.prices)
    records.archive_copies = copy_rows(db, week)
    write_crawl(db, records, fold_series=False)
    logger.info("archive: %s (%s, week %s..%s, %d rows, %d prices): %s", week.crawl_id, source.archive_url,
                summary.week_start, summary.week_end, len(summary.rows), len(records.prices), status)
    return status


def as_archived(records: CrawlRecords, week: ArchivedWeek, prices: list[ModelPrice]) -> None:
    """A crawl's records as an archived week's: its era, its rows' basis, every price dated by the
    capture day of the copy it came from."""
    records.crawl.era, records.crawl.selection = ARCHIVE_ERA, SELECTION
    day_of = {copy.archive_url: captured_at(copy.timestamp).date().isoformat() for copy in week.copies}
    chosen: dict[str, ModelPrice] = {}
    for price in prices:  # the entry that priced (as crawl_records keeps it): the lower precedence
        if price.public_id not in chosen or price.precedence < chosen[price.public_id].precedence:
            chosen[price.public_id] = price
    for row in records.prices:
        row.observed_on = day_of[chosen[row.public_id].source_url]
    for row in records.model_weeks:
        if row.split_source == LEADERBOARD:
            row.split_source = ARCHIVED
        entry = chosen.get(row.public_id) if row.price_status in ("listed", "free") else None
        row.price_observed_on = day_of[entry.source_url] if entry is not None else None


def copy_rows(db: Database, week: ArchivedWeek) -> list[ArchiveCopyRow]:
    """The week's copies used or turned down, with the problem copies an earlier run of the week
    recorded (never asked for again, so they must stay recorded)."""
    rows = {copy.archive_url: ArchiveCopyRow(
        crawl_id=week.crawl_id, week_start=week.monday, kind=copy.kind, original=copy.original,
        captured_at=captured_at(copy.timestamp).isoformat(), archive_url=copy.archive_url, digest=copy.digest,
        status=copy.status, message=copy.message) for copy in week.copies if copy.status in (STORED, PROBLEM)}
    if db["archive_copies"].exists():
        for row in db.query("SELECT * FROM archive_copies WHERE crawl_id = ? AND status = ?", [week.crawl_id, PROBLEM]):
            rows.setdefault(row["archive_url"], ArchiveCopyRow(**row))
    return list(rows.values())


def catalogue_verdict(items: CrawlItems, settings: Any) -> quality.Verdict:
    """A week whose leaderboard copy was missing or unusable: its catalogues, checked as a crawl's."""
    verdict = quality.Verdict()
    by_source: dict[str, list[SourceProblem]] = defaultdict(list)
    for found in items.problems:
        by_source[found.source].append(found)
    prices = len(items.prices)
    detail = quality.describe_problems(by_source[PRICES]) if by_source[PRICES] else ""
    if not prices:
        verdict.add("structure_prices", quality.FAIL, f"prices: nothing usable{': ' + detail if detail else ''}")
    else:
        found = f", {len(by_source[PRICES])} problems: {detail}" if detail else ""
        verdict.add("structure_prices", quality.FLAG if detail else quality.PASS,
                    f"prices: {prices} usable items{found}")
    for source in sorted(set(by_source) - {PRICES}):
        verdict.add(f"structure_{source}", quality.FLAG,
                    f"{source}: nothing usable, {len(by_source[source])} problems: "
                    f"{quality.describe_problems(by_source[source])}")
    verdict.add("structure_week", quality.SKIP, "no usable leaderboard copy: the week's dated prices only")
    quality.check_duplicates(verdict, items)
    quality.check_price_bound(verdict, items, settings.getfloat("ORSTATS_MAX_LIST_PRICE"))
    return verdict


def pages_verdict(items: CrawlItems) -> quality.Verdict:
    """A week's model pages: their daily splits, checked as a crawl's split answers. A page about
    another model-variant is left out and flagged, not failed: every legacy page names its model,
    so a mixed-up copy shows itself (a crawl's effective prices do not, hence its stricter rule)."""
    verdict = quality.Verdict()
    usable = sum(1 for a in items.activity if a.days)
    other = [p for p in items.problems if (p.extra or {}).get("kind") != IDENTITY]
    mixed = quality.problems_of(items, IDENTITY)
    if not usable:
        verdict.add("structure_activity", quality.FAIL, f"{ACTIVITY}: nothing usable, {len(items.problems)} problems"
                    + (f": {quality.describe_problems(items.problems)}" if items.problems else ""))
    else:
        verdict.add("structure_activity", quality.FLAG if other else quality.PASS,
                    f"{ACTIVITY}: {usable} usable model pages"
                    + (f", {len(other)} problems: {quality.describe_problems(other)}" if other else ""))
    if mixed:
        verdict.add("identity", quality.FLAG, f"{len(mixed)} archived model pages are about another model-variant "
                                              f"(left out): {quality.describe_problems(mixed)}")
    else:
        verdict.add("identity", quality.PASS, f"{len(items.activity)} model pages, each about its model-variant")
    quality.check_duplicates(verdict, items)
    return verdict


def run_verdict(finish_reason: str | None, outcomes: dict[str, str],
                weeks: dict[tuple[str, str], ArchivedWeek]) -> quality.Verdict:
    """The run's own checks: it ran to its end, and what became of its weeks (one bad week or copy
    never fails the run: each week has its own verdict)."""
    verdict = quality.Verdict()
    quality.check_finished(verdict, finish_reason)
    bad = sum(1 for week in weeks.values() for copy in week.copies if copy.status != STORED)
    counts = defaultdict(int)
    for outcome in outcomes.values():
        counts[outcome] += 1
    message = (f"{len(outcomes)} archived weeks stored ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}), "
               f"{bad} copies turned down (see problems)") if outcomes else "no new archived copy to store"
    verdict.add("archive_weeks", quality.PASS if outcomes else quality.SKIP, message)
    return verdict


def run_records(run: CrawlInfo, rest: Rest, status: str,
                checks: list[dict[str, Any]], settings: Any) -> CrawlRecords:
    """The run as a crawl of no week: its checks, stats, the CDX answers and their problems."""
    items, responses = rest
    run.base_url = settings.get("ORSTATS_ARCHIVE_URL")
    records = crawl_records(run, items, summarize_week(CrawlItems()), status, checks, responses)
    records.crawl.era, records.crawl.selection = ARCHIVE_ERA, SELECTION
    return records
