"""Every mermaid block of a real week's report, and of a week whose model names are hostile, parses
with mermaid's own parser (node + jsdom, tests/mermaid), and that parser does reject what GitHub would
show as a broken chart."""

from __future__ import annotations

import re

import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.report import format as fmt
from tests.conftest import crawl, shared_capture
from tests.mermaid_tools import (assert_mermaid_parses, check_xychart_lengths, mermaid_blocks, node_parser,
                                 parse_with_mermaid)
from tests.test_report import (assert_reads_in_short_paragraphs, assert_series, crawl_hostile, monday_series, section,
                               summary, table)


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
    assert len(mermaid_blocks(text)) == 6  # five charts and the providers
    assert check_xychart_lengths(text) == 4
    assert_mermaid_parses(readme)

    # The headline is the sum over the model-variants whose revenue is known; the counts add up.
    [week] = Database(db).query("SELECT * FROM weekly_totals")
    assert summary(text)["Estimated weekly revenue"].startswith(
        f"**{fmt.usd(week['revenue_list_usd'])}** (list prices, cached tokens counted once), range ")
    # 2026-08-01..07 is not a Monday week of the chart: no chart total to compare with.
    left_out = week["total_tokens"] - week["revenue_list_usd_tokens"]
    assert summary(text)["Tokens tracked"] == (f"**{fmt.tokens(week['total_tokens'])}** of {week['models']} "
                                               f"models; {fmt.tokens(left_out)} of them without an estimate")
    counts = re.match(r"(\d+) models this week: (\d+) paid ones with the largest estimates below, (\d+) more "
                      r"paid ones, (\d+) free ones and (\d+) without an estimate\.",
                      " ".join(section(text, "Model Breakdown").split()))
    models, top, rest, free, unknown = map(int, counts.groups())
    assert models == week["models"] == top + rest + free + unknown
    assert top + rest + free == week["revenue_list_usd_models"]
    assert len(table(section(text, "Model Breakdown"))) == top

    # The series is the Monday weeks up to the headline week: the last one ends 2026-08-02.
    rows = monday_series(db)
    assert rows[-1]["week_end"] == "2026-08-02"
    assert_series(text, rows)
    assert_reads_in_short_paragraphs(text)


@pytest_twisted.ensureDeferred
async def test_hostile_names_parse_in_mermaid(tmp_path):
    node_parser()  # skip (or fail in CI) before crawling when node is missing
    assert_mermaid_parses(await crawl_hostile(tmp_path))
