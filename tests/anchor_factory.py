"""Weekly files of the earlier project (the layout of ../shared/anchor-history/README.md), from figures we choose.

Used by the import tests and to (re)generate the sample that ships in `demo/anchor-history-sample/`:

    python -m tests.anchor_factory demo/anchor-history-sample

The files keep that project's defects, since recognising them is what an import must do: the seed
formula counts cached tokens twice, a `:free` row may carry its paid twin's prices, a run may publish
every split as 0. Nothing here is copied from those files: every figure comes from tests/factory.py.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.factory import SEED_DAY, SEED_MODELS, ModelSpec, monday_of, scaled, trend, usd

# The earlier project looked prices up without the variant, so a `:free` row could get the price of
# the model's paid variant. The seed week ranks no paid twin of its free model: this one is ours.
PAID_TWIN = replace(SEED_MODELS[-1], public_id="arcee-ai/trinity-large-preview", variant="standard",
                    name="Arcee AI: Trinity Large Preview", pricing={"prompt": usd(2.5e-07), "completion": usd(1e-06)})


def price_of(model: ModelSpec, key: str, fallback: float = 0.0) -> float:
    return float(model.pricing.get(key, fallback))


def seed_usd(row: dict[str, Any]) -> float:
    """The earlier project's formula (cached tokens charged twice: they are part of prompt tokens)."""
    return (row["prompt_tokens"] * row["prompt_price"] + row["completion_tokens"] * row["completion_price"]
            + row["cached_tokens"] * row["cache_read_price"])


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def anchor_row(model: ModelSpec, rank: int, priced: ModelSpec, zero: bool) -> dict[str, Any]:
    """One `models` entry; ``priced`` is the model whose prices the row carries."""
    row = {
        "rank": rank, "slug": model.permaslug + ("" if model.variant == "standard" else f":{model.variant}"),
        "name": model.name, "total_tokens": model.total, "percent_change": round((model.change or 0) * 100),
        "prompt_tokens": model.prompt, "completion_tokens": model.completion,
        "reasoning_tokens": model.reasoning, "cached_tokens": model.cached, "request_count": model.requests,
    }
    if zero:
        row.update(prompt_tokens=0, completion_tokens=0, reasoning_tokens=0, cached_tokens=0, request_count=0)
    split = row["prompt_tokens"] + row["completion_tokens"]
    row.update(prompt_ratio=_ratio(row["prompt_tokens"], split),
               completion_ratio=_ratio(row["completion_tokens"], split),
               reasoning_ratio=_ratio(row["reasoning_tokens"], split))
    row.update(prompt_price=price_of(priced, "prompt"), completion_price=price_of(priced, "completion"),
               reasoning_price=price_of(priced, "completion"), cache_read_price=price_of(priced, "input_cache_read"))
    row["estimated_revenue"] = round(seed_usd(row), 2)
    row["is_free"] = row["prompt_price"] == 0 and row["completion_price"] == 0
    return row


def anchor_file(day: date, models: list[ModelSpec] = SEED_MODELS, free_priced_as: ModelSpec | None = None,
                zero: bool = False) -> dict[str, Any]:
    """A weekly file in the earlier project's shape. ``free_priced_as`` puts that model's paid prices
    on the `:free` rows (its price lookup ignored the variant); ``zero`` writes every split as 0 (its
    model pages failed) while the volumes stay real. Ranked by volume, listed by revenue, as it did;
    `total_revenue` is the seed formula over every row, `:free` ones included, rounded once."""
    ranks = {id(m): rank for rank, m in enumerate(sorted(models, key=lambda m: -m.total), start=1)}
    rows = [anchor_row(m, ranks[id(m)], free_priced_as if m.variant == "free" and free_priced_as else m, zero)
            for m in models]
    rows.sort(key=lambda r: (-r["estimated_revenue"], r["rank"]))
    free = sum(1 for r in rows if r["is_free"])
    return {"date": day.isoformat(), "models": rows,
            "total_revenue": round(sum(seed_usd(r) for r in rows), 2),
            "total_tokens": sum(r["total_tokens"] for r in rows), "total_models": len(rows),
            "paid_models": len(rows) - free, "free_models": free,
            "token_breakdown": {key: sum(r[key] for r in rows) for key in
                                ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens")}}


def write(folder: Path, payload: dict[str, Any]) -> Path:
    """``<folder>/<date>.json``, indented as the earlier project wrote it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{payload['date']}.json"
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path


def week_monday(day: date) -> date:
    """The Monday week a file stands for: a Sunday file's week ends that day, a Monday file's the day before."""
    return monday_of(day - timedelta(days=1))


def sample_week(day: date, **defects: Any) -> dict[str, Any]:
    """The seed models in the week of ``day``, their volume following the factory's weekly trend."""
    factor = trend(week_monday(day), reference=SEED_DAY - timedelta(days=7))  # the seed's own week is 1
    return anchor_file(day, [scaled(m, factor) for m in SEED_MODELS], **defects)


# The sample: backfilled Sunday files up to the seed week (its 2026-02-08 file is the seed week
# itself), then Monday runs, one with paid prices on its :free row, the last with every split 0.
SAMPLE = [(date(2026, 1, 25), {}), (date(2026, 2, 1), {}), (date(2026, 2, 8), {}),
          (date(2026, 2, 16), {"free_priced_as": PAID_TWIN}), (date(2026, 2, 23), {}),
          (date(2026, 5, 4), {}), (date(2026, 5, 11), {"zero": True})]


SAMPLE_FOLDER = "demo/anchor-history-sample"


def build_anchor_sample(folder: str | Path) -> list[Path]:
    return [write(Path(folder), sample_week(day, **defects)) for day, defects in SAMPLE]


if __name__ == "__main__":
    build_anchor_sample(sys.argv[1] if len(sys.argv) > 1 else SAMPLE_FOLDER)
