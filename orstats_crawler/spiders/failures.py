"""What the spiders' errbacks record: the problem of a request that got no usable answer."""

from __future__ import annotations

from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from orstats_crawler.items import SourceProblem


def failure_problem(failure: Failure, source: str, permaslug: str | None = None,
                    variant: str | None = None) -> SourceProblem:
    """An HTTP error (after the retries) by its status; any other failure by its type and message
    (a refused redirect carries its 3xx as ``status``)."""
    if failure.check(HttpError):
        status = failure.value.response.status
        message = f"HTTP {status}"
    else:
        status = getattr(failure.value, "status", None)
        message = f"{failure.type.__name__}: {failure.getErrorMessage()}"
    return SourceProblem(source=source, url=failure.request.url, field=None, message=message, status=status,
                         permaslug=permaslug, variant=variant)
