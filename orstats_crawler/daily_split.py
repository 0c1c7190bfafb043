"""A model-variant's daily token split: the rules a day must pass to be used, and the week's split
summed over the days that passed. The pipelines apply the rules to the items (and keep a problem
for each day they drop), the split planner applies the same rules to the answers it plans from, and
both the planner and the week summary take the week's split from ``week_split``: the coverage the
planner stops at is the coverage the crawl stores.

A week's split is measured only when none of its days was dropped and each of its 7 days is there,
or the days that are there hold all the tokens the leaderboard counts for the week: the source
leaves out a day without traffic (a model launched during the week, a :batch variant used on two
days), and such a split is whole. Any other missing day makes the split unknown (imputed), never a
sum of fewer days.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterable

from orstats_crawler import normalize
from orstats_crawler.items import SPLIT


class DayError(ValueError):
    """A daily row that cannot be used: its day (None when the date itself is not one), the item
    field at fault and why."""

    def __init__(self, day: date | None, field: str, why: str):
        super().__init__(why)
        self.day, self.field, self.why = day, field, why


def typed_day(raw: dict[str, Any]) -> dict[str, Any]:
    """A daily row with its date as a UTC day and its split as counts (other fields as given);
    ``DayError`` when the date or a split count is not one."""
    try:
        day = {**raw, "date": normalize.utc_day(raw["date"])}
    except ValueError as exc:
        raise DayError(None, "date", str(exc)) from None
    for name in SPLIT:
        try:
            day[name] = normalize.count(raw[name])
        except ValueError as exc:
            raise DayError(day["date"], name, str(exc)) from None
    return day


def split_error(counts: dict[str, Any]) -> tuple[str, str] | None:
    """(item field, why) when a split is impossible: cached tokens above prompt tokens, which would
    make the uncached prompt negative. (Counts are never negative once normalized.)"""
    cached = counts.get("cached_tokens") or 0
    if cached > counts["prompt_tokens"]:
        return "cached_tokens", f"cached_tokens {cached} > prompt_tokens {counts['prompt_tokens']}"
    return None


def usable_days(raw_days: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[date | None]]:
    """The days that pass ``typed_day`` and ``split_error``, and the days of those that do not (None:
    a date that is not one), as the pipelines leave an item's ``days`` and ``dropped_days``."""
    days, dropped = [], []
    for raw in raw_days:
        try:
            day = typed_day(raw)
        except DayError as exc:
            dropped.append(exc.day)
            continue
        if split_error(day):
            dropped.append(day["date"])
        else:
            days.append(day)
    return days, dropped


def week_split(days: Iterable[dict[str, Any]], dropped: Iterable[date | None], start: date, end: date,
               week_tokens: int | None) -> dict[str, int | None] | None:
    """The split summed over the week ``start``..``end``; None (unknown) when one of its days (or a
    day of unknown date) is among ``dropped``, or one is not among ``days`` while those that are do
    not hold ``week_tokens`` (the leaderboard's prompt + completion tokens of the week). ``requests``
    is None when a day's count is unknown."""
    if any(day is None or start <= day <= end for day in dropped):
        return None  # a day of the week was dropped (days outside it change nothing)
    week = [d for d in days if start <= d["date"] <= end]
    total: dict[str, int | None] = {name: sum(d[name] for d in week) for name in SPLIT}
    every_day = {d["date"] for d in week} == {start + timedelta(days=n) for n in range((end - start).days + 1)}
    if not week or not (every_day or total["prompt_tokens"] + total["completion_tokens"] == week_tokens):
        return None  # a day of the week is missing, not merely without traffic
    requests = [d.get("requests") for d in week]
    total["requests"] = sum(requests) if None not in requests else None
    return total
