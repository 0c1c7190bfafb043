"""Decoders: turn one source's response body into items. One module per source.

A decoder never guesses: when a response is not in a shape it understands it raises
``SourceError`` naming the source, the URL and the field, and the spider turns that into a
``SourceProblem`` item (stored, counted, logged) instead of a silent zero.
"""

from __future__ import annotations

import json
from typing import Any

from orstats_crawler.items import SourceProblem

# The source of a problem the spider's own code raised (a callback error), not one of the site's.
SPIDER = "spider"


class SourceError(ValueError):
    """A response we cannot use, with enough context to find the cause."""

    def __init__(self, source: str, url: str, field: str | None, message: str):
        self.source, self.url, self.field, self.message = source, url, field, message
        where = f" field {field!r}" if field else ""
        super().__init__(f"{source}: {url}{where}: {message}")


def load_json(body: bytes | str, source: str, url: str) -> Any:
    """Parse a JSON body; a truncated body or an HTML page becomes a SourceError."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        head = text.lstrip()[:1]
        kind = "HTML instead of JSON" if head == "<" else "invalid or truncated JSON"
        raise SourceError(source, url, None, f"{kind} ({exc.msg} at byte {exc.pos} of {len(text)})") from None


def envelope(payload: Any, source: str, url: str, *path: str) -> Any:
    """Walk ``payload`` down the keys in ``path`` (the wire envelope), naming the first missing one."""
    node = payload
    walked = []
    for key in path:
        walked.append(key)
        if not isinstance(node, dict) or key not in node:
            raise SourceError(source, url, ".".join(walked), "missing from the response")
        node = node[key]
    return node


def require(row: dict[str, Any], key: str, source: str, url: str, where: str = "") -> Any:
    """A field a row must carry; its absence means the site changed shape."""
    if key not in row:
        raise SourceError(source, url, key, f"missing{where}")
    return row[key]


def problem(exc: SourceError, **context: Any) -> SourceProblem:
    """The item that records a SourceError (permaslug, variant, status as context)."""
    return SourceProblem(source=exc.source, url=exc.url, field=exc.field, message=exc.message, **context)


def rows_of(rows: Any, source: str, url: str, field: str) -> list[Any]:
    """A list the response must hold (an object or null here means the shape changed)."""
    if not isinstance(rows, list):
        raise SourceError(source, url, field, f"expected a list, got {type(rows).__name__}")
    return rows
