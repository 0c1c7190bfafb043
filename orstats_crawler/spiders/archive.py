"""`scrapy crawl archive`: past weeks from the Web Archive's copies of the site.

Until about May 2026 `/rankings` was a server-rendered page carrying the whole weekly leaderboard,
with its cached and reasoning split, and `/api/v1/models` has always been a public catalogue with
every price of its day. The Wayback Machine keeps dated copies of both. This spider:

1. asks the CDX API which copies exist of `/rankings`, of both catalogues and of the model pages
   of the model-variants the history knows (`/<public id>`, `/<permaslug>`) in the Monday weeks
   from `-a since` to `-a until` (sources/cdx.py);
2. picks per Monday week the copy that best covers it (archive_selection.py) and leaves out the
   weeks whose copies the history already holds (``archive_copies``): a second run asks only for
   what is new;
3. fetches each chosen copy byte for byte (`id_`) and decodes it with the crawl's own decoders
   (sources/legacy.py for the pages, sources/prices.py for the catalogues). A week's leaderboard
   rows wait for the week's catalogues and go on with their catalogue entry, as the rankings
   spider's do, through the same pipelines;
4. says what became of each copy (an ``ArchiveCopy`` item): stored, or a problem (an error page or
   a login wall archived with status 200, a redirect the archive recorded, a copy the archive no
   longer serves), never data, recorded so it is not asked for again.

The history feed (publish/archive_feed.py) stores each Monday week as a crawl `archive:<monday>`
(era `archive`), gated like a crawl, shown only where no crawl of the site is, and its model pages
as `archive:<monday>:pages` (daily splits, folded into Monday weeks like a crawl's).

Politeness: requests go only to the archive's origin (ORSTATS_ALLOWED_URL, middlewares/hosts.py),
one at a time, ORSTATS_ARCHIVE_DOWNLOAD_DELAY apart, AutoThrottle and BackoffRetryMiddleware (429
and 5xx with Retry-After) as for the site, at most ORSTATS_ARCHIVE_DAILY_CAP requests a UTC day.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from orstats_crawler import arguments, pricing
from orstats_crawler.archive_selection import (CATALOGUE, FAILED, LEADERBOARD, MODEL_PAGE, PAGE_DAYS, PROBLEM, STORED,
                                               Source, WeekCopies, choose, mondays, new_weeks)
from orstats_crawler.history.archive_copies import ArchiveState, archive_state
from orstats_crawler.items import ArchiveCopy, LeaderboardRow, ModelPrice, SourceProblem
from orstats_crawler.sources import SourceError, problem
from orstats_crawler.sources.cdx import SOURCE as CDX, Capture, cdx_url, copy_url, decode_cdx
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.legacy import RANKINGS_PAGE_PATH, decode_model_page, decode_rankings_page, model_page_path
from orstats_crawler.sources.prices import SOURCE as PRICES
from orstats_crawler.sources.prices import decode_catalogue
from orstats_crawler.sources.rankings import LEADERBOARD as LEADERBOARD_SOURCE
from orstats_crawler.spiders.failures import failure_problem

logger = logging.getLogger(__name__)

SITE = "https://openrouter.ai"
SOURCES = (
    Source(LEADERBOARD, SITE + RANKINGS_PAGE_PATH),
    Source(CATALOGUE, SITE + "/api/v1/models", precedence=0),
    Source(CATALOGUE, SITE + "/api/v1/models?output_modalities=all", precedence=1),
)
# Whose problem a bad copy is: the source it stands for.
PROBLEM_SOURCE = {LEADERBOARD: LEADERBOARD_SOURCE, CATALOGUE: PRICES, MODEL_PAGE: ACTIVITY}
REDIRECTS = [301, 302, 303, 307, 308]
# An HTTP error of the archive that will not change by asking again: it does not serve that copy.
PERMANENT = range(400, 500)
TRANSIENT = {408, 429}
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class ArchiveSpider(Spider):
    name = "archive"
    accepted_arguments = arguments.ARCHIVE_ARGUMENTS  # any other `-a` is a usage error
    # The same history file, stored by the archive's feed storage: one crawl per Monday week.
    custom_settings = {"FEED_STORAGES": {"history": "orstats_crawler.publish.archive_feed.ArchiveFeedStorage"}}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.captures: dict[Source, list[Capture]] = {}
        self.sources: list[Source] = []
        self._cdx_pending: set[Source] = set()
        # By (Monday, part): a week's rows until its catalogues answered, those not answered yet, their entries.
        self._held: dict[tuple[date, str], list[LeaderboardRow]] = {}
        self._waiting: dict[tuple[date, str], set[str]] = {}
        self._catalogues: dict[tuple[date, str], pricing.PriceCatalogue] = {}
        self.state = ArchiveState()
        self.budget = 0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> "ArchiveSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        settings.setdict(arguments.as_settings(kwargs, settings, cls.accepted_arguments), priority="cmdline")
        arguments.check_settings(settings)  # a bad -a since=... or -s value stops the crawl here: exit 2
        first, last = weeks_asked(settings)
        if first > last:
            raise arguments.UsageError(f"-a since={first} is after -a until={last}: no week to ask for")
        delay = settings.getfloat("ORSTATS_ARCHIVE_DOWNLOAD_DELAY")
        # The archive's pace and origin, below anything given on the command line.
        settings.setdict({"ORSTATS_ALLOWED_URL": settings.get("ORSTATS_ARCHIVE_URL"), "DOWNLOAD_DELAY": delay,
                          "AUTOTHROTTLE_START_DELAY": max(delay, settings.getfloat("AUTOTHROTTLE_START_DELAY")),
                          "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
                          "CLOSESPIDER_TIMEOUT": settings.getfloat("ORSTATS_ARCHIVE_TIMEOUT")}, priority="spider")
        return spider

    @property
    def archive(self) -> str:
        return self.settings.get("ORSTATS_ARCHIVE_URL").rstrip("/")

    async def start(self) -> Any:
        db_path = self.settings.get("ORSTATS_DB")
        self.state = archive_state(db_path) if db_path else ArchiveState()
        self.budget = max(0, self.settings.getint("ORSTATS_ARCHIVE_DAILY_CAP") - self.state.requests_today)
        self.crawler.stats.set_value("orstats/archive/requests_today_before", self.state.requests_today)
        first, last = weeks_asked(self.settings)
        weeks = mondays(first, last)
        if self.budget < len(SOURCES):  # the weeks are chosen from all these CDX answers, or none
            self._capped(f"{self.state.requests_today} archive requests today: nothing asked")
            return
        # Model pages, those no run asked about yet first, then the model-variants with the most tokens:
        # their CDX queries take at most half of what is left, the rest is for the copies.
        pages = sorted(page_sources(self.state.models), key=lambda source: source.original in self.state.asked)
        room = (self.budget - len(SOURCES)) // 2
        if len(pages) > room:
            self._capped(f"the pages of {len(pages) - room} of the {len(pages)} model page URLs are not asked today")
        self.sources = [*SOURCES, *pages[:room]]
        self.budget -= len(self.sources)
        self._cdx_pending.update(self.sources)
        for source in self.sources:
            # Copies taken after a week count for it: a leaderboard's in the 7 days after it, a
            # model page's as long as its days reach back to it.
            after = timedelta(days=PAGE_DAYS - 1 if source.kind == MODEL_PAGE else 13)
            yield Request(cdx_url(self.archive, source.original, weeks[0], weeks[-1] + after), callback=self.parse_cdx,
                          errback=self.cdx_failed, dont_filter=True, cb_kwargs={"source": source}, meta={"source": CDX})

    # --- which copies exist ------------------------------------------------------------------

    def parse_cdx(self, response: Response, source: Source) -> Iterator[Any]:
        try:
            self.captures[source] = decode_cdx(response.body, response.url)
        except SourceError as exc:
            yield problem(exc, status=response.status)
        yield from self._cdx_answered(source)

    def cdx_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request
        yield failure_problem(failure, CDX)
        yield from self._cdx_answered(request.cb_kwargs["source"])

    def _cdx_answered(self, source: Source) -> Iterator[Any]:
        self._cdx_pending.discard(source)
        if self._cdx_pending:
            return
        first, last = weeks_asked(self.settings)
        weeks = new_weeks(choose(self.captures, mondays(first, last), self.state.bad), self.state.known)
        stats = self.crawler.stats
        stats.set_value("orstats/archive/captures", sum(len(found) for found in self.captures.values()))
        stats.set_value("orstats/archive/weeks_new", len(weeks))
        for week in weeks:
            fetched = [capture for _, capture in week.copies if capture.holds_content]
            if len(fetched) > self.budget:
                self._capped(f"the weeks from {week.monday} on are left for the next run")
                return
            yield from self._week_requests(week)

    # --- the chosen copies ---------------------------------------------------------------------

    def _week_requests(self, week: WeekCopies) -> Iterator[Any]:
        monday, key = week.monday, (week.monday, week.part)
        self._catalogues[key] = pricing.PriceCatalogue()
        self._held[key] = []
        self._waiting[key] = {copy_url(self.archive, c) for s, c in week.copies
                              if s.kind == CATALOGUE and c.holds_content}
        for source, capture in week.copies:
            context = {"monday": monday, "part": week.part, "source": source, "capture": capture,
                       "week_copies": len(week.copies)}
            if not capture.holds_content:  # the archive says what it holds: no need to ask
                message = (f"the archive holds HTTP {capture.status} for {capture.original} at {capture.timestamp}, "
                           "not the page: a redirect or an error it recorded")
                yield from self._bad_copy(message, int(capture.status) if capture.status.isdigit() else None,
                                          "statuscode", **context)
                continue
            self.budget -= 1
            yield Request(copy_url(self.archive, capture), callback=self.parse_copy, errback=self.copy_failed,
                          dont_filter=True, cb_kwargs=context,
                          meta={"source": PROBLEM_SOURCE[source.kind], "dont_redirect": True,
                                "handle_httpstatus_list": REDIRECTS})

    def parse_copy(self, response: Response, monday: date, part: str, source: Source, capture: Capture,
                   week_copies: int) -> Iterator[Any]:
        context = {"monday": monday, "part": part, "source": source, "capture": capture, "week_copies": week_copies}
        if response.status in REDIRECTS:
            location = response.headers.get("Location", b"").decode("latin-1")
            yield from self._bad_copy(f"the archive recorded a redirect (HTTP {response.status} to {location}), "
                                      "not the page", response.status, "Location", **context)
            return
        decode = {LEADERBOARD: self._leaderboard, CATALOGUE: self._catalogue, MODEL_PAGE: self._model_page}[source.kind]
        try:
            yield from decode(response, (monday, part), source, capture)
        except SourceError as exc:
            title = page_title(response.body)
            message = exc.message + (f" (the copy's title: {title!r})" if title else "")
            yield from self._bad_copy(message, response.status, exc.field, kind=exc.kind, **context)
            return
        yield self._copy_item(STORED, None, **context)
        yield from self._answered((monday, part), response.url)

    def copy_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request
        context = request.cb_kwargs
        status = failure.value.response.status if failure.check(HttpError) else None
        # An archive that does not serve a copy will not serve it next time either; a timeout might.
        state = PROBLEM if status in PERMANENT and status not in TRANSIENT else FAILED
        source = context["source"]
        yield failure_problem(failure, PROBLEM_SOURCE[source.kind], source.permaslug, source.variant)
        yield self._copy_item(state, f"HTTP {status}" if status else failure.getErrorMessage(), **context)
        yield from self._answered((context["monday"], context["part"]), request.url)

    def _leaderboard(self, response: Response, key: tuple[date, str], source: Source,
                     capture: Capture) -> Iterator[Any]:
        items = list(decode_rankings_page(response.body, response.url, capture.captured_at))
        for item in items:
            if isinstance(item, LeaderboardRow):
                self._held[key].append(item)
            else:
                yield item

    def _catalogue(self, response: Response, key: tuple[date, str], source: Source, capture: Capture) -> Iterator[Any]:
        for item in list(decode_catalogue(response.body, response.url, source.precedence)):
            if isinstance(item, ModelPrice) and not self._catalogues[key].add(item):
                continue  # both catalogues list the text models: the text catalogue's entry wins
            yield item

    def _model_page(self, response: Response, key: tuple[date, str], source: Source, capture: Capture) -> Iterator[Any]:
        """A page about another model-variant (the archive kept a redirect's target under this URL)
        is a SourceError of kind IDENTITY: a bad copy, left out."""
        yield decode_model_page(response.body, response.url, source.permaslug, source.variant, capture.captured_at)

    def _bad_copy(self, message: str, status: int | None, field: str | None, kind: str | None = None,
                  **context: Any) -> Iterator[Any]:
        url = copy_url(self.archive, context["capture"])
        source = context["source"]
        self.crawler.stats.inc_value("orstats/archive/bad_copies")
        yield SourceProblem(source=PROBLEM_SOURCE[source.kind], url=url, field=field,
                            message=f"archived copy is not the page: {message}", permaslug=source.permaslug,
                            variant=source.variant, status=status, extra={"kind": kind} if kind else {})
        yield self._copy_item(PROBLEM, message, **context)
        yield from self._answered((context["monday"], context["part"]), url)

    def _copy_item(self, status: str, message: str | None, monday: date, part: str, source: Source, capture: Capture,
                   week_copies: int) -> ArchiveCopy:
        return ArchiveCopy(week_start=monday.isoformat(), part=part, kind=source.kind, original=capture.original,
                           timestamp=capture.timestamp, archive_url=copy_url(self.archive, capture),
                           digest=capture.digest or None, status=status, message=message, week_copies=week_copies)

    def _answered(self, key: tuple[date, str], url: str) -> Iterator[Any]:
        """A copy of a week's part answered: once its catalogues have, the week's rows go on, priced."""
        waiting = self._waiting.get(key, set())
        waiting.discard(url)
        if waiting:
            return
        catalogue = self._catalogues.get(key) or pricing.PriceCatalogue()
        for row in self._held.pop(key, []):
            yield catalogue.attach(row)
        self._held[key] = []

    def _capped(self, what: str) -> None:
        self.crawler.stats.set_value("orstats/archive/capped", 1)
        logger.warning("archive: the daily cap is reached (ORSTATS_ARCHIVE_DAILY_CAP=%s): %s",
                       self.settings.getint("ORSTATS_ARCHIVE_DAILY_CAP"), what)


def page_sources(models: list[tuple[str, str, str | None]]) -> list[Source]:
    """The legacy pages of the model-variants the history knows: under their public id and under
    their permaslug (the site served the same page at both)."""
    found = {}
    for permaslug, variant, public_id in models:
        for path in (model_page_path(permaslug, variant, public_id), model_page_path(permaslug, variant, None)):
            found.setdefault(SITE + path, Source(MODEL_PAGE, SITE + path, permaslug=permaslug, variant=variant))
    return list(found.values())


def weeks_asked(settings: Any) -> tuple[date, date]:
    """(since, until) as the settings give them; until defaults to today (UTC)."""
    since = date.fromisoformat(str(settings.get("ORSTATS_ARCHIVE_SINCE")).strip())
    until = arguments.optional_day(settings.get("ORSTATS_ARCHIVE_UNTIL")) or datetime.now(timezone.utc).date()
    return since, until


def page_title(body: bytes) -> str | None:
    """An HTML page's title (what an error page or a login wall says it is), if any."""
    found = _TITLE.search(body[:65536])
    return found.group(1).decode("utf-8", "replace").strip()[:120] if found else None
