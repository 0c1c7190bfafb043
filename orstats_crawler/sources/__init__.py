"""Decoders: turn one source's response body into items. One module per source.

A decoder never guesses: when a response is not in a shape it understands it raises
``SourceError`` naming the source, the URL and the field, and the spider turns that into a
``SourceProblem`` item (stored, counted, logged) instead of a silent zero.

Two kinds of problem the quality gate counts on their own (``SourceProblem.extra["kind"]``): an
answer about another model-variant than the one asked for (``IDENTITY``), and an entry a source
listed twice with different values (``DUPLICATE``; identical copies are collapsed, and counted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from orstats_crawler.items import SourceProblem
from orstats_crawler.pricing import STANDARD_VARIANT

# The source of a problem the spider's own code raised (a callback error), not one of the site's.
SPIDER = "spider"
IDENTITY, DUPLICATE = "identity", "duplicate"  # SourceProblem.extra["kind"]


class SourceError(ValueError):
    """A response we cannot use, with enough context to find the cause (``kind``: IDENTITY or
    DUPLICATE when the gate counts it on its own)."""

    def __init__(self, source: str, url: str, field: str | None, message: str, kind: str | None = None):
        self.source, self.url, self.field, self.message, self.kind = source, url, field, message, kind
        where = f" field {field!r}" if field else ""
        super().__init__(f"{source}: {url}{where}: {message}")


def load_json(body: bytes | str, source: str, url: str, keys_once: bool = False) -> Any:
    """Parse a JSON body; a truncated body or an HTML page becomes a SourceError. With ``keys_once``
    every object is a ``Pairs``, which keeps the first value of a key listed twice and remembers
    the repeats (``json`` alone would keep the last one, silently)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text, object_pairs_hook=Pairs.of if keys_once else None)
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
    extra = {"kind": exc.kind} if exc.kind else {}
    return SourceProblem(source=exc.source, url=exc.url, field=exc.field, message=exc.message, extra=extra,
                         **context)


def rows_of(rows: Any, source: str, url: str, field: str) -> list[Any]:
    """A list the response must hold (an object or null here means the shape changed)."""
    if not isinstance(rows, list):
        raise SourceError(source, url, field, f"expected a list, got {type(rows).__name__}")
    return rows


def model_variant(permaslug: Any, variant: Any) -> str:
    """`author/slug:variant`, as messages name a model-variant (a missing variant is the standard one)."""
    return f"{permaslug}:{variant or STANDARD_VARIANT}"


def check_asked(url: str, permaslug: str, variant: str, source: str) -> None:
    """The answer's URL (after any redirect) still asks for the model-variant we asked for."""
    query = parse_qs(urlparse(url).query)
    found = (query.get("permaslug", [permaslug])[0], query.get("variant", [variant])[0])
    if found != (permaslug, variant):
        raise SourceError(source, url, "url", f"asked for {model_variant(permaslug, variant)}, the answer is "
                                              f"for {model_variant(*found)}", kind=IDENTITY)


class Pairs(dict):
    """A JSON object (``load_json(keys_once=True)``): ``repeated`` lists (key, first value, later
    value) for each key listed again."""

    repeated: list[tuple[str, Any, Any]]

    @classmethod
    def of(cls, pairs: list[tuple[str, Any]]) -> "Pairs":
        obj = cls()
        obj.repeated = []
        for key, value in pairs:
            if key in obj:
                obj.repeated.append((key, obj[key], value))
            else:
                obj[key] = value
        return obj


@dataclass
class Unique:
    """The first entry of a key in a list, and how many identical copies of it followed."""

    index: int
    entry: Any
    duplicates: int = 0


def unique_entries(entries: list[Any], key_of: Callable[[Any], str | None], source: str, url: str,
                   field: str) -> tuple[list[Unique], list[SourceProblem]]:
    """Each key's first entry (an entry without a key is always kept: its decoder reports it),
    identical copies collapsed into it; a later entry of the same key with other values is left
    out and becomes a DUPLICATE problem naming the key and both positions."""
    firsts: dict[str, Unique] = {}
    kept: list[Unique] = []
    problems = []
    for index, entry in enumerate(entries):
        key = key_of(entry)
        first = firsts.get(key) if key is not None else None
        if first is None:
            kept.append(Unique(index, entry))
            if key is not None:
                firsts[key] = kept[-1]
        elif entry == first.entry:
            first.duplicates += 1
        else:
            problems.append(SourceProblem(
                source, url, f"{field}[{index}]",
                f"{key} listed again with different values (first at {field}[{first.index}])",
                extra={"kind": DUPLICATE, "key": key}))
    return kept, problems
