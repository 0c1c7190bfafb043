"""The quality gate: a crawl is published only when its week is complete and believable.

Each check returns a dict ``{"name", "result": pass|flag|fail, "message"}``; the exporter stores
them in the ``crawls`` row, puts each result in the crawler stats (``orstats/check/<name>``) and
logs every failure. Any ``fail`` rejects the crawl (its data is kept, the published week and the
report stay as they were) unless the spider ran with ``-a force=1``. A ``flag`` publishes, marked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from orstats_crawler.history.store import PUBLISHED, REJECTED, CrawlItems, WeekSummary

PASS, FLAG, FAIL = "pass", "flag", "fail"


@dataclass
class Verdict:
    checks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, result: str, message: str) -> None:
        self.checks.append({"name": name, "result": result, "message": message})

    @property
    def passed(self) -> bool:
        return all(check["result"] != FAIL for check in self.checks)

    def status(self, forced: bool = False) -> str:
        return PUBLISHED if self.passed or forced else REJECTED


def evaluate(items: CrawlItems, summary: WeekSummary, db: Database, settings: Any) -> Verdict:
    verdict = Verdict()
    check_structure(verdict, items, summary)
    check_split_coverage(verdict, summary, settings.getfloat("ORSTATS_MIN_SPEND_COVERAGE", 0.9))
    return verdict


def check_structure(verdict: Verdict, items: CrawlItems, summary: WeekSummary) -> None:
    """Every source we need answered in a shape we understand."""
    for source in ("prices", "leaderboard"):
        failures = [p for p in items.problems if p.source == source]
        answered = items.prices if source == "prices" else items.leaderboard
        if not answered:
            detail = "; ".join(f"{p.url} {p.field or ''}: {p.message}".strip() for p in failures) or "no rows"
            verdict.add(f"structure_{source}", FAIL, f"{source}: nothing usable ({detail})")
        else:
            verdict.add(f"structure_{source}", PASS, f"{source}: {len(answered)} rows")
    if summary.week_end is None:
        verdict.add("structure_week", FAIL, "no source said which days the week covers")


def check_split_coverage(verdict: Verdict, summary: WeekSummary, minimum: float) -> None:
    """The token split is measured for enough of the week's list-price spend."""
    if summary.coverage is None:
        verdict.add("split_coverage", FAIL, "split coverage unknown: no priced model-variant in the leaderboard")
        return
    missing = sorted((r for r in summary.rows if not r["split_source"] and r["upper_bound_usd"]),
                     key=lambda r: -r["upper_bound_usd"])
    message = (f"token split measured for {summary.coverage:.1%} of the week's list-price spend "
               f"(minimum {minimum:.0%})")
    if summary.coverage < minimum:
        names = ", ".join(f"{r['permaslug']}:{r['variant']}" for r in missing[:5])
        verdict.add("split_coverage", FAIL, f"{message}; missing split (model-activity) for {len(missing)} "
                                            f"model-variants, largest: {names}")
    else:
        verdict.add("split_coverage", PASS, message)
