"""Decode /api/frontend/v1/stats/effective-pricing: what one model-variant's traffic actually paid.

`weightedInputPrice` and `weightedOutputPrice` are USD per million tokens, per *total* prompt token
(cached included) and per completion token, averaged over the providers that served the traffic
(cache discounts, cache writes, provider mix and long-context tiers included); `weightedCacheHitRate`
is the share of prompt tokens read from cache. Two answers are not prices:
- both prices 0 with no provider at all: no traffic in the range (no data);
- both prices 0 with providers: the endpoint does not price this traffic (`:batch` always answers
  this way, as do per-request priced media models).
Either becomes a NULL price ("unknown"), never a price of 0. One price at 0 and the other not is a
real price (embeddings have no output, image models no priced input).

The body names no model (providers and endpoints only, as on 2026-08-08), so the one identity check
is on its URL: after any redirect it must still ask for the model-variant we asked for.

Each of ``providerSummaries`` names an endpoint that served the traffic (``endpointId``), its
provider (``providerSlug``: one provider may have several endpoints, regions or tiers, each with its
own ``providerName``), what its traffic paid ($/M, the same two prices) with its cache hit rate, and
its tokens in the range. They are kept as they are (``provider_summaries``); a value that is not one
is None and a problem, a summary that names no endpoint or provider is left out with a problem.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime
from typing import Any

from orstats_crawler import normalize
from orstats_crawler.items import EffectivePrice, SourceProblem
from orstats_crawler.sources import SourceError, check_asked, envelope, load_json, require, rows_of

SOURCE = "effective"
PATH = "/api/frontend/v1/stats/effective-pricing"
PRICED, ZERO, NO_DATA = "priced", "zero", "no_data"
# A provider summary as the item and the history keep it: our name -> the source's.
PROVIDER_KEYS = {"endpoint_id": "endpointId", "provider_slug": "providerSlug", "provider_name": "providerName"}
PROVIDER_RATES = {"effective_input_price": "effectiveInputPrice", "effective_output_price": "effectiveOutputPrice",
                  "cache_hit_rate": "cacheHitRate"}
PROVIDER_FIELDS = (*PROVIDER_KEYS, *PROVIDER_RATES, "total_tokens")


def decode_effective(body: bytes | str, url: str, permaslug: str, variant: str,
                     fetched_at: datetime | None = None) -> EffectivePrice:
    check_asked(url, permaslug, variant, SOURCE)
    data = envelope(load_json(body, SOURCE, url), SOURCE, url, "data")
    if not isinstance(data, dict):
        raise SourceError(SOURCE, url, "data", "expected an object")
    input_price = _rate(data, "weightedInputPrice", url)
    output_price = _rate(data, "weightedOutputPrice", url)
    cache_hit_rate = _rate(data, "weightedCacheHitRate", url)
    providers = rows_of(require(data, "providerSummaries", SOURCE, url), SOURCE, url, "data.providerSummaries")
    if input_price or output_price:
        status = PRICED
    else:
        status = ZERO if providers else NO_DATA
    priced = status == PRICED
    summaries, problems = provider_summaries(providers, url, permaslug, variant)
    return EffectivePrice(
        permaslug=permaslug,
        variant=variant,
        weighted_input_price=input_price if priced else None,
        weighted_output_price=output_price if priced else None,
        cache_hit_rate=cache_hit_rate if priced else None,
        providers=len(providers),
        provider_tokens=_provider_tokens(providers),
        status=status,
        source_url=url,
        fetched_at=fetched_at,
        provider_summaries=summaries,
        problems=problems,
    )


def provider_summaries(providers: list[Any], url: str, permaslug: str,
                       variant: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each provider summary with our field names, and the problems found in them (as dicts)."""
    summaries, problems = [], []

    def keep_problem(field: str, message: str) -> None:
        problems.append(asdict(SourceProblem(SOURCE, url, field, message, permaslug=permaslug, variant=variant)))

    for index, raw in enumerate(providers):
        where = f"data.providerSummaries[{index}]"
        if not isinstance(raw, dict):
            keep_problem(where, f"{raw!r} is not an object: provider summary left out")
            continue
        summary: dict[str, Any] = {}
        for name, key in PROVIDER_KEYS.items():
            value = raw.get(key)
            summary[name] = value if isinstance(value, str) and value else None
        if summary["endpoint_id"] is None or summary["provider_slug"] is None:
            keep_problem(where, "names no endpointId or providerSlug: provider summary left out")
            continue
        for name, key in PROVIDER_RATES.items():
            value = raw.get(key)
            number = normalize.finite_number(value)
            summary[name] = number if number is not None and number >= 0 else None
            if summary[name] is None and value is not None:
                keep_problem(f"{where}.{key}", f"{value!r} is not a non-negative number; treated as unknown")
        try:
            summary["total_tokens"] = normalize.optional_count(raw.get("totalTokens"))
        except ValueError as exc:
            keep_problem(f"{where}.totalTokens", f"{exc}; treated as unknown")
            summary["total_tokens"] = None
        summaries.append(summary)
    return summaries, problems


def _rate(data: dict[str, Any], key: str, url: str) -> float:
    value = require(data, key, SOURCE, url)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SourceError(SOURCE, url, f"data.{key}", f"{value!r} is not a non-negative number")
    return float(value)


def _provider_tokens(providers: list[Any]) -> int | None:
    """Tokens the providers served in the range (None when any provider does not say, or says
    something that is not a count)."""
    try:
        return normalize.count(sum(normalize.count(p.get("totalTokens") if isinstance(p, dict) else None)
                                   for p in providers))
    except ValueError:
        return None
