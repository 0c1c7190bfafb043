"""``SnapshotRecorder``: with ``ORSTATS_RECORD`` (`-a record=PATH`) every final response of the crawl
is written out, when the spider closes, as a snapshot folder that replays identically (`-a snapshot=`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from orstats_crawler.raw_responses import ArchivedResponse, archived
from orstats_crawler.snapshots.reader import MANIFEST, url_key

logger = logging.getLogger(__name__)


class SnapshotRecorder:
    def __init__(self, crawler: Any, folder: str):
        self.crawler = crawler
        self.folder = folder
        self.responses: list[ArchivedResponse] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> "SnapshotRecorder":
        folder = crawler.settings.get("ORSTATS_RECORD")
        if not folder:
            # Off is the usual case, not a warning: a NotConfigured with a message is logged as one.
            logger.debug("nothing to record (ORSTATS_RECORD, -a record=PATH): off")
            raise NotConfigured
        recorder = cls(crawler, folder)
        crawler.signals.connect(recorder.response_received, signal=signals.response_received)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def response_received(self, response: Any, request: Any, spider: Any = None) -> None:
        self.responses.append(archived(response, request))

    def spider_closed(self, spider: Any = None) -> None:
        write_snapshot(self.folder, self.responses, name=Path(self.folder).name,
                       base_url=self.crawler.settings.get("OPENROUTER_BASE_URL"))
        logger.info("recorded %d responses into snapshot %s", len(self.responses), self.folder)


def file_name_for(url: str, content_type: str) -> str:
    """A stable relative file name for a URL: its path, then its sorted query made safe, an extension.

    `/api/frontend/v1/stats/model-activity?permaslug=a/b&variant=free` ->
    `api/frontend/v1/stats/model-activity@permaslug=a__b&variant=free.json`.
    """
    path, query = url_key(url)
    name = path.strip("/") or "index"
    if query:
        name += "@" + "&".join(f"{k}={v}".replace("/", "__") for k, v in query)
    name = re.sub(r"[^A-Za-z0-9._/@=&-]", "_", name)
    name = "/".join(part if part not in {"", ".", ".."} else "_" for part in name.split("/"))
    ext = ".json" if "json" in content_type else ".html" if "html" in content_type else ".txt"
    return name + ext


def write_snapshot(folder: str | Path, responses: list[ArchivedResponse], name: str, base_url: str,
                   notes: str = "recorded by orstats_crawler") -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for response in responses:
        relative = file_name_for(response.url, response.content_type)
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.body)
        entries.append({
            "url": response.url, "file": relative, "status": response.status,
            "content_type": response.content_type, "bytes": len(response.body),
            "sha256": hashlib.sha256(response.body).hexdigest(),
            "source": "orstats_crawler record", "fetched_at": response.fetched_at.isoformat(),
        })
    captured = min((r.fetched_at for r in responses), default=datetime.now(timezone.utc))
    manifest = {"snapshot": name, "captured": captured.date().isoformat(), "base_url": base_url,
                "notes": notes, "entries": entries}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return folder
