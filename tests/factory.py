"""Build snapshot folders in the real shapes (../shared/captures layout), from figures we choose.

Used by the tests, by the benchmarks and to (re)generate the demo snapshot that ships in
`demo/snapshot-2026-02-09/` (the seed README's week: its ten models, prices and token splits):

    python -m tests.factory demo/snapshot-2026-02-09

Nothing here is copied from a capture: every body is written by this code.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

BASE_URL = "https://openrouter.ai"
SEED_DAY = date(2026, 2, 9)  # the seed README's run day: its window is 2026-02-02 .. 2026-02-08
DEMO_FOLDER = "demo/snapshot-2026-02-09"


@dataclass
class ModelSpec:
    """One model-variant's week: its catalogue entry and its token split over the 7-day window."""

    permaslug: str
    public_id: str
    name: str  # as the catalogue writes it: "Author: Name"
    pricing: dict[str, str]  # decimal strings, USD per token
    prompt: int
    completion: int
    cached: int
    reasoning: int
    requests: int
    change: float | None = None  # week over week, as a fraction
    variant: str = "standard"
    in_catalogue: bool = True
    activity: str = "ok"  # ok | missing (404) | empty (no rows)
    # effective-pricing: (input $/M, output $/M, cache-hit rate); None = derived from the list price
    effective: tuple[float, float, float] | None = None

    @property
    def total(self) -> int:
        return self.prompt + self.completion


def usd(value: float) -> str:
    """A USD-per-token price as the catalogue writes it (a plain decimal string)."""
    return format(value, ".10f").rstrip("0").rstrip(".") or "0"


def _seed(permaslug: str, public_id: str, name: str, prices: tuple[float, float, float], prompt: int,
          completion: int, cached: int, reasoning: int, requests: int, change: int,
          variant: str = "standard") -> ModelSpec:
    prompt_price, completion_price, cache_read = prices
    pricing = {"prompt": usd(prompt_price), "completion": usd(completion_price)}
    if cache_read:
        pricing["input_cache_read"] = usd(cache_read)
    return ModelSpec(permaslug, public_id, name, pricing, prompt, completion, cached, reasoning, requests,
                     change / 100, variant)


# The seed README's week (2026-02-02 .. 2026-02-08): its ten models with their published figures.
SEED_MODELS = [
    _seed("anthropic/claude-4.5-sonnet-20250929", "anthropic/claude-sonnet-4.5", "Anthropic: Claude Sonnet 4.5",
          (3e-06, 1.5e-05, 3e-07), 693492831109, 12153926465, 448382174257, 628515747, 21273143, -9),
    _seed("anthropic/claude-4.5-opus-20251124", "anthropic/claude-opus-4.5", "Anthropic: Claude Opus 4.5",
          (5e-06, 2.5e-05, 5e-07), 364474599104, 5391367196, 248899987883, 382364908, 9479761, -2),
    _seed("moonshotai/kimi-k2.5-0127", "moonshotai/kimi-k2.5", "MoonshotAI: Kimi K2.5 0127",
          (4.5e-07, 2.25e-06, 7e-08), 1145015189010, 13978699816, 950187923463, 6783915074, 20352764, 222),
    _seed("google/gemini-3-flash-preview-20251217", "google/gemini-3-flash-preview", "Google: Gemini 3 Flash Preview",
          (5e-07, 3e-06, 5e-08), 734615917375, 29350544796, 387472908296, 4435343613, 77638613, 11),
    _seed("google/gemini-2.5-flash", "google/gemini-2.5-flash", "Google: Gemini 2.5 Flash",
          (3e-07, 2.5e-06, 3e-08), 393654648812, 35953117925, 118385546752, 3746614910, 107757954, 6),
    _seed("deepseek/deepseek-v3.2-20251201", "deepseek/deepseek-v3.2", "DeepSeek: Deepseek V3.2",
          (2.5e-07, 3.8e-07, 1.25e-07), 637061236357, 27781048758, 265111254058, 4777045663, 67692774, 31),
    _seed("minimax/minimax-m2.1", "minimax/minimax-m2.1", "MiniMax: Minimax M2.1",
          (2.7e-07, 9.5e-07, 3e-08), 436307457489, 5545645668, 349074536461, 2222301193, 9225403, 88),
    _seed("x-ai/grok-4.1-fast", "x-ai/grok-4.1-fast", "xAI: Grok 4.1 Fast",
          (2e-07, 5e-07, 5e-08), 298626736964, 46243769192, 94805792914, 32723706778, 54699212, 9),
    _seed("google/gemini-2.5-flash-lite", "google/gemini-2.5-flash-lite", "Google: Gemini 2.5 Flash Lite",
          (1e-07, 4e-07, 1e-08), 309316031814, 34370470918, 66037117483, 1805517010, 117690819, 16),
    _seed("arcee-ai/trinity-large-preview", "arcee-ai/trinity-large-preview:free",
          "Arcee AI: Trinity Large Preview (free)", (0.0, 0.0, 0.0), 336476044003, 6581539681, 0, 0, 20550250,
          226, variant="free"),
]

# Catalogue entries that rank nowhere but make the catalogue realistic: a :batch twin at half
# price, a router with the "-1" non-price.
CATALOGUE_EXTRAS = [
    {"id": "anthropic/claude-sonnet-4.5:batch", "canonical_slug": "anthropic/claude-4.5-sonnet-20250929",
     "name": "Anthropic: Claude Sonnet 4.5 (batch)",
     "pricing": {"prompt": "0.0000015", "completion": "0.0000075", "input_cache_read": "0.00000015"}},
    {"id": "openrouter/auto", "canonical_slug": "openrouter/auto", "name": "Auto Router",
     "pricing": {"prompt": "-1", "completion": "-1"}},
]


@dataclass
class SnapshotSpec:
    models: list[ModelSpec] = field(default_factory=lambda: list(SEED_MODELS))
    captured: date = SEED_DAY
    history_days: int = 31  # model-activity rows per model, today's partial day included
    chart_weeks: int = 52
    catalogue_extras: list[dict[str, Any]] = field(default_factory=lambda: list(CATALOGUE_EXTRAS))
    name: str = "demo-2026-02-09"
    with_chart: bool = True
    with_leaderboard: bool = True
    with_all_modalities: bool = True


def _ms(day: date, hour: int = 6) -> int:
    return int(datetime.combine(day, time(hour), tzinfo=timezone.utc).timestamp() * 1000)


def spread(total: int, weights: list[float]) -> list[int]:
    """Split an integer total over weights exactly (largest remainder)."""
    raw = [total * w / sum(weights) for w in weights]
    parts = [math.floor(r) for r in raw]
    for index in sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)[: total - sum(parts)]:
        parts[index] += 1
    return parts


def daily_rows(model: ModelSpec, captured: date, history_days: int) -> list[dict[str, Any]]:
    """Daily model-activity rows, newest first: the 7 window days sum exactly to the model's week,
    earlier weeks shrink by its week-over-week change, today's partial day is about 40 % of a day."""
    window = [captured - timedelta(days=d) for d in range(7, 0, -1)]
    weights = [1.0 + 0.12 * math.sin(i + len(model.permaslug)) for i in range(7)]
    fields = ("prompt", "completion", "cached", "reasoning", "requests")
    per_day = {f: spread(getattr(model, f), weights) for f in fields}
    rows = []
    for offset in range(history_days):
        day = captured - timedelta(days=offset)
        if day in window:
            values = {f: per_day[f][window.index(day)] for f in fields}
        else:
            weeks_back = max(0, (window[0] - day).days - 1) // 7 + 1 if day < window[0] else 0
            scale = 0.4 if day == captured else (1 / (1 + (model.change or 0))) ** weeks_back
            values = {f: int(getattr(model, f) / 7 * scale) for f in fields}
            values["cached"] = min(values["cached"], values["prompt"])
            values["reasoning"] = min(values["reasoning"], values["completion"])
        rows.append(_activity_row(model, day, values))
    return rows


def _activity_row(model: ModelSpec, day: date, v: dict[str, int]) -> dict[str, Any]:
    return {
        "date": f"{day.isoformat()} 00:00:00",
        "model_permaslug": model.permaslug,
        "variant": model.variant,
        "total_completion_tokens": v["completion"],
        "total_prompt_tokens": v["prompt"],
        "total_native_tokens_reasoning": v["reasoning"],
        "count": v["requests"],
        "num_media_prompt": 0,
        "num_media_completion": 0,
        "num_audio_prompt": 0,
        "total_native_tokens_cached": v["cached"],
        "total_tool_calls": v["requests"] // 5,
        "requests_with_tool_call_errors": 0,
        "variant_permaslug": model.permaslug + ("" if model.variant == "standard" else f":{model.variant}"),
    }


def catalogue(spec: SnapshotSpec) -> dict[str, Any]:
    entries = []
    for model in spec.models:
        if not model.in_catalogue:
            continue
        entries.append({
            "id": model.public_id, "canonical_slug": model.permaslug, "hugging_face_id": None,
            "name": model.name, "created": 1735689600, "description": f"{model.name}.",
            "context_length": 200000,
            "architecture": {"modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"],
                             "tokenizer": "Other", "instruct_type": None},
            "pricing": dict(model.pricing),
        })
    entries.extend(spec.catalogue_extras)
    return {"data": entries, "links": {"next": None}, "total_count": len(entries)}


# What `?output_modalities=all` adds to the text catalogue: models whose output is not text.
MEDIA_MODELS = [
    {"id": "google/gemini-2.5-flash-image", "canonical_slug": "google/gemini-2.5-flash-image",
     "name": "Google: Gemini 2.5 Flash Image",
     "architecture": {"modality": "text+image->text+image", "input_modalities": ["text", "image"],
                      "output_modalities": ["image", "text"], "tokenizer": "Gemini", "instruct_type": None},
     "pricing": {"prompt": "0.0000003", "completion": "0.0000025", "image": "0.001238", "image_output": "0.00003"}},
]


def all_modalities_catalogue(spec: SnapshotSpec) -> dict[str, Any]:
    """The catalogue as `/api/v1/models?output_modalities=all` answers: text models plus media ones."""
    text = catalogue(spec)
    entries = text["data"] + MEDIA_MODELS
    return {"data": entries, "links": {"next": None}, "total_count": len(entries)}


def leaderboard(spec: SnapshotSpec) -> dict[str, Any]:
    yesterday = spec.captured - timedelta(days=1)
    rows = []
    for model in spec.models:
        row = _activity_row(model, yesterday, {"prompt": model.prompt, "completion": model.completion,
                                               "cached": 0, "reasoning": 0, "requests": model.requests})
        row["total_native_tokens_cached"] = row["total_native_tokens_reasoning"] = row["total_tool_calls"] = 0
        row["change"] = model.change
        rows.append(row)
    return {"data": rows}


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


SEED_MONDAY = monday_of(SEED_DAY)  # the run day's Monday: the seed chart's last, partial week
PREVIOUS_WEEK_SHARE = 0.985  # each week's volume is 98.5 % of the next one's, in these figures


def weeks_between(monday: date, reference: date) -> int:
    return (reference - monday).days // 7


def trend(monday: date, reference: date = SEED_MONDAY) -> float:
    """The volume of the Monday week ``monday`` relative to that of the week of ``reference``."""
    return PREVIOUS_WEEK_SHARE ** weeks_between(monday, reference)


def scaled(model: ModelSpec, factor: float) -> ModelSpec:
    """The model's week with every count multiplied by ``factor`` (rounded; cached <= prompt stays true)."""
    counts = ("prompt", "completion", "cached", "reasoning", "requests")
    return replace(model, **{name: round(getattr(model, name) * factor) for name in counts})


def chart(spec: SnapshotSpec) -> dict[str, Any]:
    """52 Monday weeks, the last one partial; top 9 model-variants by volume plus Others.

    A finished week's values depend on its Monday, not on the capture day (as on the site, where a
    finished week does not change): snapshots captured weeks apart agree on the weeks they share."""
    monday = monday_of(spec.captured)
    top = sorted(spec.models, key=lambda m: -m.total)[:9]
    weeks = []
    for back in range(spec.chart_weeks - 1, -1, -1):
        start = monday - timedelta(weeks=back)
        age = weeks_between(start, SEED_MONDAY)
        growth = trend(start) * (0.3 if back == 0 else 1.0)
        ys = {_chart_key(m): int(m.total * growth * (1 + 0.03 * math.cos(age + i))) for i, m in enumerate(top)}
        ys["Others"] = int(sum(ys.values()) * 1.4)
        weeks.append({"x": start.isoformat(), "ys": ys})
    return {"data": {"data": weeks, "cachedAt": _ms(spec.captured)}}


def _chart_key(model: ModelSpec) -> str:
    return model.permaslug + ("" if model.variant == "standard" else f":{model.variant}")


# What traffic pays on top of the cache-discounted list price (cache writes, pricier providers):
# the figure this factory chooses for derived effective prices.
EFFECTIVE_INPUT_MARKUP = 1.1


def effective_prices(model: ModelSpec) -> tuple[float, float, float]:
    """(input $/M per total prompt token, output $/M, cache-hit rate) of a model-variant's traffic;
    0, 0, 0 for :free and :batch, as the site answers for them."""
    if model.effective is not None:
        return model.effective
    if model.variant in ("free", "batch") or not model.prompt:
        return 0.0, 0.0, 0.0
    prompt = float(model.pricing["prompt"])
    cache_read = float(model.pricing.get("input_cache_read", model.pricing["prompt"]))
    blended = ((model.prompt - model.cached) * prompt + model.cached * cache_read) / model.prompt
    return blended * 1e6 * EFFECTIVE_INPUT_MARKUP, float(model.pricing["completion"]) * 1e6, model.cached / model.prompt


def effective_pricing(model: ModelSpec) -> dict[str, Any]:
    """The effective-pricing body of a model-variant, in the site's shape (one provider)."""
    input_price, output_price, hit_rate = effective_prices(model)
    endpoint = hashlib.sha256(model.public_id.encode()).hexdigest()[:32]
    provider = model.public_id.split("/")[0]
    return {"data": {
        "weightedInputPrice": input_price, "weightedOutputPrice": output_price, "weightedCacheHitRate": hit_rate,
        "providerSummaries": [{"endpointId": endpoint, "providerName": provider, "providerSlug": provider,
                               "effectiveInputPrice": input_price, "effectiveOutputPrice": output_price,
                               "cacheHitRate": hit_rate, "totalTokens": model.total}],
        "providerNames": [provider], "endpointNames": {endpoint: provider}, "endpointRawNames": {endpoint: provider},
        "endpointProviderSlugs": {endpoint: provider}, "inputChartData": [], "outputChartData": [],
    }}


def effective_url(model: ModelSpec) -> str:
    return f"{BASE_URL}/api/frontend/v1/stats/effective-pricing?" + urlencode(
        {"permaslug": model.permaslug, "variant": model.variant, "shape": "v7", "range": "1w"})


def activity_url(model: ModelSpec) -> str:
    return f"{BASE_URL}/api/frontend/v1/stats/model-activity?" + urlencode(
        {"permaslug": model.permaslug, "variant": model.variant})


def build_snapshot(folder: str | Path, spec: SnapshotSpec | None = None,
                   mutate: Callable[[str, Any], Any] | None = None) -> Path:
    """Write a snapshot folder with its manifest. ``mutate(url, payload)`` may return a changed
    payload (or raw bytes) for one URL, to build bad inputs in the real layout."""
    spec = spec or SnapshotSpec()
    folder = Path(folder)
    bodies: list[tuple[str, str, Any]] = [(f"{BASE_URL}/api/v1/models", "api/v1/models.json", catalogue(spec))]
    if spec.with_all_modalities:
        bodies.append((f"{BASE_URL}/api/v1/models?output_modalities=all", "api/v1/models@output_modalities=all.json",
                       all_modalities_catalogue(spec)))
    if spec.with_leaderboard:
        bodies.append((f"{BASE_URL}/api/frontend/v1/rankings/models?view=week",
                       "api/frontend/v1/rankings/models/week.json", leaderboard(spec)))
    if spec.with_chart:
        bodies.append((f"{BASE_URL}/api/frontend/v1/rankings/model-rankings-chart",
                       "api/frontend/v1/rankings/model-rankings-chart.json", chart(spec)))
    for model in spec.models:
        name = f"{model.permaslug.replace('/', '__')}__{model.variant}.json"
        bodies.append((effective_url(model), f"api/frontend/v1/stats/effective-pricing/{name}",
                       effective_pricing(model)))
        if model.activity == "missing":
            continue
        rows = [] if model.activity == "empty" else daily_rows(model, spec.captured, spec.history_days)
        bodies.append((activity_url(model), f"api/frontend/v1/stats/model-activity/{name}",
                       {"data": {"analytics": rows, "cachedAt": _ms(spec.captured)}}))
    entries = []
    for url, relative, payload in bodies:
        served = payload if mutate is None else mutate(url, payload)
        body = served if isinstance(served, bytes) else json.dumps(served, separators=(",", ":")).encode()
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        entries.append({"url": url, "file": relative, "status": 200, "content_type": "application/json",
                        "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                        "source": "generated by tests/factory.py"})
    manifest = {"snapshot": spec.name, "captured": spec.captured.isoformat(), "base_url": BASE_URL,
                "notes": "Synthetic snapshot in the real shapes; figures of the seed README's week.",
                "entries": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return folder


def expected_revenues(model: ModelSpec) -> tuple[float, float]:
    """(list, seed) revenue of a model's week, computed from its spec, independently of the history."""
    if model.variant == "free":
        return 0.0, 0.0
    p, c = float(model.pricing["prompt"]), float(model.pricing["completion"])
    r = float(model.pricing.get("input_cache_read", model.pricing["prompt"]))
    return ((model.prompt - model.cached) * p + model.cached * r + model.completion * c,
            model.prompt * p + model.completion * c + model.cached * r)


def expected_effective(model: ModelSpec) -> float:
    """revenue_effective_usd of a model's week, from the effective prices this factory publishes for it
    (0 for a free variant; no split needed, so the same whether its activity is fetched or not)."""
    if model.variant == "free":
        return 0.0
    input_price, output_price, _ = effective_prices(model)
    return (model.prompt * input_price + model.completion * output_price) / 1e6


def with_models(*changes: tuple[int, dict[str, Any]]) -> list[ModelSpec]:
    """The seed models with some replaced: ``with_models((0, {"activity": "missing"}))``."""
    models = list(SEED_MODELS)
    for index, fields in changes:
        models[index] = replace(models[index], **fields)
    return models


if __name__ == "__main__":
    build_snapshot(sys.argv[1] if len(sys.argv) > 1 else DEMO_FOLDER)
