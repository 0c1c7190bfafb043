"""What the history holds of the `archive` spider's earlier runs (``archive_state``): the archived
copies recorded in ``archive_copies`` (so a run asks only for new ones, never again for a copy
that was not the page), the model-variants whose pages to look for, and the day's archive requests
(its daily cap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from orstats_crawler.archive_selection import PROBLEM
from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.history.writer import ARCHIVE_ERA
from orstats_crawler.sources.cdx import CDX_PATH, TIMESTAMP


@dataclass
class ArchiveState:
    """What the history holds of earlier archive runs."""

    known: set[tuple[str, str]] = field(default_factory=set)  # (original URL, timestamp) of every copy recorded
    bad: set[tuple[str, str]] = field(default_factory=set)  # of those, the copies that were not the page
    requests_today: int = 0  # answers the archive gave archive runs since 00:00 UTC
    # (permaslug, variant, public id) of every model-variant the history ranked, the most tokens first
    models: list[tuple[str, str, str | None]] = field(default_factory=list)
    asked: set[str] = field(default_factory=set)  # the URLs earlier runs asked the CDX about


def archive_state(path: str | Path) -> ArchiveState:
    """The copies recorded in the history and today's archive requests (nothing when it does not exist yet)."""
    if not Path(path).is_file():
        return ArchiveState()
    db = open_for_writing(path)
    try:
        state = ArchiveState()
        for original, captured_at, status in db.execute("SELECT original, captured_at, status FROM archive_copies"):
            key = (original, datetime.fromisoformat(captured_at).strftime(TIMESTAMP))
            state.known.add(key)
            if status == PROBLEM:
                state.bad.add(key)
        state.models = [tuple(row[:3]) for row in db.execute(
            "SELECT permaslug, variant, MAX(public_id), SUM(total_tokens) FROM model_weeks GROUP BY 1, 2 "
            "ORDER BY 4 DESC, 1, 2")]
        asked = db.execute("SELECT r.url FROM responses r JOIN crawls c ON c.id = r.crawl_id "
                           "WHERE c.era = ? AND r.status = 200 AND r.url LIKE ?", [ARCHIVE_ERA, f"%{CDX_PATH}?%"])
        for (url,) in asked:
            state.asked.update(parse_qs(urlsplit(url).query).get("url", []))
        today = datetime.now(timezone.utc).date().isoformat()
        state.requests_today = db.execute(
            "SELECT COUNT(*) FROM responses r JOIN crawls c ON c.id = r.crawl_id "
            "WHERE c.era = ? AND r.fetched_at >= ?", [ARCHIVE_ERA, today]).fetchone()[0]
        return state
    finally:
        db.close()
