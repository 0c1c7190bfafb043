"""What the spider yields: one dataclass per kind of fact, read through itemadapter.

Decoders (``orstats_crawler.sources``) fill the fields they read from a response; pipelines
normalize types and add the price join; the `sqlite` feed stores them (exporters.py), one table per
kind (``ITEM_TYPES``), and the history feed turns them into the history's rows. ``None`` always means
"unknown", never zero. Once normalized, a field holds what its annotation says (an ``Any`` field
holds the source's raw value until then).

What a pipeline finds wrong with a value it keeps the item for (a token count that is not a count,
a day dropped from a split) travels with the item in its ``problems`` (SourceProblem fields, as
dicts): the history stores them with the crawl's other problems, so no item vanishes silently.
Identical copies of an entry a source listed twice are collapsed by its decoder into one item,
which counts them in ``duplicates``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# The token split of a model-variant, as every item, day and history row names it: cached tokens
# are part of prompt tokens, reasoning tokens part of completion tokens.
SPLIT = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")


@dataclass
class ModelPrice:
    """One catalogue entry of /api/v1/models: the list price of a (canonical_slug, variant)."""

    public_id: str
    canonical_slug: str
    variant: str
    name: str
    pricing: dict[str, Any]  # the decimal strings as published, USD per token
    source_url: str
    created: int | None = None
    # Which catalogue listed it: 0 the text one, 1 `?output_modalities=all`. An id both list keeps
    # the lower one's entry, whichever answered first.
    precedence: int = 0
    # Filled by PricePipeline from ``pricing`` (USD per token, None = no usable price).
    prompt_price: float | None = None
    completion_price: float | None = None
    cache_read_price: float | None = None
    is_free: bool | None = None
    duplicates: int = 0


@dataclass
class LeaderboardRow:
    """One (model_permaslug, variant) row of the weekly leaderboard."""

    permaslug: str
    variant: str
    prompt_tokens: Any
    completion_tokens: Any
    source_url: str
    era: str  # "current" (JSON endpoint) or "legacy" (embedded flight data)
    last_day: date | Any = None  # the row's ``date``: the model's last day with traffic
    cached_tokens: Any = None  # None when the source does not provide the split
    reasoning_tokens: Any = None
    requests: Any = None
    change: Any = None
    variant_permaslug: str | None = None
    # Its catalogue entry, attached by the spider from the catalogue(s): the entry's own decimal
    # prices (None: no entry of its (canonical_slug, variant)), public id and name (its own entry,
    # else its canonical_slug's standard entry).
    pricing: dict[str, Any] | None = None
    public_id: str | None = None
    name: str | None = None
    # Filled by PricePipeline from ``pricing``.
    prompt_price: float | None = None
    completion_price: float | None = None
    cache_read_price: float | None = None
    is_free: bool | None = None
    price_status: str | None = None  # listed | free | missing | invalid
    duplicates: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_tokens(self) -> int | None:
        """Prompt + completion once normalized; None (unknown) when either is."""
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


@dataclass
class ChartWeek:
    """One Monday-start week of the weekly top-models chart: top 9 model-variants plus Others."""

    week_start: date | Any
    values: dict[str, Any]
    source_url: str
    era: str
    fetched_at: datetime | None = None
    duplicates: int = 0


@dataclass
class ModelActivity:
    """The daily token split of one model-variant, as fetched (about 31 days, newest first)."""

    permaslug: str
    variant: str
    days: list[dict[str, Any]]
    source_url: str
    fetched_at: datetime | None = None  # when the source computed it: its partial day is this day
    dropped_partial_day: date | None = None  # set by NormalizePipeline
    # Days the pipelines dropped ({"date", "why"}): a week holding one has no known split.
    dropped_days: list[dict[str, Any]] = field(default_factory=list)
    duplicate_days: int = 0  # identical copies of a day the answer listed twice
    problems: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EffectivePrice:
    """What one model-variant's traffic actually paid over the trailing week (effective-pricing).

    Prices are USD per million tokens: input per total prompt token (cached included), output per
    completion token. None when the source gives no price (no traffic, or 0 for both, as `:batch`).
    """

    permaslug: str
    variant: str
    weighted_input_price: float | None
    weighted_output_price: float | None
    cache_hit_rate: float | None
    providers: int  # providers that served the traffic
    provider_tokens: int | None  # tokens they served in the source's range
    status: str  # priced | zero | no_data
    source_url: str
    fetched_at: datetime | None = None
    # Who served the traffic, one dict per endpoint (``sources.effective.PROVIDER_FIELDS``): a value
    # the source gave that is not one is None, with a problem saying so.
    provider_summaries: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RankingsDaily:
    """One answer of the official Data API (`/api/v1/datasets/rankings-daily`): daily tokens
    (prompt + completion) of the top 50 model-variants per day plus one `other` row per day."""

    rows: list[dict[str, Any]]  # day (date), key (model_permaslug as given, `other`), total_tokens (int)
    as_of: str  # when the dataset answered: the required citation names it
    start_date: str
    end_date: str
    source_url: str
    problems: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ActivityPlan:
    """Which model-variants the spider asked the split for, and why (coverage of the spend)."""

    selection: str  # "coverage:0.95", "top:50" or "all"
    candidates: list[dict[str, Any]]  # permaslug, variant, upper_bound_usd, selected
    spend_upper_bound_usd: float
    planned_spend_coverage: float | None


@dataclass
class SourceProblem:
    """Something a source answered that we could not use. Stored, counted and logged, never hidden."""

    source: str  # prices | leaderboard | chart | activity | ...
    url: str
    field: str | None
    message: str
    permaslug: str | None = None
    variant: str | None = None
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ArchiveCopy:
    """What became of one archived copy the `archive` spider chose for a Monday week (its items
    carry its ``archive_url`` as their source URL)."""

    week_start: str  # the Monday week it was chosen for
    part: str  # week (its leaderboard and catalogues) | pages (its model pages): each is a crawl
    kind: str  # leaderboard | catalogue | model_page
    original: str  # the site's URL it is a copy of
    timestamp: str  # the archive's capture time, YYYYMMDDhhmmss UTC
    archive_url: str  # where the archive serves it byte for byte (`id_`)
    digest: str | None
    status: str  # stored | problem (never data: recorded, not asked again) | failed (asked again next run)
    message: str | None
    week_copies: int  # how many copies the week's crawl waits for


# Every kind of item, in the order a crawl produces them; the `sqlite` feed has a table for each.
ITEM_TYPES: tuple[type, ...] = (ModelPrice, LeaderboardRow, ChartWeek, ActivityPlan, ModelActivity, EffectivePrice,
                                RankingsDaily, SourceProblem, ArchiveCopy)
