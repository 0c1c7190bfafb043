"""Which archived copies the `archive` spider fetches: per Monday week, the copy that best covers it.

- the leaderboard (`/rankings`, the trailing 7 complete days before it was computed): the first copy
  after the week's end, taken in the 7 days after it (a copy of the Monday after the week holds
  exactly that week; a later one the days after it too);
- each catalogue (`/api/v1/models`, with and without `output_modalities=all`): the latest copy
  inside the week (the prices as the week ended), else the first in the 7 days after it.

A copy whose archived answer was not the page (the CDX's status a 3xx, 4xx or 5xx) is chosen only
when the week has no other: it is then recorded as a problem without being fetched. A copy known to
be bad (recorded as a problem by an earlier run) is never chosen again, so the next best one is.

A week is fetched when one of its chosen copies is not in the history yet (``archive_copies``): a
second run asks only for what is new; a week is stored whole, so all its copies are fetched then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable

from orstats_crawler.sources.cdx import Capture

LEADERBOARD, CATALOGUE = "leaderboard", "catalogue"
STORED, PROBLEM, FAILED = "stored", "problem", "failed"  # what became of a copy (archive_copies.status)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Source:
    """An archived URL of the site and what it holds (``precedence``: which catalogue wins an id)."""

    kind: str
    original: str
    precedence: int = 0


@dataclass
class WeekCopies:
    """The copies chosen for one Monday week."""

    monday: date
    copies: list[tuple[Source, Capture]] = field(default_factory=list)

    @property
    def week_end(self) -> date:
        return self.monday + timedelta(days=6)


def mondays(since: date, until: date) -> list[date]:
    """The Monday weeks from the one holding ``since`` to the one holding ``until``."""
    monday = since - timedelta(days=since.weekday())
    found = []
    while monday <= until:
        found.append(monday)
        monday += WEEK
    return found


def leaderboard_copy(captures: Iterable[Capture], monday: date, excluded: set[tuple[str, str]]) -> Capture | None:
    after = _usable(captures, monday + WEEK, monday + WEEK + timedelta(days=6), excluded)
    return _best(after, latest=False)


def catalogue_copy(captures: Iterable[Capture], monday: date, excluded: set[tuple[str, str]]) -> Capture | None:
    captures = list(captures)
    inside = _usable(captures, monday, monday + timedelta(days=6), excluded)
    if inside:
        return _best(inside, latest=True)
    return _best(_usable(captures, monday + WEEK, monday + WEEK + timedelta(days=6), excluded), latest=False)


def choose(captures: dict[Source, list[Capture]], weeks: list[date], bad: set[tuple[str, str]]) -> list[WeekCopies]:
    """The copies of each week that has any, in week order. A copy serves one week only: the weeks
    are chosen for latest first, so a catalogue copy inside a week is that week's, not the
    fallback of the week before."""
    chosen = []
    used = set(bad)
    for monday in sorted(weeks, reverse=True):
        week = WeekCopies(monday)
        for source, found in captures.items():
            pick = leaderboard_copy if source.kind == LEADERBOARD else catalogue_copy
            capture = pick(found, monday, used)
            if capture is not None:
                week.copies.append((source, capture))
                used.add((capture.original, capture.timestamp))
        if week.copies:
            chosen.append(week)
    return chosen[::-1]


def new_weeks(weeks: list[WeekCopies], known: set[tuple[str, str]]) -> list[WeekCopies]:
    """The weeks with a chosen copy the history does not hold yet (by original URL and timestamp)."""
    return [week for week in weeks if any((c.original, c.timestamp) not in known for _, c in week.copies)]


def _usable(captures: Iterable[Capture], first: date, last: date, excluded: set[tuple[str, str]]) -> list[Capture]:
    return sorted((c for c in captures if first <= c.day <= last and (c.original, c.timestamp) not in excluded),
                  key=lambda c: c.timestamp)


def _best(candidates: list[Capture], latest: bool) -> Capture | None:
    """A copy holding the page if there is one (the latest or the first), else the first other one."""
    content = [c for c in candidates if c.holds_content]
    if content:
        return content[-1] if latest else content[0]
    return candidates[0] if candidates else None
