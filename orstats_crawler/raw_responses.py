"""A final response of a crawl, as the history's raw archive and the snapshot recorder keep it: URL,
status, content type and body, with the Data API's key scrubbed from the body and the content type
(credentials.scrub: a server may echo what it was sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from orstats_crawler.credentials import scrub, scrub_text


@dataclass
class ArchivedResponse:
    url: str
    status: int
    content_type: str
    body: bytes
    fetched_at: datetime


def archived(response: Any, request: Any) -> ArchivedResponse:
    """What is kept of a response received for a request (a ``response_received`` signal's arguments)."""
    content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
    return ArchivedResponse(url=request.url, status=response.status, content_type=scrub_text(content_type),
                            body=scrub(response.body), fetched_at=datetime.now(timezone.utc))
