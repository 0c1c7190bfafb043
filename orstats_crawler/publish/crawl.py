"""Publishing one crawl: its items become the week summary, the quality gate judges it against the
history, and its records go to the history's one writer, all in one write transaction (the gate
reads the history as it was before the crawl). The feed storage, and the benchmarks, call
``publish_crawl``; the stats it is given learn the verdict and the week's coverages before the
crawl's row stores them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.history.writer import PUBLISHED, write_crawl
from orstats_crawler.publish import quality
from orstats_crawler.publish.crawl_items import CrawlInfo, CrawlItems
from orstats_crawler.publish.crawl_records import crawl_records
from orstats_crawler.publish.week_summary import WeekSummary, summarize_week
from orstats_crawler.raw_responses import ArchivedResponse

logger = logging.getLogger(__name__)


@dataclass
class Published:
    """What became of a crawl: its week, the gate's verdict and the status it was stored with."""

    summary: WeekSummary
    verdict: quality.Verdict
    status: str


def publish_crawl(history: Path, items: CrawlItems, info: CrawlInfo, archive: Iterable[ArchivedResponse],
                  settings: Any, stats: Any, *, finish_reason: str | None = None) -> Published:
    """The crawl's week, the gate's verdict on it and every record of the crawl, in one transaction."""
    summary = summarize_week(items)
    db = open_for_writing(history)
    try:
        with immediate(db):
            verdict = quality.evaluate(items, summary, db, settings, crawl_id=info.id,
                                       finish_reason=finish_reason, forced=info.forced)
            status = verdict.status(forced=info.forced)
            quality.record(verdict, stats)
            record_week(summary, stats)
            info.stats = {k: v for k, v in stats.get_stats().items() if isinstance(k, str)}
            write_crawl(db, crawl_records(info, items, summary, status, verdict.checks, archive,
                                          untrusted=verdict.untrusted))
    finally:
        db.close()
    return Published(summary, verdict, status)


def record_week(summary: WeekSummary, stats: Any) -> None:
    """The week and its coverage in the crawl's stats (for whoever reads the stats dump: Scrapyd's log)."""
    if summary.week_end:
        stats.set_value("orstats/week_end", summary.week_end.isoformat())
    if summary.spend_coverage is not None:  # what the measured splits guarantee of the list-price spend
        stats.set_value("orstats/coverage/spend", round(summary.spend_coverage, 4))
    if summary.coverage is not None:  # the share of the no-cache upper bound they hold: not a share of spend
        stats.set_value("orstats/coverage/upper_bound", round(summary.coverage, 4))
    if summary.token_coverage is not None:
        stats.set_value("orstats/coverage/tokens", round(summary.token_coverage, 4))


def log_published(history: Path, info: CrawlInfo, published: Published) -> None:
    """Each check, then one line saying what became of the crawl (the failed checks under it)."""
    verdict, summary, status = published.verdict, published.summary, published.status
    quality.log(verdict)
    forced = info.forced and not verdict.passed
    log = logger.error if status != PUBLISHED else logger.warning if forced else logger.info
    log("history %s: crawl %s %s%s (week %s..%s, %d model-variants, measured splits hold at least %s of the "
        "list-price spend, checks: %d pass, %d flag, %d fail, %d skip)%s", history, info.id, status.upper(),
        " (FORCED by -a force=1)" if forced else "", summary.week_start, summary.week_end, len(summary.rows),
        f"{summary.spend_coverage:.1%}" if summary.spend_coverage is not None else "an unknown share",
        *(len(verdict.named(result)) for result in quality.RESULTS),
        "".join(f"\n  failed check {c['name']}: {c['message']}" for c in verdict.named(quality.FAIL)))


def crawl_info(crawler: Any) -> CrawlInfo:
    """The crawl as its settings (the spider's arguments among them) and Scrapy's core stats know it."""
    settings = crawler.settings
    snapshot = settings.get("ORSTATS_SNAPSHOT")
    return CrawlInfo(
        id=settings.get("ORSTATS_CRAWL_ID"),
        started_at=crawler.stats.get_value("start_time") or datetime.now(timezone.utc),
        base_url=settings.get("OPENROUTER_BASE_URL"),
        snapshot=str(Path(snapshot).resolve()) if snapshot else None,
        forced=settings.getbool("ORSTATS_FORCE"),
        finished_at=datetime.now(timezone.utc),
        platform_fee=settings.getfloat("ORSTATS_PLATFORM_FEE"),
    )
