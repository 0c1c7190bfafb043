"""Decode the model catalogue, /api/v1/models (with or without ?output_modalities=all)."""

from __future__ import annotations

from typing import Any, Iterator

from orstats_crawler import normalize, pricing
from orstats_crawler.items import ModelPrice, SourceProblem
from orstats_crawler.sources import SourceError, envelope, load_json, problem, require, rows_of, unique_entries

SOURCE = "prices"


def variant_of(public_id: str) -> str:
    """`anthropic/claude-opus-5:batch` -> `batch`; no suffix -> `standard` (the leaderboard's word)."""
    return pricing.split_id(public_id)[1]


def decode_catalogue(body: bytes | str, url: str, precedence: int = 0) -> Iterator[ModelPrice | SourceProblem]:
    """One ModelPrice per entry, in both envelopes ({data} and {data, links, total_count}).

    A malformed entry becomes a SourceProblem and the others still count. An id listed twice is
    kept once (identical copies counted in ``duplicates``; a copy with another price or name is a
    DUPLICATE problem).
    """
    models = rows_of(envelope(load_json(body, SOURCE, url), SOURCE, url, "data"), SOURCE, url, "data")
    kept, duplicates = unique_entries(models, _id_key, SOURCE, url, "data")
    for unique in kept:
        try:
            entry = _decode_model(unique.entry, url, unique.index, precedence)
        except SourceError as exc:
            yield problem(exc)
            continue
        entry.duplicates = unique.duplicates
        yield entry
    yield from duplicates


def _id_key(model: Any) -> str | None:
    return f"id {model['id']}" if isinstance(model, dict) and "id" in model else None


def _decode_model(model: Any, url: str, index: int, precedence: int) -> ModelPrice:
    where = f" in data[{index}]"
    if not isinstance(model, dict):
        raise SourceError(SOURCE, url, f"data[{index}]", "expected an object")
    public_id = require(model, "id", SOURCE, url, where)
    prices = require(model, "pricing", SOURCE, url, where)
    if not isinstance(prices, dict):
        raise SourceError(SOURCE, url, f"data[{index}].pricing", "expected an object")
    return ModelPrice(
        public_id=str(public_id),
        # Old entries may lack canonical_slug: their id without the suffix is the permaslug then.
        canonical_slug=str(model.get("canonical_slug") or pricing.split_id(str(public_id))[0]),
        variant=variant_of(str(public_id)),
        name=str(model.get("name") or public_id),
        pricing=prices,
        source_url=url,
        created=_created(model.get("created")),
        precedence=precedence,
    )


def _created(value: Any) -> int | None:
    """The entry's creation time (seconds since the epoch): informational, never part of a figure,
    so a value that is not a count is left out rather than the entry (and its price) with it."""
    try:
        return normalize.optional_count(value)
    except ValueError:
        return None
