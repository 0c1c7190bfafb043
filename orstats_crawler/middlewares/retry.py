"""``BackoffRetryMiddleware`` replaces Scrapy's ``RetryMiddleware`` (same settings: RETRY_TIMES,
RETRY_HTTP_CODES, RETRY_EXCEPTIONS, ``dont_retry``, ``max_retry_times``) and adds the wait Scrapy
leaves out: a failing server is asked again at once by Scrapy, which is how a polite crawler turns
a hiccup into a hammering.

- 5xx and download errors (timeouts, refused or lost connections): exponential backoff,
  ``ORSTATS_RETRY_BACKOFF_BASE x 2^(n-1)`` seconds before the n-th retry, at most
  ``ORSTATS_RETRY_BACKOFF_MAX``;
- 429 (or a 503 that says so): the server's ``Retry-After`` (seconds or an HTTP-date); longer than
  ``ORSTATS_RETRY_AFTER_MAX`` and the request gives up instead of coming back early.

The wait is an (asyncio or Twisted) sleep inside the middleware's coroutine: the response has
already left the download slot, so the other requests keep downloading while this one waits.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.response import response_status_message

logger = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """`Retry-After: 120` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT` as seconds from now
    (never negative); None when absent or unreadable."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def backoff_seconds(base: float, maximum: float, retries_done: int) -> float:
    """The wait before the next retry of a request already retried ``retries_done`` times."""
    return min(base * 2 ** retries_done, maximum)


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings: Any):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("ORSTATS_RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("ORSTATS_RETRY_BACKOFF_MAX")
        self.retry_after_max = settings.getfloat("ORSTATS_RETRY_AFTER_MAX")

    def backoff(self, request: Request) -> float:
        """The wait before this request's next retry (its first retry waits BASE seconds)."""
        return backoff_seconds(self.backoff_base, self.backoff_max, request.meta.get("retry_times", 0))

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        reason = response_status_message(response.status)
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        if asked is not None and asked > self.retry_after_max:
            self.crawler.stats.inc_value("orstats/retry/retry_after_too_long")
            logger.error("giving up %s: %s with Retry-After %.0fs, longer than ORSTATS_RETRY_AFTER_MAX=%.0fs",
                         request.url, reason, asked, self.retry_after_max)
            return response
        wait = asked if asked is not None else self.backoff(request)
        retry = self._retry(request, reason)
        if retry is None:
            return response
        if asked is not None:
            self.crawler.stats.inc_value("orstats/retry/retry_after")
        await self._wait(request, wait, reason)
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        wait = self.backoff(request)
        retry = self._retry(request, exception)
        if retry is None:
            return None
        await self._wait(request, wait, type(exception).__name__)
        return retry

    async def _wait(self, request: Request, seconds: float, reason: str) -> None:
        stats = self.crawler.stats
        stats.inc_value("orstats/retry/waits")
        stats.inc_value("orstats/retry/wait_seconds", round(seconds, 3), start=0)
        stats.max_value("orstats/retry/max_wait_seconds", round(seconds, 3))
        logger.info("retrying %s in %.2fs (%s, retry %d)", request.url, seconds, reason,
                    request.meta.get("retry_times", 0) + 1)
        if seconds > 0:
            await sleep(seconds)
