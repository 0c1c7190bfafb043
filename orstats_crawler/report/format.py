"""How numbers and names are written in the report: the seed README's forms ($6.25M, 5.57T, 98.3%,
$3.00/M, +222%), "n/a" for anything unknown, and names made safe for markdown tables and mermaid.

Every function takes ``None`` for unknown and answers "n/a": an unknown figure is never printed as 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

# Counts and prices are written as everywhere else (numbers.py); the report's own forms follow.
from orstats_crawler.numbers import FREE, NA, plain, price, tokens  # noqa: F401
from orstats_crawler.numbers import SCALES as _SCALES
from orstats_crawler.numbers import known as _known
from orstats_crawler.numbers import per_million_text as _per_million


def usd(value: float | None) -> str:
    """$6.25M, $613.2K, $512.40, $0.00 (a known zero), n/a."""
    if not _known(value):
        return NA
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1e6:
        for scale, suffix in _SCALES[:3]:
            if value >= scale:
                return f"{sign}${value / scale:.2f}{suffix}"
    if value >= 1e3:
        return f"{sign}${value / 1e3:.1f}K"
    return f"{sign}${value:.2f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: 0.9828 -> 98.3%."""
    if not _known(value):
        return NA
    return f"{value * 100:.{digits}f}%"


def ratio(part: float | None, whole: float | None, digits: int = 1) -> str:
    """part / whole as a percentage; n/a when either is unknown or the whole is 0."""
    if not _known(part) or not _known(whole) or not whole:
        return NA
    return percent(part / whole, digits)


def change(value: float | None, missing: str = NA, digits: int = 0) -> str:
    """Week over week as a signed percentage: 2.22 -> +222%, -0.09 -> -9% (0.0123 -> +1.2% with one
    digit); ``missing`` when there is nothing to compare with."""
    if not _known(value):
        return missing
    rounded = round(value * 100, digits)
    text = f"{rounded:.{digits}f}"
    return f"{'+' if rounded > 0 else '-' if rounded < 0 else ''}{text.lstrip('-')}%"


def prices(prompt: float | None, completion: float | None, is_free: bool = False) -> str:
    """A model-variant's input and output prices per million tokens: $3.00 / $15.00, Free, n/a."""
    if is_free:
        return FREE
    if not _known(prompt) or not _known(completion):
        return NA
    return f"${_per_million(prompt)} / ${_per_million(completion)}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """1 free one, 2 free ones: ``plural`` where adding an s will not do."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


# --- names ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# Markdown punctuation that could open a link, code span, emphasis, strike-through, HTML, an
# entity or math, or end a table cell; CommonMark lets any ASCII punctuation be backslash-escaped.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$])")
# What a mermaid label keeps: letters, digits and plain punctuation. Quotes cannot be escaped in a
# label, `#...;` is mermaid's entity syntax and `<`/`&` would reach the SVG as markup.
_MERMAID_UNSAFE = re.compile(r"[^\w .,:()/+\-'!?@%*=~]+")


def one_line(text: str | None) -> str:
    return " ".join(_CONTROL.sub(" ", text or "").split())


def md(text: str | None) -> str:
    """A name made inert in markdown, table cells included: one line, special characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text))


def mermaid_label(text: str | None) -> str:
    """A name as a mermaid label (written between double quotes): unsafe characters become spaces."""
    label = " ".join(_MERMAID_UNSAFE.sub(" ", one_line(text).replace('"', "'")).split())
    return label or "?"


def unique(labels: list[str], fits: Callable[[str], bool] | None = None) -> list[str]:
    """Labels made distinct (a pie or an axis merges equal labels): repeats get ~2, ~3 ..., their
    name shortened until the label ``fits`` where a width is given."""
    seen: set[str] = set()
    result = []
    for label in labels:
        candidate, n = label, 1
        while candidate in seen:
            n += 1
            suffix = f"~{n}"
            base = label
            while fits is not None and len(base) > 1 and not fits(base + suffix):
                base = base[:-1]
            candidate = base + suffix
        seen.add(candidate)
        result.append(candidate)
    return result


def model_url(public_id: str | None, permaslug: str) -> str:
    """The model's page; the path is percent-encoded so no name can break out of the link."""
    return "https://openrouter.ai/" + quote(one_line(public_id or permaslug), safe="/:.-_~")
