#!/usr/bin/env python3
"""The verdict of one crawl as markdown, for the workflow's job summary ($GITHUB_STEP_SUMMARY).

    verdict-summary.py --db PATH --crawl-id ID --exit-code CODE [--github-output FILE]

Reads the crawl's row in the history's `crawls` table (read-only: this never creates or changes a
history): its status, its week and every check that did not pass, with the exit code of
`scrapy crawl` (README, exit codes). The crawl id is the one the workflow gave the crawl
(`-a _job=ID`), so a crawl that stored no verdict is never shown another crawl's. With
--github-output, appends `status=` and `week=` lines to that file (the step's outputs).
Always writes a summary and exits 0 (the workflow fails the job on the crawl's own exit code).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from pathlib import Path

OUTCOMES = {  # exit code of `scrapy crawl` -> what the run did
    "0": "published",
    "1": "failed: nothing published (could not start, history unavailable, site unreachable or no verdict stored)",
    "2": "usage error: nothing crawled",
    "3": "rejected by the quality gate: the data is kept in the history, the published week and reports/ are not "
         "changed",
    "4": "published, but the report could not be written: the history holds the week, reports/ not committed "
         "(`scrapy report` writes it again)",
    "": "the crawl did not run: an earlier step failed",
}
MESSAGE_LIMIT = 1000  # characters of one check's message; the log has all of it
# What starts markdown or HTML inside a table cell: emphasis, code, links, tags, entities, the cell's end.
SYNTAX = re.compile(r"([\\`*_\[\]<>|&~#!])")


def cell(text: str) -> str:
    """``text`` as one table cell that shows literally (model names in messages may hold markdown,
    HTML or `|`): its syntax characters backslash-escaped, on one line."""
    text = " ".join(str(text).split())
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT] + "..."
    return SYNTAX.sub(r"\\\1", text)


def read_crawl(db_path: Path, crawl_id: str) -> tuple[dict | None, str | None]:
    """The crawl's row, or None and a line that says what is known instead."""
    if not db_path.is_file():
        return None, f"no history at {db_path}"
    try:
        with sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("select * from crawls where id = ?", [crawl_id]).fetchone()
            if row is not None:
                return dict(row), None
            latest = db.execute("select id, status, week_end from crawls order by started_at desc limit 1").fetchone()
    except sqlite3.DatabaseError as error:
        return None, f"the history at {db_path} cannot be read: {error}"
    before = (f"; the latest stored crawl is {latest['id']} ({latest['status']}, week ending {latest['week_end']})"
              if latest else "; the history holds no crawl")
    return None, f"no verdict stored for crawl {crawl_id}{before}"


def checks_of(crawl: dict) -> list[dict]:
    try:
        checks = json.loads(crawl.get("checks") or "[]")
    except json.JSONDecodeError:
        return [{"name": "checks", "result": "unreadable", "message": crawl["checks"]}]
    return [check for check in checks if isinstance(check, dict)]


def week_of(crawl: dict) -> str:
    if crawl.get("week_start") and crawl.get("week_end"):
        return f"{crawl['week_start']}..{crawl['week_end']}"
    return "unknown"


def summary(crawl: dict | None, missing: str | None, crawl_id: str, exit_code: str) -> list[str]:
    outcome = OUTCOMES.get(exit_code, f"unexpected exit code {exit_code}")
    lines = [f"## Weekly crawl: {outcome}", "", "| | |", "|---|---|",
             f"| exit code | {cell(exit_code or 'none')} |", f"| crawl | {cell(crawl_id)} |"]
    if crawl is None:
        return [*lines, f"| verdict | {cell(missing)} |", ""]
    checks = checks_of(crawl)
    counts = {}
    for check in checks:
        counts[check.get("result")] = counts.get(check.get("result"), 0) + 1
    lines += [f"| status | {cell(crawl.get('status'))}{' (forced)' if crawl.get('forced') else ''} |",
              f"| week | {cell(week_of(crawl))} |",
              f"| checks | {cell(', '.join(f'{n} {result}' for result, n in sorted(counts.items())))} |", ""]
    noted = [check for check in checks if check.get("result") not in ("pass", "skip")]
    if noted:
        lines += ["### Checks that did not pass", "", "| check | result | message |", "|---|---|---|"]
        lines += [f"| {cell(c.get('name'))} | {cell(c.get('result'))} | {cell(c.get('message', ''))} |"
                  for c in sorted(noted, key=lambda c: (c.get("result") != "fail", str(c.get("name"))))]
        lines.append("")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--crawl-id", required=True)
    parser.add_argument("--exit-code", required=True, help="of `scrapy crawl`; empty when it did not run")
    parser.add_argument("--github-output", type=Path)
    args = parser.parse_args(argv)
    crawl, missing = read_crawl(args.db, args.crawl_id)
    print("\n".join(summary(crawl, missing, args.crawl_id, args.exit_code.strip())))
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as outputs:
            outputs.write(f"status={(crawl or {}).get('status') or 'none'}\n")
            outputs.write(f"week={week_of(crawl) if crawl else 'unknown'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
