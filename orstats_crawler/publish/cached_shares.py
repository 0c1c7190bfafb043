"""The cached share of a row whose split is not measured: imputed from its nearest measured kin (its
model's other variants, its family, its author, else the week), with the band of the measured shares."""

from __future__ import annotations

from typing import Any

from orstats_crawler.pricing import author_of


def cached_share(row: dict[str, Any]) -> float | None:
    """The share of a measured row's prompt tokens read from cache."""
    if not row["split_source"] or not row["prompt_tokens"]:
        return None
    return row["cached_tokens"] / row["prompt_tokens"]


def family_of(permaslug: str) -> str:
    """A model's family: its author and the words of its name without versions or dates
    (`anthropic/claude-4.6-sonnet-20260217` -> `anthropic/claude-sonnet`)."""
    name = permaslug.partition("/")[2]
    return author_of(permaslug) + "/" + "-".join(word for word in name.split("-") if not any(c.isdigit() for c in word))


def impute_cached_shares(rows: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """Give every unmeasured row the cached share of its nearest measured kin (its own model's other
    variants, its family, its author, else the week's prompt-weighted median share), noting which in
    ``cached_share_from``; return the 10th and 90th percentile of the measured shares (the band)."""
    measured = [(r, share) for r, share in ((r, cached_share(r)) for r in rows) if share is not None]
    groups = kin_groups([r for r, _ in measured])
    week = weighted_median([(share, r["prompt_tokens"]) for r, share in measured])
    for r in rows:
        imputed = (None, None)
        if not r["split_source"] and r["prompt_tokens"] is not None:
            imputed = nearest_share(r, groups, week)
        r["cached_share_imputed"], r["cached_share_from"] = imputed
    shares = sorted(share for _, share in measured)
    if not shares:
        return None, None
    return percentile(shares, 0.10), percentile(shares, 0.90)


def kin_groups(measured: list[dict[str, Any]]) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(cached, prompt) tokens of the measured rows, by each group of kin they belong to."""
    groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in measured:
        for level, group in kin(r["permaslug"]):
            groups.setdefault((level, group), []).append((r["cached_tokens"], r["prompt_tokens"]))
    return groups


def nearest_share(row: dict[str, Any], groups: dict[tuple[str, str], list[tuple[int, int]]],
                  week: float | None) -> tuple[float | None, str | None]:
    """(share, level) of the row's nearest measured kin, pooled; else the week's share."""
    for level, group in kin(row["permaslug"]):
        pairs = groups.get((level, group))
        if pairs:
            return sum(c for c, _ in pairs) / sum(p for _, p in pairs), level
    return (week, "week") if week is not None else (None, None)


def kin(permaslug: str) -> list[tuple[str, str]]:
    """The groups a model-variant's cached share is imputed from, nearest first."""
    return [("model", permaslug), ("family", family_of(permaslug)), ("author", author_of(permaslug))]


def weighted_median(pairs: list[tuple[float, int]]) -> float | None:
    """The value at half of the total weight (values sorted)."""
    total = sum(weight for _, weight in pairs)
    if not total:
        return None
    seen = 0
    for value, weight in sorted(pairs):
        seen += weight
        if seen >= total / 2:
            return value
    return None  # not reached: the weights sum to total


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks of sorted ``values``."""
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)
