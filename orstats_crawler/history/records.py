"""Typed row records: what one crawl (or one imported week) writes into the history, table by table.

``CrawlRecords`` is the one shape every writer hands to ``writer.write_crawl``: the crawl's own
rows (``OWNED_TABLES``: replaced whole when a crawl id is written again) and its contributions to the
tables crawls share (raw bodies, finished chart weeks, the Data API's days). Each record's fields
are its table's columns, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, ClassVar


class Record:
    """A table row: ``TABLE`` and the dataclass fields (= its columns)."""

    TABLE: ClassVar[str]

    @classmethod
    def columns(cls) -> list[str]:
        return list(_field_names(cls))

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _field_names(type(self)))


@cache
def _field_names(record: type[Record]) -> tuple[str, ...]:
    """A record class's fields, read once per class: a crawl writes thousands of records."""
    return tuple(f.name for f in fields(record))


@dataclass
class CrawlRow(Record):
    TABLE = "crawls"
    id: str
    started_at: str
    finished_at: str | None
    status: str
    era: str
    base_url: str | None
    snapshot: str | None
    week_start: str | None
    week_end: str | None
    selection: str | None
    coverage: float | None
    planned_coverage: float | None
    token_coverage: float | None
    models_ranked: int
    models_measured: int
    problems: int
    forced: int
    checks: str  # JSON: [{"name", "result", "message"}]
    stats: str  # JSON
    spend_coverage: float | None = None  # the share of the week's list-price spend the measured splits guarantee
    cached_share_p10: float | None = None  # percentiles of the measured cached shares (an imputed row's band)
    cached_share_p90: float | None = None
    platform_fee: float | None = None  # the share of the spend OpenRouter keeps, as assumed (ORSTATS_PLATFORM_FEE)


@dataclass
class ModelWeekRow(Record):
    TABLE = "model_weeks"
    crawl_id: str
    week_start: str
    week_end: str
    permaslug: str
    variant: str
    public_id: str | None
    name: str
    rank: int | None
    total_tokens: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None
    reasoning_tokens: int | None
    requests: int | None
    change: float | None
    split_source: str | None  # activity | leaderboard | import; None: split unknown
    leaderboard_prompt_tokens: int | None
    leaderboard_completion_tokens: int | None
    prompt_price: float | None
    completion_price: float | None
    cache_read_price: float | None
    is_free: int | None
    price_status: str | None
    upper_bound_usd: float | None
    price_basis: str | None
    price_observed_on: str | None
    cached_share_imputed: float | None = None  # unmeasured rows: the cached share their best estimate uses
    cached_share_from: str | None = None  # model | family | author | week
    previous_prompt_tokens: int | None = None  # measured rows: the 7 days before the week, same daily activity
    previous_completion_tokens: int | None = None
    previous_cached_tokens: int | None = None
    previous_source: str | None = None  # daily, when the previous_* tokens are known


@dataclass
class DailyActivityRow(Record):
    TABLE = "daily_activity"
    crawl_id: str
    permaslug: str
    variant: str
    day: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    requests: int | None
    tool_calls: int | None


@dataclass
class ActivityFetchRow(Record):
    TABLE = "activity_fetches"
    crawl_id: str
    permaslug: str
    variant: str
    selected: int
    tokens: int
    upper_bound_usd: float | None
    status: str  # measured | empty | failed | selected | not_selected
    url: str | None
    days: int | None
    partial_day: str | None


@dataclass
class PriceRow(Record):
    TABLE = "prices"
    crawl_id: str
    observed_on: str
    public_id: str
    canonical_slug: str
    variant: str
    name: str | None
    prompt_price: float | None
    completion_price: float | None
    cache_read_price: float | None
    is_free: int | None
    pricing: str  # JSON, the catalogue's decimal strings
    created: int | None


@dataclass
class ProblemRow(Record):
    TABLE = "problems"
    crawl_id: str
    source: str
    url: str
    field: str | None
    message: str
    permaslug: str | None
    variant: str | None
    status: int | None


@dataclass
class EffectivePriceRow(Record):
    TABLE = "effective_prices"
    crawl_id: str
    permaslug: str
    variant: str
    weighted_input_price: float | None
    weighted_output_price: float | None
    cache_hit_rate: float | None
    providers: int
    provider_tokens: int | None
    status: str
    url: str
    fetched_at: str | None
    rejected_because: str | None = None  # why the gate did not believe it (publish/quality_effective.py)


@dataclass
class ProviderSummaryRow(Record):
    """One endpoint that served a model-variant's traffic in the effective-pricing answer's range."""

    TABLE = "provider_summaries"
    crawl_id: str
    permaslug: str
    variant: str
    endpoint_id: str
    provider_slug: str
    provider_name: str | None
    effective_input_price: float | None  # $/M per total prompt token
    effective_output_price: float | None  # $/M per completion token
    cache_hit_rate: float | None
    total_tokens: int | None
    # The whole answer's endpoints (history/provider_summaries.py, ``sample_weights``): their tokens,
    # and their tokens x input and x output prices, for each endpoint's share of the model-variant.
    sample_tokens: int
    sample_input_weight: float
    sample_output_weight: float


@dataclass
class ResponseRow(Record):
    TABLE = "responses"
    crawl_id: str
    url: str
    status: int
    content_type: str
    fetched_at: str
    bytes: int
    sha256: str


@dataclass
class ResponseBodyRow(Record):
    """A raw body, gzipped, stored once per content however many crawls saw it."""

    TABLE = "response_bodies"
    sha256: str
    body_gz: bytes


@dataclass
class ChartWeekRow(Record):
    """A finished week of the weekly chart: one row per week and key, shared by all crawls."""

    TABLE = "chart_weeks"
    week_start: str
    week_end: str
    key: str
    tokens: int
    crawl_id: str


@dataclass
class DatasetDayRow(Record):
    """A day of the official Data API: one row per day and key, the newest answer wins."""

    TABLE = "dataset_daily"
    day: str
    key: str
    permaslug: str
    variant: str
    total_tokens: int
    as_of: str
    crawl_id: str


@dataclass
class ArchiveCopyRow(Record):
    """An archived copy an `archive` crawl used or turned down: the provenance of its rows (archive
    URL, capture time), and what a later run need not ask for again."""

    TABLE = "archive_copies"
    crawl_id: str
    week_start: str  # the Monday week it was chosen for
    kind: str  # leaderboard | catalogue | model_page
    original: str
    captured_at: str  # ISO, UTC
    archive_url: str
    digest: str | None
    status: str  # stored | problem
    message: str | None


@dataclass
class ChartPartialRow(Record):
    """A chart week not finished when the crawl saw it (the gate compares it with the week finished)."""

    TABLE = "chart_partial_weeks"
    crawl_id: str
    week_start: str
    key: str
    tokens: int
    seen_on: str | None  # the day the chart was computed


# The tables whose rows belong to one crawl (keyed by crawl_id), besides its `crawls` row.
OWNED_TABLES: tuple[type[Record], ...] = (ModelWeekRow, DailyActivityRow, ActivityFetchRow, PriceRow, ProblemRow,
                                          EffectivePriceRow, ResponseRow, ArchiveCopyRow, ChartPartialRow,
                                          ProviderSummaryRow)


@dataclass
class CrawlRecords:
    crawl: CrawlRow
    model_weeks: list[ModelWeekRow] = field(default_factory=list)
    daily_activity: list[DailyActivityRow] = field(default_factory=list)
    activity_fetches: list[ActivityFetchRow] = field(default_factory=list)
    prices: list[PriceRow] = field(default_factory=list)
    problems: list[ProblemRow] = field(default_factory=list)
    effective_prices: list[EffectivePriceRow] = field(default_factory=list)
    provider_summaries: list[ProviderSummaryRow] = field(default_factory=list)
    responses: list[ResponseRow] = field(default_factory=list)
    response_bodies: list[ResponseBodyRow] = field(default_factory=list)
    chart_weeks: list[ChartWeekRow] = field(default_factory=list)  # written only when published
    dataset_daily: list[DatasetDayRow] = field(default_factory=list)
    archive_copies: list[ArchiveCopyRow] = field(default_factory=list)
    chart_partial_weeks: list[ChartPartialRow] = field(default_factory=list)

    def owned(self, record: type[Record]) -> list[Record]:
        return getattr(self, record.TABLE)
