"""What a reader of the report trips on: the model table explains each estimate (cached %, prompt %,
completion %, the prices of its own basis) and marks an estimate whose effective and list figures
disagree; every method's range holds its headline; the front page never leads with a week whose
every revenue is unknown, and an import re-renders it as a crawl does (the README's order)."""

from __future__ import annotations

import re
from itertools import takewhile

import pytest_twisted

from tests import capture_oracle
from tests.anchor_factory import SAMPLE_FOLDER
from tests.conftest import ROOT, scrapy_here, shared_capture
from tests.factory import DEMO_FOLDER
from tests.test_report import cells, section, summary

MONEY = r"\$[\d.]+[KM]?"


def breakdown_rows(text: str) -> dict[str, dict[str, str]]:
    """The main model table of Model Breakdown, by model name, each row by header."""
    lines = section(text, "Model Breakdown").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    lines = list(takewhile(lambda line: line.startswith("|"), lines[start:]))
    headers = cells(lines[0])
    rows = [dict(zip(headers, cells(line))) for line in lines[2:]]
    return {re.sub(r"^\[(.*)\]\(.*\)$", r"\1", row["Model"]): row for row in rows}


def test_the_capture_report_explains_each_model_and_marks_glm_5_2(capture_2026_08_08):
    capture = shared_capture("openrouter-2026-08-08")
    text = capture_2026_08_08.report.read_text(encoding="utf-8")
    rows = breakdown_rows(text)
    assert list(next(iter(rows.values()))) == ["#", "Model", "Tokens", "Cached %", "Prompt %", "Compl. %",
                                               "Price in / out ($/M)", "Basis", "Est. revenue", "WoW"]
    # "#" is the place in this revenue-sorted table
    assert [row["#"] for row in rows.values()] == [str(n) for n in range(1, len(rows) + 1)]

    # Checked against the raw capture, read by tests/capture_oracle.py (no project code).
    oracle = {(row.permaslug, row.variant): row
              for row in capture_oracle.leaderboard_rows(capture_oracle.Capture(capture))}
    glm = oracle[("z-ai/glm-5.2-20260616", "standard")]
    split = glm.split
    row = rows["GLM 5.2"]
    assert row["Cached %"] == f"{100 * split.cached / split.prompt:.1f}%"
    assert row["Prompt %"] == f"{100 * split.prompt / split.tokens:.1f}%"
    assert row["Compl. %"] == f"{100 * split.completion / split.tokens:.1f}%"
    # its basis is effective: its prices are what its traffic paid, not the catalogue's
    assert row["Basis"] == "effective"
    assert row["Price in / out ($/M)"] == f"${glm.effective.input:.4f} / ${glm.effective.output:.2f}"
    times = glm.effective_usd / glm.true_list
    assert round(times, 1) == 4.8 and row["Est. revenue"].endswith(" ⚠")
    [note] = [line for line in section(text, "Model Breakdown").splitlines() if line.startswith("⚠ ")]
    assert note.startswith(f"⚠ GLM 5.2: paid ${glm.effective_usd / 1e6:.2f}M, {times:.1f}x its list-price estimate")
    # no other row of the table differs that much (the default factor is 3)
    assert [name for name, r in rows.items() if r["Est. revenue"].endswith("⚠")] == ["GLM 5.2"]
    assert "(see the [Glossary](#glossary))" in text and "\n### Glossary\n" in text


@pytest_twisted.ensureDeferred
async def test_every_method_has_a_range_that_holds_its_headline(tmp_path, demo_snapshot):
    db = tmp_path / "history.db"
    crawled = await scrapy_here("crawl", "rankings", "-a", f"snapshot={demo_snapshot}", "-a", "top=all",
                                f"-sORSTATS_DB={db}")
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    for method in ("best", "list", "effective", "seed"):
        out = tmp_path / method
        done = await scrapy_here("report", "--db", str(db), "--output", str(out),
                                 "-s", f"ORSTATS_REVENUE_METHOD={method}")
        assert done.returncode == 0, done.stderr
        text = (out / "README.md").read_text(encoding="utf-8")
        headline = summary(text)["Estimated weekly revenue"]
        figure, low, high = (float(value) for value in re.findall(r"\$([\d.]+)M", headline)[:3])
        assert low <= figure <= high, (method, headline)
        if method == "seed":  # the earlier project's figure, above list prices with no cache discount
            assert headline.startswith("**$6.25M**") and "range $2.82M to $6.25M" in headline
        takeaway = text.split("**Takeaway:**")[1].split("\n\n")[0]
        assert ("the best estimate" in takeaway) == (method != "best"), (method, takeaway)


@pytest_twisted.ensureDeferred
async def test_the_readme_order_demo_crawl_then_import_leaves_a_figure_on_the_front_page(tmp_path):
    """The README's commands in order, into a history of the test's own: the import re-renders the
    report like a crawl, and the front page leads with the latest week that has a known estimate, not
    the sample's last week (every split unknown)."""
    db = tmp_path / "data" / "history.db"
    crawl = await scrapy_here("crawl", "rankings", "-a", f"snapshot={ROOT / DEMO_FOLDER}", "-a", "top=all",
                              f"-sORSTATS_DB={db}")
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    front = tmp_path / "data" / "reports" / "README.md"
    before = front.read_text(encoding="utf-8")
    imported = await scrapy_here("import-history", str(ROOT / SAMPLE_FOLDER), "--db", str(db))
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert f"report written to {front}" in imported.stdout
    text = front.read_text(encoding="utf-8")
    assert text != before
    headline = summary(text)["Estimated weekly revenue"]
    assert re.match(rf"\*\*{MONEY}\*\*", headline), headline
    # the latest sample week with an estimate, not the all-unknown one (2026-05-04 to 2026-05-10)
    assert "(week 2026-04-27 to 2026-05-03, 7 complete UTC days)" in text
    assert (tmp_path / "data" / "reports" / "weekly" / "2026-05-10.md").is_file()  # it has its own page
