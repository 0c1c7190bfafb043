"""A crawl as the publish path receives it: its items by kind (``CrawlItems``) and what it knows
about itself apart from them (``CrawlInfo``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orstats_crawler.items import (ActivityPlan, ChartWeek, EffectivePrice, LeaderboardRow, ModelActivity, ModelPrice,
                                   RankingsDaily, SourceProblem)


@dataclass
class CrawlInfo:
    """What the crawl knows about itself, apart from its items."""

    id: str
    started_at: datetime
    base_url: str | None
    snapshot: str | None = None
    forced: bool = False
    finished_at: datetime | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    platform_fee: float | None = None  # ORSTATS_PLATFORM_FEE


@dataclass
class CrawlItems:
    """A crawl's items, by kind."""

    prices: list[ModelPrice] = field(default_factory=list)
    leaderboard: list[LeaderboardRow] = field(default_factory=list)
    chart: list[ChartWeek] = field(default_factory=list)
    activity: list[ModelActivity] = field(default_factory=list)
    plans: list[ActivityPlan] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    effective: list[EffectivePrice] = field(default_factory=list)
    rankings_daily: list[RankingsDaily] = field(default_factory=list)

    def add(self, item: Any) -> None:
        """File an item under its kind; the problems a pipeline found with it join the crawl's."""
        bucket = {
            ModelPrice: self.prices, LeaderboardRow: self.leaderboard, ChartWeek: self.chart,
            ModelActivity: self.activity, ActivityPlan: self.plans, SourceProblem: self.problems,
            EffectivePrice: self.effective, RankingsDaily: self.rankings_daily,
        }.get(type(item))
        if bucket is not None:
            bucket.append(item)
        self.problems.extend(SourceProblem(**problem) for problem in getattr(item, "problems", None) or ())

    @property
    def era(self) -> str:
        eras = {row.era for row in self.leaderboard} or {week.era for week in self.chart}
        return "+".join(sorted(eras)) or "unknown"
