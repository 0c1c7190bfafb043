"""A site that cannot be reached ends the crawl in seconds, saying so.

Scrapy retries a refused connection or a failed name lookup like any download error: RETRY_TIMES,
with the project's backoff (2 + 4 + 8 + 16 s for robots.txt, then again for every URL), so with no
network a crawl took two minutes to end "rejected by the quality gate". Instead:

- ``ReachabilityMiddleware``: a connection-level failure (the name does not resolve; the connection
  is refused, has no route, or fails before any HTTP) on a host that has not answered anything in
  this crawl is retried ``ORSTATS_UNREACHABLE_RETRIES`` times, not RETRY_TIMES: a blip at start-up
  has the backoff's first waits (2 + 4 s: the grace) to pass. When one request has spent those
  retries, or the host has failed for longer than the grace (its requests take turns in the
  download slot, so one request's retries can take much longer), the host is unreachable: that
  request, and every later one for the host, fails with ``HostUnreachable`` at once, without
  knocking again. A response from the host (any status) makes it an ordinary host again.
- The spider, when every catalogue request has failed to connect, sends ``site_unreachable`` (host
  and error) and closes the crawl with the finish reason ``UNREACHABLE``; `scrapy crawl` exits 1
  with "could not reach HOST (ERROR)". The gate still stores its verdict (rejected: closed early), which changes
  nothing published.

``HostUnreachable`` is an IgnoreRequest: no retry, and robots.txt, usually the first request to
fail, is given up quietly instead of with a traceback. A host that accepts connections and never
answers is not this: each attempt waits DOWNLOAD_TIMEOUT, with ordinary retries.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, IgnoreRequest
from scrapy.http import Request, Response
from twisted.internet.error import ConnectError

from orstats_crawler.middlewares.retry import backoff_seconds

logger = logging.getLogger(__name__)

UNREACHABLE = "unreachable"  # the finish reason of a crawl that could not reach the site
REFUSED_STAT = "orstats/unreachable_not_sent"
NETWORK_FAILURES = (CannotResolveHostError, DownloadConnectionRefusedError, ConnectError)
CAPPED = "orstats_unreachable_cap"  # meta: max_retry_times was lowered here


class HostUnreachable(IgnoreRequest):
    """A request for a host that never answered and could not be reached: not (or no longer) sent."""

    def __init__(self, host: str, cause: str):
        super().__init__(f"{host} has not answered in this crawl and cannot be reached ({cause})")
        self.host, self.cause = host, cause


def is_connection_failure(exception: BaseException) -> bool:
    return isinstance(exception, (HostUnreachable, *NETWORK_FAILURES))


def could_not_reach(url: str, exception: BaseException) -> str:
    """`HOST (ERROR)`, what a crawl that could not reach the site says on exit."""
    cause = exception.cause if isinstance(exception, HostUnreachable) else describe(exception)
    return f"{urlsplit(url).netloc} ({cause})"


def describe(exception: BaseException) -> str:
    return str(exception).strip() or type(exception).__name__


def host_of(request: Request) -> str:
    return urlsplit(request.url).netloc


class ReachabilityMiddleware:
    def __init__(self, crawler: Any):
        self.stats = crawler.stats
        settings = crawler.settings
        self.retries = settings.getint("ORSTATS_UNREACHABLE_RETRIES")
        base, maximum = settings.getfloat("ORSTATS_RETRY_BACKOFF_BASE"), settings.getfloat("ORSTATS_RETRY_BACKOFF_MAX")
        self.grace = sum(backoff_seconds(base, maximum, n) for n in range(self.retries))  # what the retries wait
        self.answered: set[str] = set()  # hosts that sent a response in this crawl
        self.failing_since: dict[str, float] = {}  # host -> time.monotonic() of its first failure
        self.unreachable: dict[str, str] = {}  # host -> the error its last try ended with
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "ReachabilityMiddleware":
        return cls(crawler)

    def response_downloaded(self, response: Response, request: Request, spider: Any = None) -> None:
        host = host_of(request)
        self.answered.add(host)
        self.failing_since.pop(host, None)
        self.unreachable.pop(host, None)

    def process_request(self, request: Request) -> None:
        cause = self.unreachable.get(host_of(request))
        if cause is not None:
            self.stats.inc_value(REFUSED_STAT)
            raise HostUnreachable(host_of(request), cause)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """While the request's host has never answered: fewer retries (meta ``max_retry_times``, read
        by the retry middleware below this one), then the host is unreachable. Once it has answered,
        the retries are given back."""
        host, meta = host_of(request), request.meta
        if host in self.answered:
            if meta.pop(CAPPED, False):
                meta.pop("max_retry_times", None)
            return None
        if not isinstance(exception, NETWORK_FAILURES):
            return None
        if host not in self.unreachable:
            if not self._given_up(host, meta):
                return None  # the retry middleware asks again, after its backoff
            self.unreachable[host] = describe(exception)
            logger.error("%s has not answered and could not be reached for %.1f s (%s): no further request is "
                         "sent to it", host, time.monotonic() - self.failing_since[host], self.unreachable[host])
        # Raised, not returned: the retry middleware would only log a giving-up of its own, and
        # RobotsTxtMiddleware gives an IgnoreRequest up without a traceback.
        raise HostUnreachable(host, self.unreachable[host])

    def _given_up(self, host: str, meta: dict[str, Any]) -> bool:
        """Cap the request's retries; True when they are spent, or the host has failed for the grace."""
        if meta.get("max_retry_times", self.retries) >= self.retries:
            meta["max_retry_times"], meta[CAPPED] = self.retries, True
        failing = time.monotonic() - self.failing_since.setdefault(host, time.monotonic())
        return bool(meta.get("dont_retry") or meta.get("retry_times", 0) >= meta["max_retry_times"]
                    or failing >= self.grace)
