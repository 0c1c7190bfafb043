"""The markdown report, rendered by the real engine from real SQLite histories built by crawling
factory snapshots: each section's numbers against figures computed here from the factory's inputs,
the seed README's headline numbers with ORSTATS_REVENUE_METHOD=seed, the Monday-week series against
the history's `monday_totals`, the crawl-week series where there is no Monday week, hostile names,
a rejected crawl, and `scrapy report`."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from itertools import takewhile
from pathlib import Path

import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.report import format as fmt
from orstats_crawler.report.charts import nice_max
from orstats_crawler.report.render import write_reports
from tests.conftest import crawl, run_scrapy
from tests.factory import SEED_MODELS, SnapshotSpec, build_snapshot, chart, expected_effective, with_models
from tests.factory import expected_revenues as seed_expected
from tests.mermaid_tools import (assert_mermaid_parses, check_xychart_lengths, mermaid_blocks, node_parser,
                                 xychart_series)
from tests.test_import_history import anchor_file, run_import, write

# The seed README's order, plus authors.
SECTIONS = ["Summary", "Revenue Over Time", "Revenue by Model (Top 9)", "Revenue Share",
            "Token Type Distribution", "Model Breakdown", "Revenue by Author", "Methodology"]


# --- reading a rendered report ------------------------------------------------------------------

def section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {heading!r}"
    return match.group(1)


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def table(text: str) -> list[list[str]]:
    """The first markdown table of ``text``, header and separator left out."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = list(takewhile(lambda line: line.startswith("|"), lines[start:]))
    return [cells(line) for line in rows[2:]]


def summary(text: str) -> dict[str, str]:
    return {row[0]: row[1] for row in table(section(text, "Summary"))}


def pie(block: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*"([^"]*)" : (\S+)$', block, re.M))


def blocks_of(text: str, heading: str) -> list[str]:
    return mermaid_blocks(section(text, heading))


def breakdown(text: str) -> dict[str, list[str]]:
    """Model Breakdown rows by the model's link text."""
    rows = table(section(text, "Model Breakdown"))
    return {re.match(r"\[(.*)\]\(", row[1]).group(1): row for row in rows}


# --- expectations computed from the factory's inputs ------------------------------------------

def display(model) -> str:
    return model.name.partition(": ")[2]


def expected_rank(models) -> dict[str, int]:
    ordered = sorted(models, key=lambda m: (-m.total, m.permaslug, m.variant))
    return {m.permaslug: i for i, m in enumerate(ordered, start=1)}


def money(value: float) -> str:
    return fmt.plain(round(value, 2), 2)


# --- the Monday-week series, as the history's view has it ------------------------------------------

MONDAY_SENTENCE = ("Each week of this series is a Monday week (Monday to Sunday, the weeks of OpenRouter's weekly "
                   "chart), labelled by its last day, while the Summary above is the leaderboard's trailing 7 days")


def monday_totals(db_path: Path) -> list[dict]:
    return list(Database(db_path).query("SELECT * FROM monday_totals ORDER BY week_start"))


def monday_label(row: dict) -> str:
    """A week's x label: its last day, `°` when modeled, `*` when its revenue is partly unknown."""
    return (row["week_end"] + ("°" if row["basis"] == "modeled" else "")
            + ("" if row["revenue_list_usd_models"] == row["models"] else "*"))


def assert_monday_series(text: str, rows: list[dict]) -> list[list[str]]:
    """The Revenue Over Time chart and its table are the Monday weeks of ``rows`` (``monday_totals``),
    list price bars and seed lines, every week with a known revenue charted in order; returns the
    table's rows (newest first) for the caller's own checks."""
    over = section(text, "Revenue Over Time")
    assert MONDAY_SENTENCE in over
    [block] = mermaid_blocks(over)
    charted = [row for row in rows if row["revenue_list_usd"] is not None]
    assert xychart_series(block) == {"x-axis": [[monday_label(row) for row in charted]],
                                     "bar": [[money(row["revenue_list_usd"]) for row in charted]],
                                     "line": [[money(row["revenue_seed_usd"]) for row in charted]]}
    top = max(max(row["revenue_list_usd"], row["revenue_seed_usd"]) for row in charted)
    assert f"0 --> {fmt.plain(nice_max(top), 0)}" in block
    weekly = table(over[over.index("<summary>Weekly figures"):])
    assert [row[0] for row in weekly] == [f"{row['week_start']} to {row['week_end']}" for row in reversed(rows)]
    for cells_, row in zip(weekly, reversed(rows)):
        assert cells_[2:4] == [fmt.usd(row["revenue_list_usd"]), fmt.usd(row["revenue_seed_usd"])], cells_
        coverage = (f" ({fmt.ratio(row['total_tokens'], row['chart_tokens'])} of the chart's "
                    f"{fmt.tokens(row['chart_tokens'])})") if row["chart_tokens"] else ""
        assert cells_[4] == fmt.tokens(row["total_tokens"]) + coverage, cells_
        assert cells_[5] == f"{row['revenue_list_usd_models']} of {row['models']}", cells_
    return weekly


def report_settings(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The report of these tests is headed by the list-price figure, the seed README's kind of figure."""
    return {"ORSTATS_DB": str(tmp_path / "data" / "history.db"),
            "ORSTATS_REPORT_DIR": str(tmp_path / "reports"), "ORSTATS_REVENUE_METHOD": "list", **extra}


async def crawl_demo(tmp_path: Path, **extra: str) -> str:
    snapshot = build_snapshot(tmp_path / "snapshot")
    result = await crawl(report_settings(tmp_path, **extra), snapshot=str(snapshot), top="all")
    assert result.status == "published"
    assert result.report == (tmp_path / "reports" / "README.md").resolve()
    return (tmp_path / "reports" / "README.md").read_text(encoding="utf-8")


# --- the seed week -----------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_the_seed_week_with_list_prices(tmp_path):
    text = await crawl_demo(tmp_path)
    assert text == (tmp_path / "reports" / "weekly" / "2026-02-08.md").read_text(encoding="utf-8")
    assert text.startswith("# OpenRouter Inference Revenue Statistics\n")
    assert re.findall(r"^## (.+)$", text, re.M) == SECTIONS
    assert "**Last updated:**" in text and "week 2026-02-02 to 2026-02-08" in text
    assert "Source: OpenRouter (openrouter.ai/rankings), as of 2026-02-09" in text

    revenues = {m.permaslug: seed_expected(m) for m in SEED_MODELS}
    list_total = sum(r[0] for r in revenues.values())
    seed_total = sum(r[1] for r in revenues.values())
    high_total = sum(m.prompt * float(m.pricing["prompt"]) + m.completion * float(m.pricing["completion"])
                     for m in SEED_MODELS)
    chart_total = sum(next(w for w in chart(SnapshotSpec())["data"]["data"] if w["x"] == "2026-02-02")["ys"].values())
    tokens_total = sum(m.total for m in SEED_MODELS)

    rows = summary(text)
    assert fmt.usd(list_total) == "$2.82M"  # the corrected figure the issue expects for this week
    assert rows["Estimated Weekly Revenue"].startswith("**$2.82M** (list price, cached tokens counted once; "
                                                       "revenue known for 10 of 10 model-variants")
    assert rows["Estimate with the seed's formula, cached tokens charged twice"] == fmt.usd(seed_total) == "$6.25M"
    assert rows["Range (low to high)"].startswith(f"$2.82M to {fmt.usd(high_total)} ")
    assert rows["Total Tokens Tracked"] == (f"**{fmt.tokens(tokens_total)}** ({fmt.ratio(tokens_total, chart_total)} "
                                            f"of the week's {fmt.tokens(chart_total)} tokens on OpenRouter's weekly "
                                            "chart, Others included)")
    assert rows["Models Tracked"] == "**10** (9 paid, 1 free)"

    # Revenue Over Time: the history's Monday weeks (tests below), the latest of which is the crawl's own.
    [over_time] = blocks_of(text, "Revenue Over Time")
    series = xychart_series(over_time)
    assert (series["x-axis"][0][-1], series["bar"][0][-1], series["line"][0][-1]) == (
        "2026-02-08", money(list_total), money(seed_total))
    assert len(series["line"]) == 1  # effective prices are fetched for the crawl's own week only
    assert "Not in this series: effective prices" in section(text, "Revenue Over Time")

    paying = sorted((m for m in SEED_MODELS if revenues[m.permaslug][0]), key=lambda m: -revenues[m.permaslug][0])
    [by_model] = blocks_of(text, "Revenue by Model (Top 9)")
    assert xychart_series(by_model)["bar"] == [[money(revenues[m.permaslug][0]) for m in paying[:9]]]
    assert f"0 --> {fmt.plain(nice_max(revenues[paying[0].permaslug][0]), 0)}" in by_model

    [share] = blocks_of(text, "Revenue Share")
    assert pie(share) == {display(m): money(revenues[m.permaslug][0]) for m in paying[:9]}  # no $0 slice

    [token_pie] = blocks_of(text, "Token Type Distribution")
    assert pie(token_pie) == {
        "Uncached prompt": str(sum(m.prompt - m.cached for m in SEED_MODELS)),
        "Cached prompt": str(sum(m.cached for m in SEED_MODELS)),
        "Completion incl. reasoning": str(sum(m.completion for m in SEED_MODELS)),
    }
    assert f"({fmt.tokens(sum(m.reasoning for m in SEED_MODELS))} reasoning" in section(text, "Token Type Distribution")

    table_rows = breakdown(text)
    ranks = expected_rank(SEED_MODELS)
    assert list(table_rows) == [display(m) for m in paying] + ["Trinity Large Preview (free)"]
    for model in SEED_MODELS:
        free = model.variant == "free"
        assert table_rows[display(model)] == [
            str(ranks[model.permaslug]), f"[{display(model)}]({fmt.model_url(model.public_id, model.permaslug)})",
            fmt.tokens(model.total), fmt.tokens(model.cached), fmt.ratio(model.prompt, model.total),
            fmt.ratio(model.completion, model.total), fmt.price(float(model.pricing["prompt"]), free),
            fmt.price(float(model.pricing["completion"]), free), fmt.usd(revenues[model.permaslug][0]),
            fmt.change(model.change)]
    assert table_rows["Trinity Large Preview (free)"][6:9] == ["Free", "Free", "$0.00"]
    assert "Revenue unknown" not in text
    assert check_xychart_lengths(text) == 2


@pytest_twisted.ensureDeferred
async def test_seed_method_reproduces_the_seed_readme(tmp_path):
    text = await crawl_demo(tmp_path, ORSTATS_REVENUE_METHOD="seed")
    rows = summary(text)
    assert rows["Estimated Weekly Revenue"].startswith("**$6.25M** (the seed's formula, cached tokens charged twice;")
    assert rows["Estimate with list price, cached tokens counted once"] == "$2.82M"
    assert rows["Total Tokens Tracked"].startswith("**5.57T**")
    sonnet = breakdown(text)["Claude Sonnet 4.5"]
    assert (sonnet[0], sonnet[2], sonnet[3], sonnet[4], sonnet[5], sonnet[8], sonnet[9]) == (
        "3", "705.6B", "448.4B", "98.3%", "1.7%", "$2.40M", "-9%")
    # The seed README's order and per-model figures (its Revenue by Model chart, to the cent).
    by_seed = sorted(SEED_MODELS, key=lambda m: -seed_expected(m)[1])
    assert list(breakdown(text)) == [display(m) for m in by_seed]
    [by_model] = blocks_of(text, "Revenue by Model (Top 9)")
    bars = xychart_series(by_model)["bar"][0]
    assert bars == [money(seed_expected(m)[1]) for m in by_seed[:9]]
    # Kimi's is 613222.06 here, .07 in the seed: its catalogue said 7.0000002e-08 for the cache read.
    assert bars[:2] == ["2397302.04", "2081607.17"]
    assert "ORSTATS_REVENUE_METHOD=seed" in section(text, "Methodology")


@pytest_twisted.ensureDeferred
async def test_the_time_series_is_the_monday_weeks_of_the_history(tmp_path):
    """The demo crawl (a Monday, 2026-02-09) stores its chart's 51 finished weeks: the four whose
    seven days its daily activity covers are measured, the older ones modeled."""
    text = await crawl_demo(tmp_path)
    rows = monday_totals(tmp_path / "data" / "history.db")
    chart_weeks = [w["x"] for w in chart(SnapshotSpec())["data"]["data"]][:-1]  # the last week is partial
    assert [row["week_start"] for row in rows] == chart_weeks and len(rows) == 51
    # Daily activity runs 2026-01-10 .. 2026-02-09 (31 days, today partial): four whole Monday weeks.
    measured = [(date(2026, 1, 12) + timedelta(weeks=n)).isoformat() for n in range(4)]
    assert [row["week_start"] for row in rows if row["basis"] == "measured"] == measured
    assert {row["basis"] for row in rows if row["week_start"] not in measured} == {"modeled"}
    assert all(row["revenue_list_usd_models"] == row["models"] for row in rows)  # every week complete

    weekly = assert_monday_series(text, rows)
    assert [r[1] for r in weekly] == ["measured"] * 4 + ["modeled"] * 47
    # Every paid model-variant of every week is priced with the crawl's catalogue, seen on
    # 2026-02-09: after each week, the nearest observation there is.
    assert {r[6] for r in weekly} == {"nearest later (2026-02-09)"}
    over = section(text, "Revenue Over Time")
    assert "Summary above is the leaderboard's trailing 7 days (2026-02-02 to 2026-02-08)" in over
    assert "`°` marks a modeled week (47 of the 51 charted)" in over
    # 51 dates do not fit side by side: turned on end, on a chart wide enough for each.
    assert '%%{init: {"xyChart": {"width": 1028, "xAxis": {"labelRotation": 90}}}}%%' in over
    methodology = section(text, "Methodology")
    assert "nearest measured week (the later one on a tie)" in methodology
    assert "Modeled weeks are marked `°` in the chart and *modeled* in the Basis column" in methodology
    assert check_xychart_lengths(text) == 2


@pytest_twisted.ensureDeferred
async def test_the_effective_headline_charts_the_crawl_weeks(tmp_path):
    """The Monday weeks have no effective prices: with that headline the series is the crawls' weeks."""
    text = await crawl_demo(tmp_path, ORSTATS_REVENUE_METHOD="effective")
    over = section(text, "Revenue Over Time")
    assert MONDAY_SENTENCE not in over
    assert ("Each week of this series is a crawl's own week, the leaderboard's trailing 7 days like the Summary "
            "above, not the history's Monday weeks: they have no figure by effective prices") in over
    effective_total = sum(expected_effective(m) for m in SEED_MODELS)
    revenues = [seed_expected(m) for m in SEED_MODELS]
    assert xychart_series(blocks_of(text, "Revenue Over Time")[0]) == {
        "x-axis": [["2026-02-08"]], "bar": [[money(effective_total)]],
        # the other methods known for every week: best (here effective, all splits measured), list, seed
        "line": [[money(effective_total)], [money(sum(r[0] for r in revenues))], [money(sum(r[1] for r in revenues))]]}
    assert "**Weeks of the time series**" not in text


def test_imported_weeks_measured_modeled_and_volume_only(tmp_path):
    """An import-only history: a week with its split (measured), a week whose files lost the split
    (modeled from the first), and one of model-variants never measured (volume only: its revenue
    is unknown, so it is named, not charted)."""
    renamed = [replace(m, permaslug=m.permaslug + "-renamed") for m in SEED_MODELS]
    files = tmp_path / "files"
    history = tmp_path / "history.db"
    run_import(history, write(files, anchor_file(date(2026, 5, 4))),
               write(files, anchor_file(date(2026, 5, 11), zero=True)),
               write(files, anchor_file(date(2026, 6, 1), models=renamed, zero=True)))
    write_reports(history, tmp_path / "reports", method="list")
    text = (tmp_path / "reports" / "README.md").read_text(encoding="utf-8")

    rows = monday_totals(history)
    assert [(row["week_end"], row["basis"]) for row in rows] == [
        ("2026-05-03", "measured"), ("2026-05-10", "modeled"), ("2026-05-31", "volume")]
    assert rows[2]["revenue_list_usd"] is None and rows[2]["chart_tokens"] is None
    weekly = assert_monday_series(text, rows)
    assert [r[1] for r in weekly] == ["volume only (revenue unknown)", "modeled", "measured"]
    assert weekly[0][2] == "n/a"  # never $0.00
    over = section(text, "Revenue Over Time")
    assert "Not charted, revenue unknown: 2026-05-31." in over
    assert "`°` marks a modeled week (1 of the 2 charted)" in over
    assert check_xychart_lengths(text) == 1  # the latest week has no known revenue: no chart by model


# --- several weeks -----------------------------------------------------------------------------

def seed_chart(day: date):
    """The seed models' chart whatever the week's models, so every snapshot of a series agrees on
    the finished chart weeks (the quality gate rejects a crawl that rewrites stored weeks)."""
    def mutate(url: str, payload):
        return chart(SnapshotSpec(captured=day)) if "model-rankings-chart" in url else payload
    return mutate


def scaled(models, factor: float):
    return [replace(m, prompt=int(m.prompt * factor), completion=int(m.completion * factor),
                    cached=int(m.cached * factor), reasoning=int(m.reasoning * factor),
                    requests=int(m.requests * factor)) for m in models]


THREE_DAYS = [date(2026, 1, 26), date(2026, 2, 2), date(2026, 2, 9)]
# The middle week misses one model-variant's split: published (coverage above 90 %), but marked.
THREE_WEEKS = [scaled(SEED_MODELS, 0.8), scaled(with_models((8, {"activity": "missing"})), 0.9), SEED_MODELS]


async def crawl_three_weeks(tmp_path: Path) -> Path:
    """Three weekly Monday crawls into one history; the history file."""
    settings = report_settings(tmp_path)
    for day, models in zip(THREE_DAYS, THREE_WEEKS):
        snapshot = build_snapshot(tmp_path / f"snapshot-{day}", SnapshotSpec(models=models, captured=day),
                                  mutate=seed_chart(day))
        result = await crawl(settings, snapshot=str(snapshot), top="all")
        assert result.status == "published"
    return Path(settings["ORSTATS_DB"])


@pytest_twisted.ensureDeferred
async def test_every_week_page_charts_the_monday_weeks_up_to_it(tmp_path):
    db = await crawl_three_weeks(tmp_path)
    ends = [(day - timedelta(days=1)).isoformat() for day in THREE_DAYS]
    reports = tmp_path / "reports"
    assert sorted(p.name for p in (reports / "weekly").iterdir()) == [f"{end}.md" for end in ends]
    rows = monday_totals(db)
    # The first crawl's chart gives 51 finished weeks, each later one adds a week; the daily
    # activity measures (at least) each crawl's own week.
    first = date.fromisoformat(chart(SnapshotSpec(captured=THREE_DAYS[0]))["data"]["data"][0]["x"])
    assert [row["week_start"] for row in rows] == [(first + timedelta(weeks=n)).isoformat() for n in range(53)]
    assert [row["week_end"] for row in rows if row["basis"] == "measured"][-3:] == ends

    text = (reports / "README.md").read_text(encoding="utf-8")
    weekly = assert_monday_series(text, rows)
    # Each crawl saw the catalogue on its own Monday: the week it starts is priced with what was seen
    # that week, the newest with the price seen the day after, every older week with the first one seen.
    days = [d.isoformat() for d in THREE_DAYS]
    prices = {r[0].split(" to ")[0]: r[6] for r in weekly}
    assert prices == {row["week_start"]: "seen that week" if row["week_start"] in days[:2]
                      else f"nearest later ({days[2] if row['week_start'] > days[1] else days[0]})" for row in rows}
    # An older week's page charts the Monday weeks begun by the end of its own week.
    middle = (reports / "weekly" / f"{ends[1]}.md").read_text(encoding="utf-8")
    assert_monday_series(middle, [row for row in rows if row["week_start"] <= ends[1]])
    assert "**$" in summary(middle)["Estimated Weekly Revenue"] and "known for 9 of 10" in middle
    assert check_xychart_lengths(middle) == 2 and check_xychart_lengths(text) == 2


@pytest_twisted.ensureDeferred
async def test_without_monday_weeks_every_crawl_week_is_charted(tmp_path):
    """A history without any Monday week (one written before the Monday series, emptied here):
    the series is the crawls' own weeks, each marked or left out as its revenue is known."""
    db = await crawl_three_weeks(tmp_path)
    Database(db).execute("DELETE FROM monday_weeks").connection.commit()
    reports = tmp_path / "again"
    write_reports(db, reports, method="list")

    ends = [(day - timedelta(days=1)).isoformat() for day in THREE_DAYS]
    known = [[m for m in models if m.activity == "ok"] for models in THREE_WEEKS]
    list_totals = [sum(seed_expected(m)[0] for m in ms) for ms in known]
    seed_totals = [sum(seed_expected(m)[1] for m in ms) for ms in known]
    text = (reports / "README.md").read_text(encoding="utf-8")
    assert "**Weeks of the time series**" not in text
    assert ("Each week of this series is a crawl's own week, the leaderboard's trailing 7 days like the Summary above: "
            "the history holds no Monday week of the chart up to this week.") in section(text, "Revenue Over Time")
    [over_time] = blocks_of(text, "Revenue Over Time")
    effective_totals = [money(sum(expected_effective(m) for m in ms)) for ms in THREE_WEEKS]
    assert xychart_series(over_time) == {"x-axis": [[ends[0], ends[1] + "*", ends[2]]],
                                         "bar": [[money(v) for v in list_totals]],
                                         # best (effective prices: known for every row), seed, effective
                                         "line": [effective_totals, [money(v) for v in seed_totals],
                                                  effective_totals]}
    assert "%%{init" not in over_time  # three dates fit side by side
    assert f"0 --> {fmt.plain(nice_max(max(seed_totals)), 0)}" in over_time
    assert f"{ends[1]} (9 of 10)" in section(text, "Revenue Over Time")
    weekly_rows = table(section(text, "Revenue Over Time"))
    assert [row[0] for row in weekly_rows] == [
        f"{(d - timedelta(days=7)).isoformat()} to {(d - timedelta(days=1)).isoformat()}" for d in reversed(THREE_DAYS)]
    assert [row[1] for row in weekly_rows] == [fmt.usd(v) for v in reversed(list_totals)]

    # An older week's page shows the series up to that week, and its own unknown model-variant.
    middle = (reports / "weekly" / f"{ends[1]}.md").read_text(encoding="utf-8")
    assert xychart_series(blocks_of(middle, "Revenue Over Time")[0])["x-axis"] == [[ends[0], ends[1] + "*"]]
    unknown = table(middle.split("Revenue unknown", 1)[1])
    assert [(row[1].split("]")[0], row[5], row[7]) for row in unknown] == [
        ("[Gemini 2.5 Flash Lite", "n/a", "token split not measured")]
    assert "n/a" in breakdown(middle).get("Gemini 2.5 Flash Lite", ["n/a"])  # never "$0.00"
    assert check_xychart_lengths(middle) == 2 and check_xychart_lengths(text) == 2


# --- a rejected crawl --------------------------------------------------------------------------

def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest_twisted.ensureDeferred
async def test_a_rejected_crawl_leaves_the_report_byte_identical(tmp_path):
    await crawl_demo(tmp_path)
    before = folder_bytes(tmp_path / "reports")
    # A later week whose leaderboard did not answer: the quality gate rejects it.
    broken = build_snapshot(tmp_path / "broken", SnapshotSpec(captured=date(2026, 2, 16), with_leaderboard=False))
    result = await crawl(report_settings(tmp_path), snapshot=str(broken), top="all")
    assert result.status == "rejected"
    assert result.report is None
    assert folder_bytes(tmp_path / "reports") == before
    assert set(before) == {"README.md", "weekly/2026-02-08.md"}


# --- hostile names -----------------------------------------------------------------------------

HOSTILE = 'Evil | Model "quoted" ]x[ `tick` <img src=x onerror=alert(1)> #quot; $1$ *b*'
HOSTILE_MODELS = with_models(
    (0, {"name": "Anthropic: " + HOSTILE}),
    (1, {"name": "Anthropic: " + HOSTILE}),  # the same name twice: a pie would merge the two slices
    (2, {"name": "MoonshotAI: Kimi\nK2.5 ]] | ``"}),
    (3, {"public_id": 'google/gemini-3) [y](evil "t"'}),
)


async def crawl_hostile(tmp_path: Path) -> Path:
    snapshot = build_snapshot(tmp_path / "snapshot", SnapshotSpec(models=HOSTILE_MODELS))
    result = await crawl(report_settings(tmp_path), snapshot=str(snapshot), top="all")
    assert result.status == "published"
    return tmp_path / "reports" / "README.md"


@pytest_twisted.ensureDeferred
async def test_hostile_names_break_no_table_chart_or_link(tmp_path):
    text = (await crawl_hostile(tmp_path)).read_text(encoding="utf-8")
    assert not re.search(r"(?<!\\)<img", text)  # only as escaped, literal text
    for line in section(text, "Model Breakdown").splitlines():
        if line.startswith("| ") and "[" in line:
            assert len(cells(line)) == 10, line
            assert re.fullmatch(r"\[(\\.|[^\\\[\]])*\]"  # the link text, its brackets escaped
                                r"\(https://openrouter\.ai/[^\s()\[\]\"<>]+\)", cells(line)[1]), line
    for block in mermaid_blocks(text):
        for label in re.findall(r'^\s*"(.*)" : ', block, re.M):
            assert '"' not in label and not set(label) & set("`<>[]#&$")
        for labels in xychart_series(block)["x-axis"]:
            assert len(set(labels)) == len(labels)
    [share] = blocks_of(text, "Revenue Share")
    assert len(pie(share)) == 9  # both hostile-named models kept their own slice
    assert check_xychart_lengths(text) == 2
    names = [row[1] for row in table(section(text, "Model Breakdown"))]
    assert sum(1 for name in names if name.startswith("[Evil \\| Model \"quoted\" \\]x\\[ \\`tick\\`")) == 2


@pytest_twisted.ensureDeferred
async def test_hostile_names_parse_in_mermaid(tmp_path):
    node_parser()  # skip (or fail in CI) before crawling when node is missing
    assert_mermaid_parses(await crawl_hostile(tmp_path))


# --- `scrapy report` ---------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_scrapy_report_renders_without_crawling(tmp_path):
    db = tmp_path / "data" / "history.db"
    snapshot = build_snapshot(tmp_path / "snapshot")
    result = await crawl({"ORSTATS_DB": str(db), "ORSTATS_REPORT_DIR": ""}, snapshot=str(snapshot), top="all")
    assert result.report is None  # no report folder: the extension stays off

    out = tmp_path / "out"
    done = run_scrapy("report", "--db", str(db), "--output", str(out), "-s", "ORSTATS_REVENUE_METHOD=seed")
    assert done.returncode == 0, done.stderr
    assert f"report written to {out / 'README.md'}" in done.stdout and "headline seed: $6.25M" in done.stdout
    assert summary((out / "README.md").read_text(encoding="utf-8"))["Estimated Weekly Revenue"].startswith("**$6.25M**")

    # Settings are the defaults: ORSTATS_DB / ORSTATS_REPORT_DIR, the best estimate (effective prices
    # here: the factory's traffic paid 10 % over the cache-discounted list price on input).
    done = run_scrapy("report", "-s", f"ORSTATS_DB={db}", "-s", f"ORSTATS_REPORT_DIR={out}")
    assert done.returncode == 0, done.stderr
    effective_total = sum(expected_effective(m) for m in SEED_MODELS)
    headline = summary((out / "README.md").read_text(encoding="utf-8"))["Estimated Weekly Revenue"]
    assert headline.startswith(f"**{fmt.usd(effective_total)}** (best estimate")

    missing = run_scrapy("report", "--db", str(tmp_path / "nope.db"), "--output", str(out))
    assert missing.returncode == 1
    assert f"history file {tmp_path / 'nope.db'} does not exist" in missing.stderr
