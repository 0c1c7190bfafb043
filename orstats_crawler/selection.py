"""Which model-variants get their token split fetched, wave by wave (``SplitPlanner``).

The split is unknown until fetched, so candidates are ranked by an upper bound of their spend
(leaderboard prompt and completion tokens at list price, no cache discount). `-a top=N` or
`-a top=all` fetches that many in one wave. Otherwise the splits are fetched in waves until the
measured list spend is at least ``ORSTATS_SPEND_COVERAGE`` of (the measured list spend + the upper
bound of every priced candidate not measured): a share of the week's list-price spend that holds
whatever the unmeasured splits turn out to be. The upper bound alone overstates what cached tokens
cost, so a rule on upper bounds alone stops early (on 2026-08-08 it stopped at 43 splits holding
91 % of the true list spend; this one needs about 66 for 95 %). Each wave is sized from the ratio of
measured spend to upper bound seen so far, and is never smaller than the crawl's concurrency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from orstats_crawler import weeks
from orstats_crawler.arguments import ALL
from orstats_crawler.daily_split import usable_days, week_split
from orstats_crawler.history.formulas import REVENUE_LIST, evaluate, guaranteed_share
from orstats_crawler.items import ActivityPlan
from orstats_crawler.pricing import ListPrice

Key = tuple[str, str]


@dataclass(frozen=True)
class Candidate:
    permaslug: str
    variant: str
    tokens: int
    upper_bound_usd: float | None  # None: no usable price, so its spend cannot be ranked

    @property
    def key(self) -> Key:
        return self.permaslug, self.variant


class SplitPlanner:
    def __init__(self, candidates: Iterable[Candidate], top: int | None, coverage: float, wave_size: int):
        # Unpriced candidates last, by tokens: they can only be fetched by count (`top`).
        self.ordered = sorted(candidates, key=lambda c: (c.upper_bound_usd is None, -(c.upper_bound_usd or 0.0),
                                                         -c.tokens, c.permaslug, c.variant))
        self.top, self.coverage, self.wave_size = top, coverage, max(1, wave_size)
        self.selected: dict[Key, Candidate] = {}
        self.pending: set[Key] = set()
        self.measured: dict[Key, float] = {}  # the list spend of each split fetched with a usable week
        self.waves = 0

    @property
    def selection(self) -> str:
        if self.top == ALL:
            return "all"
        return f"top:{self.top}" if self.top is not None else f"coverage:{self.coverage:g}"

    def first_wave(self) -> list[Candidate]:
        if self.top == ALL:
            return self._select(self.ordered)
        if self.top is not None:
            return self._select(self.ordered[: self.top])
        return self._select(self._projected(ratio=1.0))

    def answered(self, key: Key, list_spend: float | None) -> list[Candidate]:
        """A split request ended (``list_spend`` None: nothing usable); when its wave is complete,
        the next wave (empty: done)."""
        self.pending.discard(key)
        if list_spend is not None:
            self.measured[key] = list_spend
        if self.pending or self.top is not None or self.done:
            return []
        measured_bound = sum(self.selected[k].upper_bound_usd or 0.0 for k in self.measured)
        ratio = sum(self.measured.values()) / measured_bound if measured_bound else 1.0
        return self._select(self._projected(ratio))

    @property
    def done(self) -> bool:
        coverage = self.guaranteed_coverage
        return coverage is not None and coverage >= self.coverage

    @property
    def guaranteed_coverage(self) -> float | None:
        """Measured list spend / (that + the upper bound of every priced candidate not measured)."""
        return guaranteed_share(*self._measured_and_rest())

    def _measured_and_rest(self) -> tuple[float, float]:
        """The measured list spend, and the upper bound of the candidates not measured."""
        return (sum(self.measured.values()),
                sum(c.upper_bound_usd or 0.0 for c in self.ordered if c.key not in self.measured))

    def _projected(self, ratio: float) -> list[Candidate]:
        """The next candidates by upper bound until, if each held ``ratio`` of its bound as list
        spend, the guaranteed coverage would reach the target; at least a wave's worth."""
        measured, rest = self._measured_and_rest()
        wave = []
        for candidate in self.ordered:
            bound = candidate.upper_bound_usd
            if candidate.key in self.selected or not bound:
                continue
            wave.append(candidate)
            measured, rest = measured + bound * ratio, rest - bound
            if len(wave) >= self.wave_size and measured / (measured + rest) >= self.coverage:
                break
        return wave

    def _select(self, wave: list[Candidate]) -> list[Candidate]:
        for candidate in wave:
            self.selected[candidate.key] = candidate
            self.pending.add(candidate.key)
        self.waves += bool(wave)
        return wave

    def plan(self) -> ActivityPlan:
        total = sum(c.upper_bound_usd or 0.0 for c in self.ordered)
        return ActivityPlan(
            selection=self.selection,
            candidates=[{"permaslug": c.permaslug, "variant": c.variant, "tokens": c.tokens,
                         "upper_bound_usd": c.upper_bound_usd, "selected": c.key in self.selected}
                        for c in self.ordered],
            spend_upper_bound_usd=total,
            planned_spend_coverage=self.guaranteed_coverage if self.measured else None,
        )


def measured_list_spend(raw_days: list[dict[str, Any]], fetched_at: datetime | None, price: ListPrice,
                        week_tokens: int) -> float | None:
    """A fetched split's list-price spend over the crawl's window (the 7 complete days before the
    day its source was computed on), from the days the pipelines will keep, summed as the week
    summary sums them (``week_tokens``: the leaderboard's); None when that week's split will be unknown."""
    if not price.known or fetched_at is None:
        return None
    start, end = weeks.crawl_window([fetched_at.date()], [])
    split = week_split(*usable_days(raw_days), start, end, week_tokens)
    if split is None:
        return None
    [spend] = evaluate(REVENUE_LIST, [{**split, "prompt_price": price.prompt, "completion_price": price.completion,
                                       "cache_read_price": price.cache_read, "is_free": int(price.is_free)}])
    return spend
