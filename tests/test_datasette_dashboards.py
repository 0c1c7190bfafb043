"""The dashboards of datasette/metadata.yml (datasette-dashboards) drawn in headless Chromium with every
request beyond the loopback host aborted: each chart a Vega view whose marks are those its query's rows
call for, no error and no warning in the page, nothing asked of another host. A screenshot of each
dashboard is kept (its path is printed).

The history is the README's: a crawl of the demo snapshot, then an import of the earlier project's
sample files (several Monday weeks, a gap, a week whose splits are unknown), in a file not named
history.db, served by deploy/datasette-server from a copy of the project (tests/deploy_scripts.py)
as database `history` all the same.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.anchor_factory import SAMPLE_FOLDER
from tests.conftest import ROOT, command_here
from tests.deploy_scripts import project_copy
from tests.factory import DEMO_FOLDER
from tests.render_tools import CHROMIUM, RENDER_DIR
from tests.servers import free_port, require_tool, tool_missing
from tests.test_datasette import read_metadata, read_only

pytestmark = pytest.mark.integration

DASHBOARDS = read_metadata()["plugins"]["datasette-dashboards"]
TOP_MODELS = 15  # the top_models chart's LIMIT
NAMED_LABS = 8  # lab_shares names the 8 labs with the most revenue, then sums the others

# Loads each URL in Chromium (tests/render/browser.mjs: a fresh profile, every request that is not for
# the loopback host aborted and recorded), waits until every chart card holds a Vega SVG with marks (or
# 30 s), then reports what a reader would see, and a full-page screenshot.
DRIVER = """
import { launch, watchNetwork } from %(browser)s;
const pages = %(pages)s;
const { context, close } = await launch(%(chromium)s);
const results = [];
try {
  for (const { url, screenshot } of pages) {
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    const attempts = await watchNetwork(page);
    const errors = [];
    page.on("pageerror", (error) => errors.push(`page error: ${error}`));
    page.on("console", (message) => {
      if (["error", "warning"].includes(message.type())) errors.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on("response", (response) => {
      if (response.status() >= 400) errors.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    await page.goto(url, { waitUntil: "networkidle" });
    // A chart card holds a Vega SVG with marks, a table or a metric (markdown cards have no title).
    const drawn = await page.waitForFunction(() => [...document.querySelectorAll(".dashboard-card")]
      .filter((card) => card.querySelector(".dashboard-card-title"))
      .every((card) => card.querySelector(".dashboard-card-chart svg g.role-mark, .dashboard-card-chart td, "
                                          + ".dashboard-card-chart p")), null, { timeout: 30000 })
      .then(() => true, () => false);
    await page.waitForTimeout(300);  // the picker follows the chart's model once its text is drawn
    const charts = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll(".dashboard-card-chart")]
      .map((chart) => [chart.id.replace(/^chart-/, ""), {
        // per mark type (mark-rect, mark-line, ...), the items of each of its groups
        marks: [...chart.querySelectorAll("svg g.role-mark")].reduce((marks, group) => {
          const type = [...group.classList].find((name) => name.startsWith("mark-"));
          (marks[type] ??= []).push(group.children.length);
          return marks;
        }, {}),
        texts: [...chart.querySelectorAll("svg g.mark-text.role-mark text")].map((text) => text.textContent),
        xLabels: [...chart.querySelectorAll("svg g.role-axis[aria-label^='X-axis'] g.role-axis-label text")]
          .map((text) => text.textContent),
        table: [...chart.querySelectorAll("table tr")].map((row) => [...row.children].map((cell) => cell.textContent)),
        citation: [...chart.querySelectorAll("svg .role-title-text")].map((text) => text.textContent).join(" "),
        prose: chart.innerText,
      }])));
    const options = await page.evaluate(() => Object.fromEntries(
      [...document.querySelectorAll(".dashboard-filters select")]
        .map((select) => [select.name, [...select.options].map((option) => option.value).filter(Boolean)])));
    const picked = await page.evaluate(() => Object.fromEntries(
      [...document.querySelectorAll(".dashboard-filters select, .dashboard-filters input[type=text]")]
        .map((input) => [input.name, input.value])));
    await page.screenshot({ path: screenshot, fullPage: true });
    results.push({ url, screenshot, drawn, attempts, errors, charts, options, picked });
    await page.close();
  }
} finally {
  await close();
}
console.log(JSON.stringify(results));
"""


def browser() -> tuple[str, str]:
    """node and chromium, with tests/render's playwright-core to drive them (else skipped, or failed in CI)."""
    if not (RENDER_DIR / "node_modules" / "playwright-core" / "package.json").is_file():
        tool_missing(f"{RENDER_DIR / 'node_modules'} lacks playwright-core (run .ci/setup-tools)")
    return require_tool("node"), require_tool("chromium", CHROMIUM)


def draw(urls: dict[str, str], out: Path) -> dict[str, dict[str, Any]]:
    """Each named URL drawn by DRIVER: its findings by name, screenshots in ``out``."""
    node, chromium = browser()
    pages = [{"url": url, "screenshot": str(out / f"{name}.png")} for name, url in urls.items()]
    script = DRIVER % {"browser": json.dumps((RENDER_DIR / "browser.mjs").as_uri()), "pages": json.dumps(pages),
                       "chromium": json.dumps(chromium)}
    result = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(zip(urls, json.loads(result.stdout)))


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """The README's crawl of the demo snapshot, then its import of the sample weekly files."""
    folder = tmp_path_factory.mktemp("dashboards")
    db = folder / "weekly spend.db"  # any name: served as database `history`, the name the charts ask
    crawl = command_here("crawl", "rankings", "-a", f"snapshot={ROOT / DEMO_FOLDER}", "-a", "top=all",
                         "-s", f"ORSTATS_DB={db}")
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    imported = command_here("import-history", str(ROOT / SAMPLE_FOLDER), "--db", str(db))
    assert imported.returncode == 0, imported.stderr[-3000:]
    return db


@pytest.fixture(scope="module")
def datasette(history, tmp_path_factory):
    """deploy/datasette-server start, as the README says, on a free port."""
    project = project_copy(tmp_path_factory.mktemp("project") / "orstats")
    env = {"ORSTATS_DB": str(history), "DATASETTE_PORT": str(free_port())}
    started = project.run("datasette-server", "start", env=env)
    assert started.returncode == 0, started.stderr + project.log("datasette")
    try:
        yield f"http://127.0.0.1:{env['DATASETTE_PORT']}"
    finally:
        project.stop_everything()


@pytest.fixture(scope="module")
def expected(history) -> dict[str, Any]:
    """What the charts must show, read from the history by the test's own queries."""
    db = read_only(history)
    weeks = [date.fromisoformat(row[0]) for row in db.execute("select week_start from monday_series order by 1")]
    published = [row for row in db.execute("select week_start, week_end from weeks where status = 'published' "
                                           "order by week_end desc")]
    top_week = next(week for week in published if db.execute(
        "select 1 from weekly_revenue where week_start = ? and week_end = ? and revenue_best_usd > 0", week).fetchone())
    # The bars: the report's figures of each published week up to the report's, then the Monday weeks
    # at list price that end before the model's first such week.
    report_end = top_week[1]
    report_weeks: dict[str, dict[str, float | None]] = {}
    for permaslug, variant, week_start, usd in db.execute(
            "select permaslug, variant, week_start, revenue_best_usd from weekly_revenue "
            "where status = 'published' and week_end <= ?", [report_end]):
        report_weeks.setdefault(key_of(permaslug, variant), {})[week_start] = usd
    revenue_by_key: dict[str, dict[str, float | None]] = {}
    for permaslug, variant, week_start, week_end, usd in db.execute(
            "select permaslug, variant, week_start, week_end, revenue_list_usd from monday_revenue"):
        key = key_of(permaslug, variant)
        if week_end < min(report_weeks.get(key, {report_end: None})):
            revenue_by_key.setdefault(key, {})[week_start] = usd
    for key, weeks_usd in report_weeks.items():
        revenue_by_key.setdefault(key, {}).update(weeks_usd)
    top_rows = db.execute("select permaslug, variant from weekly_revenue where week_start = ? and "
                          "week_end = ? and revenue_best_usd is not null order by revenue_best_usd desc, rank",
                          top_week).fetchall()
    default_model = key_of(*top_rows[0])
    listed = {key_of(*row) for row in db.execute("select distinct permaslug, variant from monday_weeks")}
    price_kinds = {}
    for permaslug, variant, *prices in db.execute(
            "select canonical_slug, variant, count(prompt_price), count(completion_price), count(cache_read_price) "
            "from prices group by 1, 2"):
        price_kinds[permaslug if variant == "standard" else f"{permaslug}:{variant}"] = sum(map(bool, prices))
    return {
        "weeks": len(weeks),
        "runs": 1 + sum((later - earlier).days > 7 for earlier, later in zip(weeks, weeks[1:])),
        "labs": db.execute("select count(distinct author) from monday_series_authors").fetchone()[0],
        "latest_published_week": published[0],
        "top_week": top_week,
        "top_rows": db.execute("select count(*) from weekly_revenue where week_start = ? and week_end = ? "
                               "and revenue_best_usd is not null", top_week).fetchone()[0],
        "default_model": default_model,
        "listed": sorted(listed),
        # a public id that is not itself a permaslug, and the permaslug it stands for
        "public_id": next((public_id, key_of(permaslug, variant)) for permaslug, variant, public_id in db.execute(
            "select canonical_slug, variant, public_id from prices order by observed_on desc, public_id")
            if key_of(permaslug, variant) in revenue_by_key and public_id != key_of(permaslug, variant)),
        "known_revenue_weeks": {key: sum(usd is not None for usd in weeks_usd.values())
                                for key, weeks_usd in revenue_by_key.items()},
        "published_weeks": db.execute("select count(*) from weekly_totals_last_year "
                                      "where status = 'published'").fetchone()[0],
        "price_kinds": price_kinds,
    }


def key_of(permaslug: str, variant: str) -> str:
    return permaslug if variant == "standard" else f"{permaslug}:{variant}"


@pytest.fixture(scope="module")
def other_model(expected) -> str:
    """A model-variant to pick in the filter: the one with the most weeks of known revenue after the default."""
    known = expected["known_revenue_weeks"]
    return max((key for key in known if key != expected["default_model"]), key=lambda key: (known[key], key))


@pytest.fixture(scope="module")
def drawn(datasette, other_model, expected, tmp_path_factory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("dashboard-screenshots")
    urls = {slug: f"{datasette}/-/dashboards/{slug}" for slug in DASHBOARDS}
    urls["model-filtered"] = f"{datasette}/-/dashboards/model?model={other_model}"
    urls["model-public-id"] = f"{datasette}/-/dashboards/model?model={expected['public_id'][0]}"
    urls["model-unknown"] = f"{datasette}/-/dashboards/model?model=nosuch/model-9"
    pages = draw(urls, out)
    for name, page in pages.items():
        print(f"screenshot of {name}: {page['screenshot']}")
    return pages


def test_every_dashboard_draws_each_chart_with_the_network_blocked(drawn):
    assert set(drawn) >= {"revenue", "model"}  # a new dashboard gets its checks below
    for name, page in drawn.items():
        slug = name.split("-")[0]
        assert page["attempts"] == [], f"{name} asked another host: {page['attempts']}"
        assert page["errors"] == [], f"{name}: {page['errors']}"
        assert page["drawn"], f"{name}: some chart drew nothing within 30 s: {page['charts']}"
        assert Path(page["screenshot"]).stat().st_size > 0
        for chart, config in DASHBOARDS[slug]["charts"].items():
            shown = page["charts"][chart]
            if config["library"] == "markdown":
                assert "Source: OpenRouter (openrouter.ai/rankings)" in shown["prose"], (name, chart)
                continue
            assert "error" not in shown["prose"].lower(), (name, chart, shown["prose"])
            if config["library"] in {"table", "metric"}:
                assert shown["prose"].strip(), (name, chart)
                continue
            assert config["library"] == "vega-lite", (name, chart)
            assert sum(map(sum, shown["marks"].values())) > 0, (name, chart, shown)
            assert shown["citation"] == "Source: OpenRouter (openrouter.ai/rankings), CC BY 4.0", (name, chart)
            # one label a month at most: weekly ticks labelled "%b %Y" repeated each month's name
            assert len(shown["xLabels"]) == len(set(shown["xLabels"])), (name, chart, shown["xLabels"])


def test_the_revenue_dashboard_draws_every_week_lab_and_top_model(drawn, expected):
    charts = drawn["revenue"]["charts"]
    weekly = charts["weekly_revenue"]["marks"]
    assert weekly["mark-symbol"] == [expected["weeks"]]  # a point per Monday week of the series
    # The band and the line break where weeks are missing: one shape per run of consecutive weeks.
    assert len(weekly["mark-area"]) == len(weekly["mark-line"]) == expected["runs"] > 1
    labs = charts["lab_shares"]["marks"]["mark-area"]
    assert len(labs) == min(expected["labs"], NAMED_LABS + 1) > 1
    top = charts["top_models"]
    assert top["marks"]["mark-rect"] == top["marks"]["mark-rule"] == [min(expected["top_rows"], TOP_MODELS)]
    # The latest published week has no known revenue (the sample's last file has every split 0): the chart
    # shows the latest week that has one, and says which.
    start, end = expected["top_week"]
    assert top["texts"] == [f"week {start} to {end}"] and expected["top_week"] != expected["latest_published_week"]
    # The headline is that week's, as the report's front page has it; the table lists the published weeks.
    headline = charts["headline"]["prose"]
    assert headline.startswith("$") and f"week {start} to {end}" in headline, headline
    weeks = charts["weeks"]["table"]
    assert weeks[0] == ["week", "estimate", "range", "week_over_week"]
    assert len(weeks) - 1 == expected["published_weeks"] > 1
    assert any(row[0] == f"{start}..{end[5:]}" and row[1].startswith("$") for row in weeks[1:])


def test_the_model_dashboard_shows_the_model_picked_in_its_filter(drawn, expected, other_model):
    known = expected["known_revenue_weeks"]
    options = drawn["model"]["options"]["model"]
    assert options == expected["listed"] and other_model in options
    public_id, permaslug = expected["public_id"]
    for name, model in (("model", expected["default_model"]), ("model-filtered", other_model),
                        ("model-public-id", permaslug)):
        chart = drawn[name]["charts"]["price_and_revenue"]
        assert chart["texts"][0].split(" (")[0] == model, name  # the chart names its model
        assert drawn[name]["picked"]["model"] == model, name  # and the picker shows it
        assert chart["marks"]["mark-rect"] == [known[model]], name  # a bar per week of known revenue
        # each list price the catalogue gave, as lines (rules) from one change to the next
        assert sum(chart["marks"]["mark-rule"]) >= expected["price_kinds"][model] > 0, name
    unknown = drawn["model-unknown"]["charts"]["price_and_revenue"]
    assert unknown["texts"] == ["no such model: nosuch/model-9 (neither a permaslug[:variant] of the history "
                                "nor a public id)"]
    assert sum(unknown["marks"].get("mark-rect", [])) == sum(unknown["marks"].get("mark-rule", [])) == 0


def test_the_providers_dashboard_draws_each_weeks_share_by_provider(drawn, history):
    chart = DASHBOARDS["providers"]["charts"]["provider_shares"]
    rows = list(read_only(history).query(chart["query"]))
    weeks = {row["week_end"] for row in rows}
    assert rows and len(weeks) == 1  # the demo crawl's week (the imported weeks have no provider summaries)
    # a bar segment per week and provider shown (the 8 with the most revenue, then the rest as one)
    assert len(rows) == min(len({r["provider"] for r in rows}), 9) > 1
    shown = drawn["providers"]["charts"]["provider_shares"]
    assert shown["marks"]["mark-rect"] == [len(rows)]


# Each canned query's page at 1280 px: how far right its results table reaches (null: no rows).
WIDTHS = """
import { launch } from %(browser)s;
const { context, close } = await launch(%(chromium)s);
const widths = {};
try {
  for (const [name, url] of Object.entries(%(urls)s)) {
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(url, { waitUntil: "networkidle" });
    widths[name] = await page.evaluate(() => {
      const table = document.querySelector("table.rows-and-columns");
      return table ? Math.ceil(table.getBoundingClientRect().right) : null;
    });
    await page.close();
  }
} finally {
  await close();
}
console.log(JSON.stringify(widths));
"""


def test_every_canned_query_fits_a_1280_px_window(datasette):
    queries = read_metadata()["databases"]["history"]["queries"]
    urls = {name: f"{datasette}/history/{name}" for name in queries}
    node, chromium = browser()
    script = WIDTHS % {"browser": json.dumps((RENDER_DIR / "browser.mjs").as_uri()), "urls": json.dumps(urls),
                       "chromium": json.dumps(chromium)}
    result = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    widths = json.loads(result.stdout)
    assert {name for name, width in widths.items() if width is not None} >= {
        "revenue_over_time", "crawl_weeks", "week_models", "biggest_movers", "revenue_by_author"}
    assert all(width <= 1280 for width in widths.values() if width is not None), widths
