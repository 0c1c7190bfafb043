"""The Wayback Machine's CDX API and its copies (the `archive` spider's sources).

- ``cdx_url``: which copies the archive holds of one URL between two days,
  `{archive}/cdx/search/cdx?url=...&output=json&fl=...&from=YYYYMMDD&to=YYYYMMDD`;
- ``decode_cdx``: its JSON answer (a header row naming the fields, then one row per copy; `[]` when
  there is none) -> ``Capture``s. A row that is not in that shape is a SourceError naming the field;
- ``copy_url`` / ``capture_of``: a copy served byte for byte, `{archive}/web/{timestamp}id_/{original}`
  (`id_`: the archived bytes, without the archive's own banner or rewritten links), and back.

A capture's `statuscode` is what the archived site answered then: a 3xx is a redirect the archive
recorded, a 4xx or 5xx an error page; `-` (a revisit record) says only that the bytes equal an
earlier capture's (`digest`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import urlencode

from orstats_crawler.sources import SourceError, load_json, rows_of

SOURCE = "archive"
FIELDS = ("timestamp", "original", "statuscode", "mimetype", "digest")
CDX_PATH = "/cdx/search/cdx"
TIMESTAMP = "%Y%m%d%H%M%S"  # a capture time, UTC
_COPY = re.compile(r"/web/(\d{14})id_/(.+)$")


@dataclass(frozen=True)
class Capture:
    """One archived copy of a URL."""

    timestamp: str  # YYYYMMDDhhmmss, UTC
    original: str
    status: str  # the archived answer's HTTP status, as the CDX gives it ("200", "302", "-")
    mimetype: str
    digest: str

    @property
    def captured_at(self) -> datetime:
        return captured_at(self.timestamp)

    @property
    def day(self) -> date:
        return self.captured_at.date()

    @property
    def holds_content(self) -> bool:
        """The archived answer was the page itself (a 200, or a revisit of earlier bytes)."""
        return self.status in ("200", "-")


def captured_at(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, TIMESTAMP).replace(tzinfo=timezone.utc)


def cdx_url(archive: str, original: str, first: date, last: date) -> str:
    query = {"url": original, "output": "json", "fl": ",".join(FIELDS),
             "from": first.strftime("%Y%m%d"), "to": last.strftime("%Y%m%d")}
    return archive.rstrip("/") + CDX_PATH + "?" + urlencode(query)


def copy_url(archive: str, capture: Capture) -> str:
    return f"{archive.rstrip('/')}/web/{capture.timestamp}id_/{capture.original}"


def capture_of(url: str) -> tuple[str, str] | None:
    """(timestamp, original) of a copy's URL; None for any other URL."""
    found = _COPY.search(url)
    return (found.group(1), found.group(2)) if found else None


def decode_cdx(body: bytes | str, url: str) -> list[Capture]:
    """The copies a CDX answer lists, in its order (the archive lists them oldest first)."""
    rows = rows_of(load_json(body, SOURCE, url), SOURCE, url, "rows")
    if not rows:
        return []
    header = rows[0]
    if not isinstance(header, list) or any(name not in header for name in FIELDS):
        raise SourceError(SOURCE, url, "rows[0]", f"expected a header naming {', '.join(FIELDS)}, got {header!r:.200}")
    position = {name: header.index(name) for name in FIELDS}
    return [_capture(row, position, url, index) for index, row in enumerate(rows[1:], start=1)]


def _capture(row: Any, position: dict[str, int], url: str, index: int) -> Capture:
    if not isinstance(row, list) or len(row) < len(position) or not all(isinstance(v, str) for v in row):
        raise SourceError(SOURCE, url, f"rows[{index}]", f"expected {len(position)} strings, got {row!r:.200}")
    values = {name: row[at] for name, at in position.items()}
    try:
        captured_at(values["timestamp"])
    except ValueError:
        raise SourceError(SOURCE, url, f"rows[{index}].timestamp",
                          f"{values['timestamp']!r} is not a YYYYMMDDhhmmss timestamp") from None
    return Capture(values["timestamp"], values["original"], values["statuscode"], values["mimetype"],
                   values["digest"])
