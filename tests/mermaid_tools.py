"""Checks of the mermaid blocks of a rendered report: mermaid's own parser under node
(tests/mermaid/check-markdown.mjs), and what that parser lets through (a series shorter or longer
than its x-axis is drawn wrong without any error), checked here in Python.

Node and the npm packages come from `.ci/setup-tools`; without them the parser test skips, or fails
under ORSTATS_REQUIRE_TOOLS=1 (``tests.servers.tool_missing``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.servers import tool_missing

MERMAID_DIR = Path(__file__).resolve().parent / "mermaid"
SCRIPT = MERMAID_DIR / "check-markdown.mjs"
FENCE = re.compile(r"^```mermaid[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
SERIES = re.compile(r"^\s*(x-axis|bar|line)\s*\[(.*)\]\s*$", re.M)


def mermaid_blocks(markdown: str) -> list[str]:
    return FENCE.findall(markdown)


def xychart_series(block: str) -> dict[str, list[list[str]]]:
    """{"x-axis": [[labels]], "bar": [[values]], "line": [[values], ...]} of one xychart block."""
    found: dict[str, list[list[str]]] = {"x-axis": [], "bar": [], "line": []}
    for kind, body in SERIES.findall(block):
        items = re.findall(r'"([^"]*)"', body) if kind == "x-axis" else [v.strip() for v in body.split(",")]
        found[kind].append(items)
    return found


DIRECTIVE = re.compile(r"^\s*%%\{.*\}%%\s*$", re.M)


def diagram(block: str) -> str:
    """A block without its init directives: the diagram type comes first."""
    return DIRECTIVE.sub("", block).lstrip()


def check_xychart_lengths(markdown: str) -> int:
    """Assert every bar and line of every xychart has one value per x-axis label; returns how many
    xycharts were checked."""
    checked = 0
    for block in mermaid_blocks(markdown):
        if not diagram(block).startswith("xychart"):
            continue
        series = xychart_series(block)
        assert len(series["x-axis"]) == 1, f"xychart without exactly one x-axis:\n{block}"
        width = len(series["x-axis"][0])
        for kind in ("bar", "line"):
            for values in series[kind]:
                assert len(values) == width, f"{kind} has {len(values)} values for {width} x-axis labels:\n{block}"
        checked += 1
    return checked


def node_parser() -> list[str]:
    """The command that runs mermaid's parser, or skip (fail under ORSTATS_REQUIRE_TOOLS=1)."""
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("node is not on PATH")
    if not (MERMAID_DIR / "node_modules" / "mermaid").is_dir() or not (MERMAID_DIR / "node_modules" / "jsdom").is_dir():
        missing.append(f"{MERMAID_DIR}/node_modules lacks mermaid or jsdom (run .ci/setup-tools)")
    if missing:
        tool_missing("mermaid parser unavailable: " + "; ".join(missing))
    return [node, str(SCRIPT)]


def parse_with_mermaid(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*node_parser(), *map(str, files)], capture_output=True, text=True, timeout=120)


def assert_mermaid_parses(*files: Path) -> None:
    result = parse_with_mermaid(*files)
    assert result.returncode == 0, f"mermaid rejected a block:\n{result.stderr}\n{result.stdout}"
    assert "ok " in result.stdout
