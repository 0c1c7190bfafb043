"""The project's own signals (send with ``crawler.signals.send_catch_log``; connect named functions:
Scrapy keeps weak references to receivers).

``crawl_verdict(verdict)``: the history feed stored the crawl and its verdict (a ``StoredVerdict``),
in the same transaction; sent only then. The report extension renders on it, and `scrapy crawl`
takes its exit code from it.

``report_rendered(crawl_id, readme, error)``: the report extension rendered the report of a
published crawl into ``readme`` (its README.md); ``error`` is None, or why writing it failed (the
week is published all the same; a rejected crawl that heals a failed report sends it too).

``site_unreachable(where)``: the spider closes the crawl because every catalogue request failed to
connect or resolve; ``where`` is "HOST (ERROR)", what `scrapy crawl` says on exit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

crawl_verdict = object()
report_rendered = object()
site_unreachable = object()


@dataclass(frozen=True)
class StoredVerdict:
    crawl_id: str
    status: str  # published | rejected
    history: str  # the history file it is stored in
    week_start: str | None
    week_end: str | None
    forced: bool
    checks: list[dict[str, Any]] = field(default_factory=list)

    def failed(self) -> list[dict[str, Any]]:
        return [check for check in self.checks if check["result"] == "fail"]
