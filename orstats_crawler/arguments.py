"""The spider's arguments, as settings every component reads (a spider argument is a setting given
on the command line): `-a snapshot=PATH` is ``ORSTATS_SNAPSHOT``, and so on (``SPIDER_ARGUMENTS``).
A value that cannot be used is a ``UsageError``: one line, exit code 2, before anything starts.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

SPIDER_ARGUMENTS = {"snapshot": "ORSTATS_SNAPSHOT", "record": "ORSTATS_RECORD", "top": "ORSTATS_TOP",
                    "force": "ORSTATS_FORCE"}
ALL = -1  # `-a top=all`


class UsageError(ValueError):
    """A spider argument or setting with a value that cannot be used; the message names both."""


def as_settings(arguments: dict[str, Any], settings: Any) -> dict[str, Any]:
    """The settings the spider's arguments stand for, checked; with the crawl's id (Scrapyd's job id
    `_job` when it runs the crawl, else a timestamp and a random suffix) unless one is set already."""
    found = {SPIDER_ARGUMENTS[name]: value for name, value in arguments.items() if name in SPIDER_ARGUMENTS}
    if "ORSTATS_TOP" in found:
        top(found["ORSTATS_TOP"])
    if "ORSTATS_FORCE" in found:
        found["ORSTATS_FORCE"] = str(found["ORSTATS_FORCE"] or "").strip().lower() in {"1", "true", "yes"}
    if arguments.get("_job"):
        found["ORSTATS_CRAWL_ID"] = str(arguments["_job"])
    elif not settings.get("ORSTATS_CRAWL_ID"):
        found["ORSTATS_CRAWL_ID"] = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
    return found


def top(value: str | int | None) -> int | None:
    """`-a top=`: None (the spend coverage target decides), a positive count, or "all" (``ALL``)."""
    if value is None or str(value).strip() == "":
        return None
    if str(value).strip().lower() == "all":
        return ALL
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise UsageError(f"-a top={value!r} (ORSTATS_TOP): give a positive number of splits, or 'all'")
    return number
