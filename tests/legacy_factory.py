"""Build legacy-era pages (server-rendered, data in React-flight chunks) in the real shapes.

- ``encode_flight(payload, chunk_size, escape)`` writes a flight payload as a page's
  `self.__next_f.push([1,"..."])` scripts: cut every ``chunk_size`` characters (mid-row, mid-string,
  mid-number), each cut a JS string literal, the characters in ``escape`` written as `\\uXXXX`
  (Next.js writes `<` as `\\u003c`);
- ``rankings_page(spec)`` the `/rankings` page of a week (rankingData with or without the split,
  the 52-week chart with its `forecast`, an author chart and the decoy series a real page has);
- ``model_page(model, captured)`` a model page: `{"model": {...}, "analytics": [~90 daily rows]}`;
- ``build_legacy_snapshot(folder, spec)`` a snapshot of the legacy site: the page, the catalogue,
  the model pages at `/<public id>`, and no JSON leaderboard (it answers 404, as it did then).

The figures come from tests/factory.py (the seed README's week); nothing is copied from a capture.
The legacy sample that ships in `demo/` is made here:

    python -m tests.legacy_factory demo/snapshot-legacy-2025-11-08
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.factory import (BASE_URL, ModelSpec, SnapshotSpec, _chart_key, catalogue, chart, daily_rows,
                           leaderboard)

# What a real page carries around its data: module references, a font hint, a text row.
MODULE_ROW = 'I[40385,["95486","static/chunks/00719cef.js"],"default"]'
HINT_ROW = ':HL["/_next/static/media/5b01f339.p.woff2","font",{"crossOrigin":"","type":"font/woff2"}]'
TEXT_BODY = "M165.9 397.4c0 2-2.3 3.6-5.2 3.6\n1f:not a row, inside a text row"


def encode_flight(payload: str, chunk_size: int | None = None, escape: str = "<") -> str:
    """An HTML page whose flight chunks hold ``payload``."""
    size = chunk_size or len(payload) or 1
    scripts = ['<script>(self.__next_f=self.__next_f||[]).push([0])</script>']
    for start in range(0, len(payload), size):
        literal = json.dumps(payload[start:start + size], ensure_ascii=False)
        for char in escape:
            literal = literal.replace(char, f"\\u{ord(char):04x}")
        scripts.append(f"<script>self.__next_f.push([1,{literal}])</script>")
    return ('<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/></head><body>'
            '<div id="__next">LLM Rankings | OpenRouter</div>' + "".join(scripts) + "</body></html>")


def flight_payload(rows: list[tuple[str, Any]]) -> str:
    """`<id>:<row>\\n` for each row: JSON values are serialized, strings written as they are."""
    lines = []
    for row_id, value in rows:
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        lines.append(f"{row_id}:{text}\n")
    return "".join(lines)


def _element(ref: str, props: dict[str, Any]) -> list[Any]:
    return ["$", ref, None, props]


def legacy_leaderboard_rows(spec: SnapshotSpec, with_split: bool = True) -> list[dict[str, Any]]:
    """The JSON leaderboard's rows; the legacy page carried the real cached and reasoning figures."""
    rows = leaderboard(spec)["data"]
    if with_split:
        for row, model in zip(rows, spec.models):
            row["total_native_tokens_cached"] = model.cached
            row["total_native_tokens_reasoning"] = model.reasoning
    return rows


def _series(first: date, step_days: int, points: int, keys: list[str], scale: int,
            timestamp: bool = False) -> list[dict[str, Any]]:
    out = []
    for i in range(points):
        day = first + timedelta(days=step_days * i)
        x = f"{day.isoformat()}T00:00:00+00:00" if timestamp else day.isoformat()
        out.append({"x": x, "ys": {key: scale * (i + 1) + 7 * j for j, key in enumerate(keys)}})
    return out


def rankings_page_rows(spec: SnapshotSpec, with_split: bool = True) -> list[tuple[str, Any]]:
    """The page's flight rows: markup and decoys around the leaderboard and the weekly chart."""
    models = [_chart_key(m) for m in spec.models[:9]]
    authors = sorted({m.permaslug.split("/")[0] for m in spec.models})
    weekly = chart(spec)["data"]["data"]
    monday = spec.captured - timedelta(days=spec.captured.weekday())
    return [
        ("1", '"$Sreact.fragment"'),
        ("2", MODULE_ROW + "\n" + HINT_ROW),
        ("3a", "T" + format(len(TEXT_BODY.encode()), "x") + "," + TEXT_BODY),
        ("0", {"P": None, "b": "build", "c": ["", "rankings"], "i": False}),
        ("35", _element("section", {"className": "main-content", "children": [
            _element("$L3e", {}), _element("p", {"children": "Tokens <b>processed</b> on OpenRouter"})]})),
        # The weekly top-model chart: 52 Mondays and a forecast of the partial week.
        ("4e", _element("$L58", {"data": weekly, "forecast": "forecast-1w"})),
        ("4f", _element("$L59", {"rankingData": legacy_leaderboard_rows(spec, with_split), "rankingType": "week"})),
        # The author chart (weekly, on Sundays) and decoys in the chart's own x/ys shape.
        ("50", _element("$L5a", {"data": _series(monday - timedelta(weeks=52, days=1), 7, 53, authors, 10**9)})),
        ("51", _element("$L5b", {"data": _series(monday - timedelta(weeks=14), 7, 15, models, 10**11,
                                                  timestamp=True)})),
        ("52", _element("$L5b", {"data": _series(spec.captured - timedelta(days=25), 1, 26, models, 10**10)})),
        ("54", _element("$L5b", {"data": _series(monday - timedelta(weeks=12), 7, 13, models, 10**6)})),
        ("56", _element("$L5c", {"rankMap": {"day": [{"app_id": 1, "total_tokens": "120975792143"}]}})),
    ]


def rankings_page(spec: SnapshotSpec, with_split: bool = True, chunk_size: int | None = 997,
                  escape: str = "<") -> str:
    return encode_flight(flight_payload(rankings_page_rows(spec, with_split)), chunk_size, escape)


def model_object(model: ModelSpec) -> dict[str, Any]:
    """The page's `model`, in the frontend's shape (the fields a decoder may look at, and some it must not need)."""
    author = model.permaslug.split("/")[0]
    return {"slug": model.public_id.partition(":")[0], "permaslug": model.permaslug, "name": model.name,
            "short_name": model.name.partition(": ")[2] or model.name, "author": author,
            "context_length": 200000, "input_modalities": ["text"], "output_modalities": ["text"],
            "group": "Other", "description": f"{model.name}. A <b>model</b>."}


def model_page_rows(model: ModelSpec, captured: date, history_days: int = 90,
                    related: ModelSpec | None = None) -> list[tuple[str, Any]]:
    rows = [
        ("1", '"$Sreact.fragment"'),
        ("2", MODULE_ROW),
        ("0", {"P": None, "b": "build", "c": ["", model.public_id], "i": False}),
        ("4a", _element("$L60", {"model": model_object(model), "analytics": daily_rows(model, captured, history_days),
                                 "isFree": model.variant == "free"})),
    ]
    if related is not None:  # a panel of another model, in the same shape, that must not be mixed in
        rows.append(("4b", _element("$L61", {"model": model_object(related),
                                             "analytics": daily_rows(related, captured, 7)})))
    return rows


def model_page(model: ModelSpec, captured: date, history_days: int = 90, chunk_size: int | None = 613,
               related: ModelSpec | None = None) -> str:
    return encode_flight(flight_payload(model_page_rows(model, captured, history_days, related)), chunk_size)


def build_legacy_snapshot(folder: str | Path, spec: SnapshotSpec | None = None, with_split: bool = True,
                          model_pages: bool = True, history_days: int = 90) -> Path:
    """A snapshot of the legacy site (see the module docstring). Without the split in the
    leaderboard, each model-variant's page is served at `/<public id>`."""
    spec = spec or SnapshotSpec()
    folder = Path(folder)
    bodies: list[tuple[str, str, str, bytes]] = [
        (f"{BASE_URL}/api/v1/models", "api/v1/models.json", "application/json",
         json.dumps(catalogue(spec), separators=(",", ":")).encode()),
        (f"{BASE_URL}/rankings", "rankings.html", "text/html; charset=utf-8",
         rankings_page(spec, with_split).encode()),
    ]
    if model_pages:
        for model in spec.models:
            if model.activity == "missing":
                continue
            bodies.append((f"{BASE_URL}/{model.public_id}", f"models/{model.public_id.replace(':', '__')}.html",
                           "text/html; charset=utf-8", model_page(model, spec.captured, history_days).encode()))
    entries = []
    for url, relative, content_type, body in bodies:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        entries.append({"url": url, "file": relative, "status": 200, "content_type": content_type,
                        "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                        "source": "generated by tests/legacy_factory.py"})
    manifest = {"snapshot": f"legacy-{spec.name}", "captured": spec.captured.isoformat(), "base_url": BASE_URL,
                "notes": "Synthetic legacy-era site: server-rendered pages with flight data.", "entries": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return folder


# The sample: the week of the real 2025-11-07 page (2025-11-01..07) with the seed week's models and
# figures (unchanged, so its chart agrees with the demo snapshot's on the weeks both show), and what
# that capture lacks: the price catalogue. Its page leaves the split out, so the model pages give it.
LEGACY_SAMPLE = SnapshotSpec(captured=date(2025, 11, 8), name="demo-2025-11-08")
LEGACY_SAMPLE_FOLDER = "demo/snapshot-legacy-2025-11-08"


def build_legacy_sample(folder: str | Path) -> Path:
    return build_legacy_snapshot(folder, LEGACY_SAMPLE, with_split=False)


if __name__ == "__main__":
    build_legacy_sample(sys.argv[1] if len(sys.argv) > 1 else LEGACY_SAMPLE_FOLDER)
