"""Which days a week is: the crawl's 7-day window and the chart's Monday weeks.

- A crawl's week is the leaderboard's trailing 7 complete UTC days: `week_end` is the last complete
  day, `week_start` six days before it. With daily activity the window ends the day before the
  newest (partial) day the sources were computed on; without it, at the newest leaderboard `date`.
- A chart week starts on its Monday `x` and ends six days later; it is finished once its seventh
  day is complete when the chart was computed. The chart's last week is partial and is never stored.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable

WEEK = timedelta(days=7)
SIX_DAYS = timedelta(days=6)


def crawl_window(activity_days: Iterable[date], leaderboard_days: Iterable[date | None]) -> tuple[date, date] | None:
    """(week_start, week_end) from the days the activity sources were computed on (their partial
    day), else from the newest leaderboard `date`; None when neither says anything."""
    partial_days = [d for d in activity_days if d is not None]
    if partial_days:
        end = max(partial_days) - timedelta(days=1)  # computed_on(end) is the newest partial day
    else:
        known = [d for d in leaderboard_days if d is not None]
        if not known:
            return None
        end = max(known)
    return end - SIX_DAYS, end


def computed_on(week_end: date) -> date:
    """The day the sources of a crawl's week were computed on: the partial day after its last
    complete day (``crawl_window`` the other way round)."""
    return week_end + timedelta(days=1)


def chart_week_end(week_start: date) -> date:
    return week_start + SIX_DAYS


def chart_week_finished(week_start: date, newest_week_start: date, computed_at: datetime | None) -> bool:
    """A chart week is stored only when it cannot change any more."""
    if week_start >= newest_week_start:
        return False
    return computed_at is None or week_start + WEEK <= computed_at.date()
