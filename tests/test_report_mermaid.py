"""Every mermaid block of a real week's report parses with mermaid's own parser (node + jsdom,
tests/mermaid), and that parser does reject what GitHub would show as a broken chart."""

from __future__ import annotations

import re

import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.report import format as fmt
from tests.conftest import crawl, shared_capture
from tests.mermaid_tools import (assert_mermaid_parses, check_xychart_lengths, mermaid_blocks, node_parser,
                                 parse_with_mermaid)
from tests.test_report import assert_monday_series, monday_totals


def test_the_parser_rejects_a_broken_chart(tmp_path):
    node_parser()
    broken = tmp_path / "broken.md"
    broken.write_text("# x\n\n```mermaid\npie showData\n    \"ok\" : 1\n```\n\n"
                      "```mermaid\nxychart-beta\n    x-axis [\"a\", \"b\"]\n    bar [1, 3e2]\n```\n", encoding="utf-8")
    result = parse_with_mermaid(broken)
    assert result.returncode == 1
    assert re.search(r"FAIL .*broken\.md:8 block 2 \(xychart-beta\): Parse error on line 3",
                     result.stderr), result.stderr
    assert "ok " in result.stdout and "block 1 (pie showData): pie" in result.stdout


@pytest_twisted.ensureDeferred
async def test_the_2026_08_08_report_parses(tmp_path):
    capture = shared_capture("openrouter-2026-08-08")
    node_parser()  # skip (or fail in CI) before the crawl when the parser is missing
    db, reports = tmp_path / "history.db", tmp_path / "reports"
    result = await crawl({"ORSTATS_DB": str(db), "ORSTATS_REPORT_DIR": str(reports), "ORSTATS_REVENUE_METHOD": "list"},
                         snapshot=str(capture))
    assert result.status == "published"
    readme = reports / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert len(mermaid_blocks(text)) == 4
    assert check_xychart_lengths(text) == 2
    assert_mermaid_parses(readme)

    # The headline is the sum over the model-variants whose revenue is known, with their count.
    [week] = Database(db).query("SELECT SUM(revenue_list_usd) AS usd, COUNT(revenue_list_usd) AS known, "
                                "COUNT(*) AS models FROM weekly_revenue")
    assert f"**{fmt.usd(week['usd'])}** (list price, cached tokens counted once; revenue known for " \
           f"{week['known']} of {week['models']} model-variants" in text
    # 2026-08-01..07 is not a Monday week of the chart: coverage is stated against the leaderboard.
    assert "no chart week covers these days" in text

    # The time series is the 51 finished weeks of its chart, three of them measured from the daily
    # activity (the partial 2026-08-03 week is the chart's, modeled), labels on end.
    rows = monday_totals(db)
    assert len(rows) == 51 and rows[-1]["week_end"] == "2026-08-09"
    assert [row["week_end"] for row in rows if row["basis"] == "measured"] == ["2026-07-19", "2026-07-26", "2026-08-02"]
    weekly = assert_monday_series(text, rows)
    assert weekly[0][1] == "modeled (7 modeled, 2 volume only)" and weekly[0][6] == "seen that week"
    assert '"labelRotation": 90' in mermaid_blocks(text)[0]
