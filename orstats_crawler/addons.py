"""``HistoryAddon``: the history feed, added to FEEDS from ``ORSTATS_DB`` once the command line is
applied. Scrapy's `-o`/`-O` replace the whole FEEDS setting, so a user's `-O items.jsonl` (or
Scrapyd's items feed) must not silently switch the history off: an add-on runs after them.
"""

from __future__ import annotations

from typing import Any

from orstats_crawler.exporters import FORMAT
from orstats_crawler.publish.feed import SCHEME, history_feed_uri


class HistoryAddon:
    def update_settings(self, settings: Any) -> None:
        db_path = settings.get("ORSTATS_DB")
        feeds = dict(settings.getdict("FEEDS"))
        if not db_path or any(str(uri).startswith(f"{SCHEME}:") for uri in feeds):
            return
        feeds[history_feed_uri(db_path)] = {"format": FORMAT, "store_empty": True}
        settings.set("FEEDS", feeds, priority=max(settings.getpriority("FEEDS") or 0, 20))
