"""Which archived copies the `archive` spider fetches: per Monday week, the copy that best covers it.

- the leaderboard (`/rankings`, the trailing 7 complete days before it was computed): the first copy
  after the week's end, taken in the 7 days after it (a copy of the Monday after the week holds
  exactly that week; a later one the days after it too);
- each catalogue (`/api/v1/models`, with and without `output_modalities=all`): the latest copy
  inside the week (the prices as the week ended), else the first in the 7 days after it.

A copy whose archived answer was not the page (the CDX's status a 3xx, 4xx or 5xx) is chosen only
when the week has no other: it is then recorded as a problem without being fetched. A copy known to
be bad (recorded as a problem by an earlier run) is never chosen again, so the next best one is.

A model page (`/<public id>` or `/<permaslug>`) holds about 90 days of its model-variant's daily
split, so one copy covers about twelve weeks: per model-variant, the earliest week no chosen copy
covers takes the latest copy whose complete days still reach back to it, until every week is covered
(the fewest copies). A week's model pages are a part of their own (`pages`): their days are folded
into Monday weeks like a crawl's daily activity, apart from the week's leaderboard.

A part is fetched when one of its chosen copies is not in the history yet (``archive_copies``): a
second run asks only for what is new; a part is stored whole, so all its copies are fetched then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable

from orstats_crawler.sources.cdx import Capture

LEADERBOARD, CATALOGUE, MODEL_PAGE = "leaderboard", "catalogue", "model_page"
WEEK_PART, PAGES_PART = "week", "pages"  # a week's leaderboard and catalogues; its model pages
PAGE_DAYS = 90  # daily rows a legacy model page holds, its partial day included
STORED, PROBLEM, FAILED = "stored", "problem", "failed"  # what became of a copy (archive_copies.status)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Source:
    """An archived URL of the site and what it holds (``precedence``: which catalogue wins an id)."""

    kind: str
    original: str
    precedence: int = 0
    permaslug: str | None = None  # a model page's model-variant
    variant: str | None = None


@dataclass
class WeekCopies:
    """The copies chosen for one Monday week."""

    monday: date
    copies: list[tuple[Source, Capture]] = field(default_factory=list)
    part: str = WEEK_PART

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
            if source.kind == MODEL_PAGE:
                continue
            pick = leaderboard_copy if source.kind == LEADERBOARD else catalogue_copy
            capture = pick(found, monday, used)
            if capture is not None:
                week.copies.append((source, capture))
                used.add((capture.original, capture.timestamp))
        if week.copies:
            chosen.append(week)
    return chosen[::-1] + choose_pages(captures, weeks, bad)


def choose_pages(captures: dict[Source, list[Capture]], weeks: list[date],
                 bad: set[tuple[str, str]]) -> list[WeekCopies]:
    """The model page copies of each week that takes any (``page_copies``), a part of their own."""
    by_model: dict[tuple[str | None, str | None], list[tuple[Source, Capture]]] = {}
    for source, found in captures.items():
        if source.kind == MODEL_PAGE:
            by_model.setdefault((source.permaslug, source.variant), []).extend((source, c) for c in found)
    parts: dict[date, WeekCopies] = {}
    for model in sorted(by_model, key=str):
        for monday, pick in page_copies(by_model[model], weeks, bad):
            parts.setdefault(monday, WeekCopies(monday, part=PAGES_PART)).copies.append(pick)
    return [parts[monday] for monday in sorted(parts)]


def page_copies(found: list[tuple[Source, Capture]], weeks: list[date],
                bad: set[tuple[str, str]]) -> list[tuple[date, tuple[Source, Capture]]]:
    """The fewest copies of one model-variant's page whose complete days cover every week that any
    copy can: (the week it was taken for, the copy). A copy of day d holds the complete days
    d - 89 .. d - 1, so it covers the Monday weeks W with d - 89 <= W and W + 7 <= d."""
    usable = sorted(((s, c) for s, c in found if c.holds_content and (c.original, c.timestamp) not in bad),
                    key=lambda pair: pair[1].timestamp)
    chosen, covered_from, covered_to = [], None, None
    for monday in sorted(weeks):
        if covered_from is not None and covered_from <= monday and monday + WEEK <= covered_to:
            continue
        reaching = [pair for pair in usable if monday + WEEK <= pair[1].day <= monday + timedelta(days=PAGE_DAYS - 1)]
        if not reaching:
            continue
        pick = reaching[-1]
        chosen.append((monday, pick))
        covered_from, covered_to = pick[1].day - timedelta(days=PAGE_DAYS - 1), pick[1].day
    return chosen


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
