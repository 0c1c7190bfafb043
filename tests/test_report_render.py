"""The report's pages rendered as GitHub renders them (tests/render: markdown-it, github-markdown-css,
mermaid in headless Chromium) at the lowest and the newest mermaid version the report supports. First,
each check of the renderer is shown to fail on a page made to fail it: a broken diagram, crowded axis
labels, a page that reaches for the network. Then the reports the crawler writes, for the demo snapshot
and the 2026-08-08 capture, must show none of it at either version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytest_twisted

from tests.mermaid_tools import mermaid_blocks, xychart_series
from tests.render_tools import findings, mermaid_versions, page_of, render, renderer, summary
from tests.test_report import crawl_demo, crawl_hostile
from tests.test_report import summary as summary_rows

pytestmark = pytest.mark.integration

VERSIONS = mermaid_versions()
PROSE_WORDS = 500  # a page's prose outside tables and code (the seed README: 224)
# mermaid draws xAxis.labelRotation from 11.16 on; older versions ignore it and draw labels upright.
ROTATES = {version: tuple(map(int, version.split(".")[:2])) >= (11, 16) for version in VERSIONS}


def xychart(labels: list[str], directive: str = "", header: str = "xychart-beta") -> str:
    values = ", ".join(str(index + 1) for index in range(len(labels)))
    quoted = ", ".join(f'"{label}"' for label in labels)
    return f"```mermaid\n{header}\n{directive}    x-axis [{quoted}]\n    bar [{values}]\n```\n"


PAGES = {
    "broken": "# Broken\n\n```mermaid\npie showData\n    \"ok\" : 1\n```\n\n"
              "```mermaid\nxychart-beta\n    x-axis [\"a\", \"b\"]\n    bar [1, 3e2]\n```\n",
    "labels": "# Labels\n\n"
              + xychart([f"Model name number {index:02}" for index in range(30)]) + "\n"
              + xychart(["a", "b", "c"]) + "\n"
              + xychart([f"Model name {index:02}" for index in range(12)],
                        '    %%{init: {"xyChart": {"xAxis": {"labelRotation": 45}}}}%%\n') + "\n"
              + xychart(["Gemini 3 Flash Preview", "Claude Opus 5"], header="xychart-beta horizontal"),
    "network": "# Network\n\n![remote](https://example.com/chart.png)\n\n"
               "<script src=\"https://cdn.example.org/mermaid.js\"></script>\n",
    "prose": "# Two words\n\nThree prose words `and inline code`.\n\n"
             "| Table | words |\n| --- | --- |\n| are | not prose |\n\n```\ncode is not prose\n```\n\n"
             "## Section\n\n<details><summary>Open me</summary>\n\nCollapsed words count too.\n\n</details>\n",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every page above at every version, in one browser run; screenshots under the test's tmp folder."""
    renderer()
    folder = tmp_path_factory.mktemp("render-self-test")
    paths = {}
    for name, text in PAGES.items():
        paths[name] = folder / f"{name}.md"
        paths[name].write_text(text, encoding="utf-8")
    rendering = render(paths.values(), folder / "out")
    print(f"screenshots: {folder / 'out'}")
    return lambda name, version: page_of(rendering, paths[name], version)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_broken_diagram_is_an_error_and_a_good_one_is_not(rendered, version):
    page = rendered("broken", version)
    pie, broken = page["blocks"]
    assert (pie["type"], pie["error"], pie["line"]) == ("pie", None, 3)
    assert [entry["text"] for entry in pie["legend"]] == ["ok [1]"]
    assert broken["type"] == "xychart" and broken["line"] == 8
    for sign in ("render threw: Parse error on line 3", "error diagram", "error-icon elements", "'Syntax error' text"):
        assert sign in broken["error"], broken["error"]
    assert [finding for finding in page["findings"] if "block 2 (xychart-beta)" in finding] == page["findings"]
    assert page["network_attempts"] == [] and page["page_errors"] == []
    assert Path(page["screenshot"]).stat().st_size > 0


def boxes_overlap(first: dict, second: dict) -> bool:
    return first["x"] < second["x"] + second["width"] and second["x"] < first["x"] + first["width"] \
        and first["y"] < second["y"] + second["height"] and second["y"] < first["y"] + first["height"]


@pytest.mark.parametrize("version", VERSIONS)
def test_crowded_axis_labels_overlap_and_few_short_ones_do_not(rendered, version):
    crowded, few, rotated, _ = rendered("labels", version)["blocks"]
    assert crowded["error"] is None and crowded["x_axis"] == "bottom"
    bottom = crowded["axes"]["bottom"]
    assert [label["text"] for label in bottom["labels"]] == [f"Model name number {index:02}" for index in range(30)]
    assert [0, 1] in bottom["overlaps"]
    assert few["error"] is None and [label["text"] for label in few["axes"]["bottom"]["labels"]] == ["a", "b", "c"]
    assert all(axis["overlaps"] == [] for axis in few["axes"].values()), few["axes"]

    # 45-degree labels: their upright bounding boxes overlap, the rotated boxes that are drawn do not.
    labels = rotated["axes"]["bottom"]["labels"]
    if ROTATES[version]:
        assert boxes_overlap(labels[0]["box"], labels[1]["box"])
        assert rotated["axes"]["bottom"]["overlaps"] == []
    else:
        assert labels[0]["box"]["height"] < 20  # upright
        assert [0, 1] in rotated["axes"]["bottom"]["overlaps"]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_horizontal_chart_has_its_x_axis_on_the_left(rendered, version):
    horizontal = rendered("labels", version)["blocks"][3]
    assert horizontal["x_axis"] == "left"
    assert [label["text"] for label in horizontal["axes"]["left"]["labels"]] == ["Gemini 3 Flash Preview",
                                                                                "Claude Opus 5"]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_page_that_reaches_for_the_network_is_caught(rendered, version):
    page = rendered("network", version)
    assert page["network_attempts"] == ["https://example.com/chart.png", "https://cdn.example.org/mermaid.js"]
    assert [re.sub(r".*: tried the network: ", "", finding) for finding in page["findings"]] \
        == page["network_attempts"]


@pytest.mark.parametrize("version", VERSIONS)
def test_prose_words_leave_out_tables_and_code(rendered, version):
    page = rendered("prose", version)
    assert page["prose_words"] == 2 + 3 + 1 + 2 + 4
    assert page["section_words"] == [{"heading": "", "words": 5}, {"heading": "Section", "words": 7}]
    assert page["width_px"] == 1012 and page["height_px"] > 200
    assert rendered("labels", version)["height_px"] > 3 * 500


# --- the crawler's reports ---------------------------------------------------------------------

def assert_renders_cleanly(reports: Path, out: Path) -> None:
    """README.md and every weekly page, at every version: no error graphic, no overlapping labels on any
    axis, no request beyond this machine, no error in the page. The screenshots stay in ``out``."""
    weekly = sorted((reports / "weekly").glob("*.md"))
    assert weekly, f"no weekly page in {reports}"
    rendering = render([reports / "README.md", *weekly], out)
    print(f"screenshots: {out}\n{summary(rendering)}")
    assert all(page["blocks"] for page in rendering["pages"]), summary(rendering)
    problems = findings(rendering)
    assert not problems, f"screenshots in {out}:\n" + "\n".join(problems)
    # Taken in at a glance: a Summary of at most five rows (OpenRouter's take the fifth), about 500 words
    # of prose at most.
    for page in rendering["pages"]:
        assert page["prose_words"] < PROSE_WORDS, page["summary"]
    for markdown in {Path(page["markdown"]) for page in rendering["pages"]}:
        assert len(summary_rows(markdown.read_text(encoding="utf-8"))) <= 5, markdown
    assert_every_x_label_drawn(rendering)


def assert_every_x_label_drawn(rendering: dict) -> None:
    """Mermaid drops all of an axis' labels when one is too long for it: every x label of the source
    must be drawn."""
    for page in rendering["pages"]:
        sources = mermaid_blocks(Path(page["markdown"]).read_text(encoding="utf-8"))
        for block in page["blocks"]:
            if block["type"] != "xychart":
                continue
            [labels] = xychart_series(sources[block["index"] - 1])["x-axis"]
            drawn = [label["text"] for label in block["axes"].get(block["x_axis"], {}).get("labels", [])]
            assert drawn == labels, f"{page['summary']}: block {block['index']} draws {len(drawn)} of {len(labels)}"


@pytest_twisted.ensureDeferred
async def test_the_demo_report_renders_cleanly(tmp_path):
    renderer()  # skip (or fail in CI) before the crawl when the renderer is missing
    await crawl_demo(tmp_path)
    assert_renders_cleanly(tmp_path / "reports", tmp_path / "rendered")


def test_the_2026_08_08_report_renders_cleanly(capture_2026_08_08, tmp_path):
    renderer()
    assert_renders_cleanly(capture_2026_08_08.report.parent, tmp_path / "rendered")


@pytest_twisted.ensureDeferred
async def test_a_report_of_long_hostile_names_renders_cleanly(tmp_path):
    """Names of 60 characters and more (mermaid would drop every name of the axis) and markup."""
    renderer()
    readme = await crawl_hostile(tmp_path)
    assert_renders_cleanly(readme.parent, tmp_path / "rendered")
