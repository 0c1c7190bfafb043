"""Report pages rendered as GitHub renders them (tests/render/render-markdown.mjs: markdown-it,
github-markdown-css, mermaid in headless Chromium at each mermaid version of tests/render/package.json),
and what a reader would see wrong in them: error graphics, overlapping axis labels, network requests.

Node, the npm packages and Chromium come from `.ci/setup-tools`; without them a render skips, or fails
under ORSTATS_REQUIRE_TOOLS=1 (``tests.servers.tool_missing``).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Iterable

import pytest

from tests.servers import require_tool, tool_missing

RENDER_DIR = Path(__file__).resolve().parent / "render"
SCRIPT = RENDER_DIR / "render-markdown.mjs"
CHROMIUM = "/usr/bin/chromium"
# A report of a few pages at two versions takes well under a minute; a hung browser must not hang CI.
TIMEOUT_S = 600


def dependencies() -> dict[str, str]:
    return json.loads((RENDER_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]


def mermaid_versions() -> list[str]:
    """The mermaid versions the report is rendered with, lowest first: the npm aliases of package.json
    ("mermaid-11-12": "npm:mermaid@11.12.2")."""
    versions = [spec.split("@")[-1] for spec in dependencies().values() if spec.startswith("npm:mermaid@")]
    return sorted(versions, key=lambda version: tuple(int(part) for part in re.findall(r"\d+", version)))


def renderer() -> list[str]:
    """The command that renders pages, or skip (fail under ORSTATS_REQUIRE_TOOLS=1)."""
    modules = RENDER_DIR / "node_modules"
    lacking = [name for name in dependencies() if not (modules / name / "package.json").is_file()]
    if lacking:
        tool_missing(f"{modules} lacks {', '.join(lacking)} (run .ci/setup-tools)")
    node = require_tool("node")
    chromium = require_tool("chromium", CHROMIUM)
    return [node, str(SCRIPT), "--chromium", chromium]


def render(markdown_paths: Iterable[Path], out_dir: Path, versions: Iterable[str] | None = None) -> dict[str, Any]:
    """Render each page at each mermaid version (all of package.json's by default) into ``out_dir``
    (an .html and a full-page .png per page and version) and return the measures: ``{"elapsed_s",
    "pages": [{"markdown", "mermaid", "screenshot", "height_px", "prose_words", "network_attempts",
    "page_errors", "blocks": [{"index", "line", "type", "error", "axes", "legend", ...}]}]}``."""
    command = renderer()
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / "render.json"
    report.unlink(missing_ok=True)
    for version in versions or mermaid_versions():
        command += ["--mermaid", version]
    command += ["--out", str(out_dir), "--json", str(report), *map(str, markdown_paths)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    if result.returncode not in (0, 1) or not report.is_file():  # 1 only says that something was found
        pytest.fail(f"rendering failed (exit {result.returncode}): {result.stderr.strip()}")
    return json.loads(report.read_text(encoding="utf-8"))


def page_of(rendering: dict[str, Any], markdown: Path, version: str) -> dict[str, Any]:
    [page] = [page for page in rendering["pages"]
              if Path(page["markdown"]) == markdown.resolve() and page["mermaid"] == version]
    return page


def findings(rendering: dict[str, Any]) -> list[str]:
    """Everything a reader would see wrong, over every page and version (one line each, naming page,
    version, block and line): an error graphic, overlapping tick labels on any axis of a chart, a request
    beyond this machine, an error thrown in the page."""
    return [finding for page in rendering["pages"] for finding in page["findings"]]


def summary(rendering: dict[str, Any]) -> str:
    """A line per page and version: size, prose words and the screenshot to open."""
    return "\n".join(page["summary"] for page in rendering["pages"])
