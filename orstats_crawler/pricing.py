"""List prices: from the catalogue's decimal strings to USD per token, keyed on (canonical_slug, variant).

Rules (docs/SOURCES.md sections 1 and 7):
- prices are decimal strings in USD per token; since 2026 a key that is absent means 0;
- "-1" (router models) or any negative or non-numeric value is *no price*, never a price;
- `:free` is free whatever the catalogue says; `:batch` and the others have their own entry;
- a missing `input_cache_read` falls back to the prompt price (no discount known).
The revenue formulas themselves live in SQL (history/formulas.py) so every reader of the history
computes them the same way, the spider's upper bound before the split is known included.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

FREE_VARIANT = "free"
STANDARD_VARIANT = "standard"  # the leaderboard's word for an id without a `:<variant>` suffix


@dataclass(frozen=True)
class ListPrice:
    prompt: float | None
    completion: float | None
    cache_read: float | None
    is_free: bool
    status: str  # listed | free | invalid | missing (no catalogue entry: NO_PRICE)
    problems: tuple[str, ...] = ()  # "<field>: <why>" for each unusable value

    @property
    def known(self) -> bool:
        return self.is_free or (self.prompt is not None and self.completion is not None)


NO_PRICE = ListPrice(None, None, None, False, "missing")
FREE = ListPrice(0.0, 0.0, 0.0, True, "free")


def usd_per_token(value: Any) -> float | None:
    """A catalogue price as a float, or None when it is not a price ("-1", negative, garbage)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0:
        return None
    return float(number)


NOT_PRICED = "-1"  # the catalogue's own "no price" (its routers, e.g. openrouter/auto)


def only_marked_unpriced(pricing: dict[str, Any]) -> bool:
    """Whether every value of ``pricing`` that is not a price is the catalogue's "-1": no price,
    expected and documented, unlike a value the catalogue did not mean to publish."""
    return all(str(value).strip() == NOT_PRICED for value in pricing.values() if usd_per_token(value) is None)


def list_price(pricing: dict[str, Any], variant: str) -> ListPrice:
    """The list price of one catalogue entry."""
    if variant == FREE_VARIANT:
        return FREE
    if "prompt" not in pricing and "completion" not in pricing:
        return ListPrice(None, None, None, False, "invalid", ("pricing: neither prompt nor completion",))
    problems = []
    parsed = {}
    for key in ("prompt", "completion", "input_cache_read"):
        if key not in pricing:
            parsed[key] = 0.0 if key != "input_cache_read" else None
            continue
        parsed[key] = usd_per_token(pricing[key])
        if parsed[key] is None:
            problems.append(f"pricing.{key}: {pricing[key]!r} is not a price")
    prompt, completion = parsed["prompt"], parsed["completion"]
    if prompt is None or completion is None:
        return ListPrice(None, None, None, False, "invalid", tuple(problems))
    cache_read = parsed["input_cache_read"]
    if cache_read is None:
        cache_read = prompt  # no discount published: cached tokens cost what prompt tokens cost
    is_free = prompt == 0 and completion == 0
    return ListPrice(prompt, completion, cache_read, is_free, "free" if is_free else "listed", tuple(problems))


def row_price(entry_pricing: dict[str, Any] | None, variant: str) -> ListPrice:
    """The list price of a leaderboard row from its own catalogue entry's prices: free when the
    variant is `free` whether or not the catalogue still lists it; no entry, no price."""
    if entry_pricing is not None:
        return list_price(entry_pricing, variant)
    return FREE if variant == FREE_VARIANT else NO_PRICE


def split_id(key: str) -> tuple[str, str]:
    """`author/slug:variant` -> (`author/slug`, `variant`); no suffix -> the standard variant. Catalogue
    ids, chart and Data API keys and the earlier project's slugs are all written this way."""
    slug, _, suffix = key.partition(":")
    return slug, suffix or STANDARD_VARIANT


def author_of(permaslug: str) -> str:
    """A model's author: its permaslug before the first `/` (the whole slug when there is none).
    The views use the same rule in SQL (history/formulas.py ``author``)."""
    return permaslug.partition("/")[0]


def display_name(name: str | None, fallback: str) -> str:
    """`Anthropic: Claude Sonnet 4.6` -> `Claude Sonnet 4.6` (the catalogue prefixes the author)."""
    if not name:
        return fallback
    _, sep, rest = name.partition(": ")
    return rest.strip() if sep and rest.strip() else name.strip()


class PriceCatalogue:
    """Every list price the crawl has seen, keyed on (canonical_slug, variant), plus a name for
    each canonical_slug (its standard entry when there is one) for rows the catalogue lacks.

    Both catalogues list the text models and they arrive in any order, so an id listed twice keeps
    the entry of the catalogue with the lower ``precedence`` (the text catalogue: 0), and a
    (canonical_slug, variant) listed under several ids keeps the lowest id: the same crawl always
    prices and names a row the same way.
    """

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}  # public id -> entry
        self._index: tuple[dict[tuple[str, str], tuple[ListPrice, Any]], dict[str, Any]] | None = None

    def add(self, entry: Any) -> bool:
        """Add a catalogue entry (with public_id, canonical_slug, variant, name, pricing, precedence);
        False when the same id is already known from a catalogue that takes precedence."""
        known = self.entries.get(entry.public_id)
        if known is not None and known.precedence <= entry.precedence:
            return False
        self.entries[entry.public_id] = entry
        self._index = None
        return True

    def _indexed(self) -> tuple[dict[tuple[str, str], tuple[ListPrice, Any]], dict[str, Any]]:
        if self._index is None:
            prices: dict[tuple[str, str], tuple[ListPrice, Any]] = {}
            named: dict[str, Any] = {}
            for public_id in sorted(self.entries):
                entry = self.entries[public_id]
                prices.setdefault((entry.canonical_slug, entry.variant),
                                  (list_price(entry.pricing, entry.variant), entry))
                named.setdefault(entry.canonical_slug, entry)
                if entry.variant == STANDARD_VARIANT and named[entry.canonical_slug].variant != STANDARD_VARIANT:
                    named[entry.canonical_slug] = entry
            self._index = prices, named
        return self._index

    def price_for(self, permaslug: str, variant: str) -> ListPrice:
        """The list price of a leaderboard row (``row_price`` of its own entry)."""
        found = self._indexed()[0].get((permaslug, variant))
        return found[0] if found else row_price(None, variant)

    def entry_for(self, permaslug: str, variant: str) -> Any:
        """The catalogue entry that names a row: its own, else its canonical_slug's standard entry."""
        prices, named = self._indexed()
        found = prices.get((permaslug, variant))
        return found[1] if found else named.get(permaslug)

    def attach(self, row: Any) -> Any:
        """The leaderboard row with its catalogue entry's decimal prices (only an entry of its own
        (canonical_slug, variant) prices it), public id and name, for the price pipeline."""
        entry = self.entry_for(row.permaslug, row.variant)
        if entry is not None:
            own = (entry.canonical_slug, entry.variant) == (row.permaslug, row.variant)
            row.pricing = dict(entry.pricing) if own else None
            row.public_id, row.name = entry.public_id, entry.name
        return row
