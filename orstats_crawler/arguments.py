"""The spider's arguments, as settings every component reads (a spider argument is a setting given
on the command line): `-a snapshot=PATH` is ``ORSTATS_SNAPSHOT``, and so on; each spider declares the
arguments it accepts (its ``accepted_arguments``, ``CRAWL_ARGUMENTS`` for `rankings`), any other is refused.
Then every setting of the project is checked against what it must be (``SETTING_RULES``), read the
way its component reads it. A value that cannot be used is a ``UsageError``: one line naming the
setting and the value, exit code 2, before anything starts.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable
from urllib.parse import urlparse

from orstats_crawler.report.data import METHODS

ALL = -1  # `-a top=all`
SCRAPYD_ARGUMENTS = ("_job",)  # what Scrapyd adds to every job's arguments


class UsageError(ValueError):
    """A spider argument or setting with a value that cannot be used; the message names both."""


@dataclass(frozen=True)
class Argument:
    """A spider argument: the setting it stands for, what it means (`scrapy crawl SPIDER -h`), and
    ``check``, which gets the value as given and returns the setting's value or raises ``UsageError``."""

    setting: str
    meaning: str
    check: Callable[[str, Any], Any] = lambda name, value: value


def switch(name: str, value: Any) -> bool:
    """`-a force=1`: 1/true/yes or 0/false/no (empty: no); anything else is a usage error, not "no"."""
    text = str(value if value is not None else "").strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"", "0", "false", "no", "off"}:
        return False
    raise UsageError(f"-a {name}={value!r}: give 1 or 0 (true or false), or yes or no")


def _top(name: str, value: Any) -> Any:
    top(value)
    return value


# The rankings spider's arguments; another spider declares its own (its ``accepted_arguments``).
CRAWL_ARGUMENTS = {
    "snapshot": Argument("ORSTATS_SNAPSHOT", "replay a recorded snapshot folder (manifest.json), no network"),
    "record": Argument("ORSTATS_RECORD", "record this crawl as a snapshot folder (replays identically later)"),
    "top": Argument("ORSTATS_TOP", "fetch the splits of the top N model-variants, or 'all' "
                                   "(default: until ORSTATS_SPEND_COVERAGE of the spend is guaranteed)", _top),
    "force": Argument("ORSTATS_FORCE", "1 publishes a week the quality gate rejects (stored as forced)", switch),
}

# The archive spider's: the same replay, record and force, and the Monday weeks to ask for.
ARCHIVE_ARGUMENTS = {
    **{name: CRAWL_ARGUMENTS[name] for name in ("snapshot", "record", "force")},
    "since": Argument("ORSTATS_ARCHIVE_SINCE", "the first Monday week to ask for, YYYY-MM-DD"),
    "until": Argument("ORSTATS_ARCHIVE_UNTIL", "the last day to ask for, YYYY-MM-DD (default: today)"),
}


def as_settings(arguments: dict[str, Any], settings: Any,
                accepted: dict[str, Argument] = CRAWL_ARGUMENTS) -> dict[str, Any]:
    """The settings the spider's arguments stand for, checked (an argument the spider does not accept
    is a ``UsageError`` naming the accepted ones); with the crawl's id (Scrapyd's job id `_job` when
    it runs the crawl, else a timestamp and a random suffix) unless one is set already."""
    unknown = sorted(set(arguments) - set(accepted) - set(SCRAPYD_ARGUMENTS))
    if unknown:
        raise UsageError(f"-a {unknown[0]}={arguments[unknown[0]]!r}: no such argument; accepted: "
                         + ", ".join(accepted))
    found = {accepted[name].setting: accepted[name].check(name, value)
             for name, value in arguments.items() if name in accepted}
    if arguments.get("_job"):
        found["ORSTATS_CRAWL_ID"] = str(arguments["_job"])
    elif not settings.get("ORSTATS_CRAWL_ID"):
        found["ORSTATS_CRAWL_ID"] = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
    return found


def describe(accepted: dict[str, Argument]) -> list[str]:
    """One line per argument, for `scrapy crawl SPIDER -h`."""
    return [f"  -a {name + '=...':<13} {argument.meaning} ({argument.setting})" for name, argument in accepted.items()]


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


def optional_day(value: Any) -> date | None:
    """An empty value is None (the component's own default, today); anything else a YYYY-MM-DD day."""
    if value is None or str(value).strip() == "":
        return None
    return date.fromisoformat(str(value).strip())


@dataclass(frozen=True)
class Rule:
    """What a setting must be: ``read`` gets it as its component does (Scrapy's getters), ``accepts``
    tests what was read, ``expects`` says what to give instead."""

    read: Callable[[Any, str], Any]
    accepts: Callable[[Any], bool]
    expects: str


def _number(settings: Any, name: str) -> float:
    return settings.getfloat(name)


def _whole(settings: Any, name: str) -> int:
    return settings.getint(name)


def _text(settings: Any, name: str) -> Any:
    return settings.get(name)


def _day(settings: Any, name: str) -> date:
    return date.fromisoformat(str(settings.get(name)))


def _http_url(value: Any) -> bool:
    parsed = urlparse(str(value))
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc)


def _finite(low: float, high: float = math.inf, low_open: bool = False) -> Callable[[float], bool]:
    return lambda value: math.isfinite(value) and (low < value if low_open else low <= value) and value <= high


SHARE = Rule(_number, _finite(0, 1), "a share from 0 to 1 (0.9 is 90 %)")
TARGET = Rule(_number, _finite(0, 1, low_open=True), "a share above 0 and at most 1 (0.95 is 95 %)")
TOLERANCE = Rule(_number, _finite(0), "a fraction of 0 or more (0.02 is 2 %)")
FACTOR = Rule(_number, _finite(1), "a factor of 1 or more")
SECONDS = Rule(_number, _finite(0), "a number of seconds, 0 or more")
USD_PER_MILLION = Rule(_number, _finite(0, low_open=True), "a price in $ per million tokens above 0")
COUNT = Rule(_whole, lambda value: value >= 1, "a whole number of 1 or more")
BUDGET = Rule(_whole, lambda value: value >= 0, "a whole number of 0 or more")
SWITCH = Rule(lambda settings, name: settings.getbool(name), lambda value: True, "1 or 0 (true or false)")
DAY = Rule(_day, lambda value: True, "a date as YYYY-MM-DD")
OPTIONAL_DAY = Rule(lambda settings, name: optional_day(settings.get(name)), lambda value: True,
                    "a date as YYYY-MM-DD, or nothing (today)")
URL = Rule(_text, _http_url, "an http(s) URL with a host, e.g. https://openrouter.ai")
OPTIONAL_URL = Rule(_text, lambda value: not value or _http_url(value), "an http(s) URL with a host, or nothing")
TEXT = Rule(_text, lambda value: True, "text")  # a path or an id: checked where it is opened or used
SPLITS = Rule(lambda settings, name: top(settings.get(name)), lambda value: True,
              "a positive number of splits, or 'all'")
METHOD = Rule(_text, lambda value: value in METHODS, f"one of {', '.join(METHODS)}")

# Every setting of the project (settings.py), and what it must be.
SETTING_RULES: dict[str, Rule] = {
    "OPENROUTER_BASE_URL": URL,
    "ORSTATS_DB": TEXT,
    "ORSTATS_REPORT_DIR": TEXT,
    "ORSTATS_SNAPSHOT": TEXT,
    "ORSTATS_RECORD": TEXT,
    "ORSTATS_TOP": SPLITS,
    "ORSTATS_FORCE": SWITCH,
    "ORSTATS_CRAWL_ID": TEXT,
    "ORSTATS_SPEND_COVERAGE": TARGET,
    "ORSTATS_MIN_SPEND_COVERAGE": SHARE,
    "ORSTATS_MIN_TOKEN_COVERAGE": SHARE,
    "ORSTATS_MIN_BEST_COVERAGE": SHARE,
    "ORSTATS_MIN_MODEL_RATIO": SHARE,
    "ORSTATS_LEADERBOARD_TOLERANCE": TOLERANCE,
    "ORSTATS_CHART_TOLERANCE": TOLERANCE,
    "ORSTATS_MAX_PRICE_MOVE": FACTOR,
    "ORSTATS_EFFECTIVE_MOVE_TOLERANCE": FACTOR,
    "ORSTATS_PRICE_MOVE_MIN_SPEND": SHARE,
    "ORSTATS_MAX_LIST_PRICE": USD_PER_MILLION,
    "ORSTATS_MAX_UNKNOWN_SHARE": SHARE,
    "ORSTATS_EFFECTIVE_MATERIAL_SHARE": SHARE,
    "ORSTATS_EFFECTIVE_MAX_OVER_LIST": FACTOR,
    "ORSTATS_EFFECTIVE_MIN_OF_LIST": TARGET,
    "ORSTATS_EFFECTIVE_SMALL_RATIO": FACTOR,
    "ORSTATS_MAX_EFFECTIVE_MOVE": FACTOR,
    "ORSTATS_MAX_CONFIRMED_PRICE_MOVE": FACTOR,
    "ORSTATS_MAX_BASIS_SWITCH_SHARE": SHARE,
    "ORSTATS_PRICE_DRIFT_CRAWLS": COUNT,
    "ORSTATS_MAX_CHART_GAP": FACTOR,
    "ORSTATS_MAX_WEEK_MOVE": FACTOR,
    "ORSTATS_MAX_JUMP_SPEND_SHARE": SHARE,
    "ORSTATS_UNREACHABLE_RETRIES": BUDGET,
    "ORSTATS_RETRY_BACKOFF_BASE": SECONDS,
    "ORSTATS_RETRY_BACKOFF_MAX": SECONDS,
    "ORSTATS_RETRY_AFTER_MAX": SECONDS,
    "ORSTATS_EFFECTIVE_PRICES": SWITCH,
    "ORSTATS_DATA_API_START": DAY,
    "ORSTATS_DATA_API_WINDOW_DAYS": COUNT,
    "ORSTATS_DATA_API_MAX_REQUESTS": BUDGET,
    "ORSTATS_DATA_API_MAX_RETRY_AFTER": SECONDS,
    "ORSTATS_DATA_API_INTERVAL": SECONDS,
    "ORSTATS_IMPORT_BACKFILL_PRICES_ON": DAY,
    "ORSTATS_REVENUE_METHOD": METHOD,
    "ORSTATS_REPORT_TABLE_ROWS": COUNT,
    "ORSTATS_REPORT_OUTLIER_FACTOR": FACTOR,
    "ORSTATS_ARCHIVE_URL": URL,
    "ORSTATS_ARCHIVE_SINCE": DAY,
    "ORSTATS_ARCHIVE_UNTIL": OPTIONAL_DAY,
    "ORSTATS_ARCHIVE_DAILY_CAP": BUDGET,
    "ORSTATS_ARCHIVE_DOWNLOAD_DELAY": SECONDS,
    "ORSTATS_ARCHIVE_TIMEOUT": SECONDS,
    "ORSTATS_ALLOWED_URL": OPTIONAL_URL,
}


def check_settings(settings: Any, names: list[str] | None = None) -> None:
    """Check the named settings (all of the project's by default): the first value that cannot be
    used is a ``UsageError`` naming the setting, its value and what to give instead."""
    for name in names or SETTING_RULES:
        rule = SETTING_RULES[name]
        try:
            accepted = rule.accepts(rule.read(settings, name))
        except (ValueError, TypeError):  # UsageError too: named as a setting here, not as -a
            accepted = False
        if not accepted:
            raise UsageError(f"setting {name}={settings.get(name)!r}: give {rule.expects}")
