"""The markdown report, rendered by the real engine from real SQLite histories built by crawling
factory snapshots: each section's numbers against figures computed here from the factory's inputs
or read from the history's views and tables (the Monday-week series against `monday_series`), the
earlier project's figures with ORSTATS_REVENUE_METHOD=seed, hostile names, a week whose token count
is unknown, a rejected crawl, pages rendered only when their figures change, and `scrapy report`."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from itertools import takewhile
from pathlib import Path

import pytest_twisted
from scrapy.utils.project import get_project_settings
from sqlite_utils import Database

from orstats_crawler.history.formulas import EFFECTIVE_DOUBT
from orstats_crawler.report import format as fmt
from orstats_crawler.report.charts import MEASURED_COLOUR, MODELED_COLOUR
from orstats_crawler.report.data import SERIES_WEEKS
from orstats_crawler.report.render import write_reports
from tests.conftest import crawl, scrapy_here
from tests.factory import (SEED_MODELS, SnapshotSpec, build_snapshot, chart, effective_prices, expected_effective,
                           with_models)
from tests.factory import expected_revenues as seed_expected
from tests.mermaid_tools import check_xychart_lengths, mermaid_blocks, xychart_series
from tests.test_import_history import anchor_file, run_import, write

# The seed README's order, plus authors.
SECTIONS = ["Summary", "Revenue Over Time", "Revenue by Model", "Revenue Share", "Token Type Distribution",
            "Model Breakdown", "Revenue by Author", "Revenue by Provider", "Methodology"]
BLANK = "\u200b"  # what an x label left blank is made of
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


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


def after(text: str, marker: str) -> str:
    return text[text.index(marker):]


def breakdown(text: str) -> dict[str, list[str]]:
    """The Model Breakdown's main table rows by the model's link text."""
    rows = table(section(text, "Model Breakdown"))
    return {re.match(r"\[(.*)\]\(", row[1]).group(1): row for row in rows}


def paragraphs(text: str) -> list[str]:
    """The prose a reader reads, paragraph by paragraph (a list item is one): no code, tables or tags."""
    text = re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)
    text = re.sub(r"<[^>]+>", "\n\n", text)
    kept = [line for line in text.splitlines() if not line.startswith("|")]
    blocks = re.split(r"\n\s*\n|\n(?=- )", "\n".join(kept))
    return [" ".join(block.split()) for block in blocks if block.strip()]


def assert_reads_in_short_paragraphs(text: str) -> None:
    longest = max(paragraphs(text), key=lambda p: len(p.split()))
    assert len(longest.split()) <= 80, longest


def visible(labels: list[str]) -> list[tuple[int, str]]:
    """The x labels a reader sees, with their positions (the others are zero-width spaces)."""
    assert len(set(labels)) == len(labels)  # mermaid merges equal labels into one bar
    assert all(label.strip(BLANK) == label or not label.strip(BLANK) for label in labels)
    return [(i, label) for i, label in enumerate(labels) if label.strip(BLANK)]


# --- expectations computed from the factory's inputs ------------------------------------------

def display(model) -> str:
    return model.name.partition(": ")[2]


def author(model) -> str:
    return model.permaslug.split("/")[0]


def in_millions(value: float) -> str:
    return fmt.plain(round(value / 1e6, 4), 4)


def month_labels(days: list[date]) -> list[tuple[int, str]]:
    """A long series' labels, written out independently: the first week ending in each month (the
    year for January), at least four weeks apart."""
    shown, last = [], -4
    for i in range(1, len(days)):
        if days[i].month != days[i - 1].month and i - last >= 4:
            shown.append((i, str(days[i].year) if days[i].month == 1 else MONTHS[days[i].month - 1]))
            last = i
    return shown


# --- the history's figures ------------------------------------------------------------------------

def monday_series(db_path: Path, up_to: str = "9999") -> list[dict]:
    """The Monday weeks a page ending on ``up_to`` charts: the last SERIES_WEEKS with an estimate."""
    return list(Database(db_path).query("SELECT * FROM monday_series WHERE revenue_best_usd IS NOT NULL "
                                        "AND week_end <= ? ORDER BY week_start", [up_to]))[-SERIES_WEEKS:]


def weekly_totals(db_path: Path, week_end: str) -> dict:
    return next(Database(db_path).query("SELECT * FROM weekly_totals WHERE week_end = ?", [week_end]))


def assert_series(text: str, rows: list[dict]) -> list[list[str]]:
    """Revenue Over Time is the Monday weeks of ``rows`` (``monday_series``): the best estimate in $M,
    a bar series per basis (the rarer first, measured dark, modeled light), its weekly figures in the
    collapsed table; returns the table's rows (newest first)."""
    over = section(text, "Revenue Over Time")
    [block] = mermaid_blocks(over)
    assert "labelRotation" not in block
    series = xychart_series(block)
    [labels] = series["x-axis"]
    assert len(labels) == len(rows)
    kinds = sorted({row["basis"] for row in rows}, key=lambda b: (sum(r["basis"] == b for r in rows), b == "modeled"))
    assert series["bar"] == [[in_millions(row["revenue_best_usd"]) if row["basis"] == kind else "0" for row in rows]
                             for kind in kinds]
    colours = [MEASURED_COLOUR if kind == "measured" else MODELED_COLOUR for kind in kinds]
    assert f'"plotColorPalette": "{", ".join(colours)}"' in block
    weekly = table(after(over, "<summary>Weekly figures"))
    assert [row[0] for row in weekly] == [f"{row['week_start']} to {row['week_end']}" for row in reversed(rows)]
    for cells_, row in zip(weekly, reversed(rows)):
        assert cells_[1:5] == [fmt.usd(row["revenue_best_usd"]),
                               f"{fmt.usd(row['revenue_low_usd'])} to {fmt.usd(row['revenue_high_usd'])}",
                               row["basis"], fmt.ratio(row["measured_usd"], row["revenue_best_usd"], 0)], cells_
        assert cells_[5:] == [fmt.tokens(row["total_tokens"]),
                              fmt.percent(1 - row["unpriced_tokens"] / row["total_tokens"], 0)], cells_
    return weekly


def render(db: Path, folder: Path, **settings: str | bool):
    """write_reports with the project's settings (an argument overrides one: method="list")."""
    project = get_project_settings()
    return write_reports(db, folder, settings.pop("method", project.get("ORSTATS_REVENUE_METHOD")),
                         project.getint("ORSTATS_REPORT_TABLE_ROWS"),
                         outlier_factor=project.getfloat("ORSTATS_REPORT_OUTLIER_FACTOR"), **settings)


def report_settings(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"ORSTATS_DB": str(tmp_path / "data" / "history.db"), "ORSTATS_REPORT_DIR": str(tmp_path / "reports"),
            **extra}


async def crawl_demo(tmp_path: Path, **extra: str) -> str:
    snapshot = build_snapshot(tmp_path / "snapshot")
    result = await crawl(report_settings(tmp_path, **extra), snapshot=str(snapshot), top="all")
    assert result.status == "published"
    assert result.report == (tmp_path / "reports" / "README.md").resolve()
    return (tmp_path / "reports" / "README.md").read_text(encoding="utf-8")


# --- the seed week -----------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_the_seed_week_at_a_glance(tmp_path):
    text = await crawl_demo(tmp_path)
    db = tmp_path / "data" / "history.db"
    assert text == (tmp_path / "reports" / "weekly" / "2026-02-08.md").read_text(encoding="utf-8")
    assert text.startswith("# OpenRouter Inference Revenue Statistics\n")
    assert re.findall(r"^## (.+)$", text, re.M) == SECTIONS
    assert "**Last updated:** 2026-02-09 (week 2026-02-02 to 2026-02-08, 7 complete UTC days)" in text
    assert "Source: OpenRouter (openrouter.ai/rankings), as of 2026-02-09" in text

    paid = [m for m in SEED_MODELS if m.variant != "free"]
    best = {m.permaslug: expected_effective(m) for m in SEED_MODELS}  # effective prices for every row
    listed = {m.permaslug: seed_expected(m)[0] for m in SEED_MODELS}
    best_total, list_total = sum(best.values()), sum(listed.values())
    low = sum(best[m.permaslug] * (1 - EFFECTIVE_DOUBT) for m in SEED_MODELS)  # every seed row effective-priced
    high = sum(best[m.permaslug] * (1 + EFFECTIVE_DOUBT) for m in SEED_MODELS)
    tokens_total = sum(m.total for m in SEED_MODELS)
    chart_total = sum(next(w for w in chart(SnapshotSpec())["data"]["data"] if w["x"] == "2026-02-02")["ys"].values())
    week = weekly_totals(db, "2026-02-08")
    wow = week["like_for_like_best_usd"] / week["previous_revenue_best_usd"] - 1

    # Summary: five rows, the best estimate first, OpenRouter's take last.
    rows = summary(text)
    top = max(paid, key=lambda m: best[m.permaslug])
    revenue_by_author, tokens_by_author = defaultdict(float), defaultdict(int)
    for model in SEED_MODELS:
        revenue_by_author[author(model)] += best[model.permaslug]
        tokens_by_author[author(model)] += model.total
    lab = max(revenue_by_author, key=lambda a: revenue_by_author[a] / best_total - tokens_by_author[a] / tokens_total)
    assert rows == {
        "Estimated weekly revenue": f"**{fmt.usd(best_total)}**, range {fmt.usd(low)} to {fmt.usd(high)}; "
                                    f"{fmt.change(wow, digits=1)} week over week (the 10 models known both "
                                    "weeks)",
        "Top model": f"[{display(top)}]({fmt.model_url(top.public_id, top.permaslug)}): {fmt.usd(best[top.permaslug])} "
                     f"({fmt.ratio(best[top.permaslug], best_total)} of the estimate)",
        "Lab earning most above its token share": f"{lab}: {fmt.ratio(revenue_by_author[lab], best_total)} of the "
                                                  f"revenue from {fmt.ratio(tokens_by_author[lab], tokens_total)} of "
                                                  "the tokens",
        "Tokens tracked": f"**{fmt.tokens(tokens_total)}** of 10 models ({fmt.ratio(tokens_total, chart_total)}"
                          f" of the {fmt.tokens(chart_total)} on OpenRouter's weekly chart)",
        "OpenRouter's own take": f"about {fmt.usd(best_total * 0.055)} (range {fmt.usd(low * 0.055)} to "
                                 f"{fmt.usd(high * 0.055)}): the best estimate x its 5.5% fee on credit purchases; "
                                 "BYOK traffic and discounts unknown"}
    assert lab == "anthropic" and fmt.usd(list_total) == "$2.82M"
    series = monday_series(db)
    first, last = series[0], series[-1]
    takeaway = section(text, "Summary").split("**Takeaway:**")[1].split("\n\n")[0]
    grew = fmt.change(last["revenue_best_usd"] / first["revenue_best_usd"] - 1)
    modeled = [fmt.percent(1 - w["measured_usd"] / w["revenue_best_usd"], 0) for w in (first, last)]
    # the same week as the Summary and the chart's last bar (a Monday crawl: its week is a Monday week)
    assert " ".join(takeaway.split()) == (
        f"the weekly estimate went from {fmt.usd(first['revenue_best_usd'])} "
        f"(range {fmt.usd(first['revenue_low_usd'])} to {fmt.usd(first['revenue_high_usd'])}; "
        f"Monday week {first['week_start']} "
        f"to {first['week_end']}, {modeled[0]} modeled) to {fmt.usd(last['revenue_best_usd'])} (Monday week "
        f"2026-02-02 to 2026-02-08, {modeled[1]} modeled): {grew}.")

    # Revenue Over Time ends with the crawl's own week (a Monday crawl).
    assert last["week_end"] == "2026-02-08"
    assert_series(text, series)

    # Revenue by Model: full names down the side of a horizontal chart, in $M.
    ranked = sorted(paid, key=lambda m: -best[m.permaslug])
    [by_model] = blocks_of(text, "Revenue by Model")
    assert "xychart-beta horizontal" in by_model and '"Revenue ($M)" 0 --> 1.2' in by_model
    assert xychart_series(by_model) == {"x-axis": [[display(m) for m in ranked]],
                                        "bar": [[in_millions(best[m.permaslug]) for m in ranked]], "line": []}

    # Revenue Share: each paying lab with 3 % of the revenue or more its own slice, the smaller ones
    # one slice (their percentages would print over each other), legends with their figure, the first
    # colour blue.
    [share] = blocks_of(text, "Revenue Share")
    paying = sorted((a for a in revenue_by_author if revenue_by_author[a]), key=lambda a: -revenue_by_author[a])
    total = sum(revenue_by_author.values())
    small = [a for a in paying if revenue_by_author[a] < 0.03 * total]
    rest = sum(revenue_by_author[a] for a in small)
    assert len(small) > 1 and pie(share) == {
        **{f"{a} {fmt.usd(revenue_by_author[a])}": fmt.plain(round(revenue_by_author[a], 2), 2)
           for a in paying if a not in small},
        f"{len(small)} other labs {fmt.usd(rest)}": fmt.plain(round(rest, 2), 2)}
    assert '"pie1": "#0969da"' in share and "showData" not in share

    [token_pie] = blocks_of(text, "Token Type Distribution")
    uncached, cached = sum(m.prompt - m.cached for m in SEED_MODELS), sum(m.cached for m in SEED_MODELS)
    completion = sum(m.completion for m in SEED_MODELS)
    assert pie(token_pie) == {f"Uncached prompt {fmt.tokens(uncached)}": str(uncached),
                              f"Cached prompt {fmt.tokens(cached)}": str(cached),
                              f"Completion incl. reasoning {fmt.tokens(completion)}": str(completion)}
    assert f"reasoning tokens ({fmt.tokens(sum(m.reasoning for m in SEED_MODELS))})" in \
        " ".join(section(text, "Token Type Distribution").split())

    # Model Breakdown: the paid ones with their basis and week over week, the free one in a line.
    shown = breakdown(text)
    previous = {r["permaslug"]: r["previous_revenue_best_usd"] for r in Database(db).query(
        "SELECT permaslug, previous_revenue_best_usd FROM weekly_revenue")}
    assert list(shown) == [display(m) for m in ranked]
    for place, model in enumerate(ranked, 1):
        # the place by estimate, the split's shares, and what the traffic paid (the basis is effective)
        input_price, output_price, _ = effective_prices(model)
        assert shown[display(model)] == [
            str(place), f"[{display(model)}]({fmt.model_url(model.public_id, model.permaslug)})",
            fmt.tokens(model.total), fmt.percent(model.cached / model.prompt), fmt.percent(model.prompt / model.total),
            fmt.percent(model.completion / model.total), fmt.prices(input_price / 1e6, output_price / 1e6),
            "effective", fmt.usd(best[model.permaslug]),
            fmt.change(best[model.permaslug] / previous[model.permaslug] - 1)]
    breakdown_text = " ".join(section(text, "Model Breakdown").split())
    assert breakdown_text.startswith("10 models this week: 9 paid ones with the largest estimates below, "
                                     "1 free one and 0 without an estimate.")
    assert "**Free** (1, $0): Trinity Large Preview." in breakdown_text
    assert "<details>" not in section(text, "Model Breakdown")  # nothing more to list

    # Methodology: a six-line glossary, the estimates compared, the earlier project's figure corrected.
    methodology = section(text, "Methodology")
    glossary = table(methodology)
    assert [row[0] for row in glossary] == ["Model-variant", "Split", "Best estimate", "Basis", "Monday week",
                                            "Measured, modeled"]
    compared = table(after(methodology, "| Estimate |"))
    assert [row[:3] for row in compared] == [
        ["Best estimate (the headline)", fmt.usd(best_total), "10 of 10"],
        ["Effective prices", fmt.usd(best_total), "10 of 10"],
        ["List prices, cached tokens counted once", "$2.82M", "10 of 10"],
        ["The earlier project's formula (cached tokens charged twice)", "$6.25M", "10 of 10"]]
    corrections = " ".join(after(methodology, "**Corrected from the earlier project's README:**").split())
    assert (f"Its formula gives $6.25M for this week; counting them once at list prices gives $2.82M, and the best "
            f"estimate is {fmt.usd(best_total)}.") in corrections
    assert "Revenue unknown" not in text and "n/a" not in text.split("## Methodology")[0]
    assert check_xychart_lengths(text) == 4  # revenue over time, by model, labs over time, by provider
    assert_reads_in_short_paragraphs(text)


@pytest_twisted.ensureDeferred
async def test_seed_method_reproduces_the_seed_readme(tmp_path):
    text = await crawl_demo(tmp_path, ORSTATS_REVENUE_METHOD="seed")
    rows = summary(text)
    assert rows["Estimated weekly revenue"].startswith("**$6.25M** (the earlier project's formula, cached tokens "
                                                       "charged twice), range $2.82M to ")
    assert "week over week" not in rows["Estimated weekly revenue"]  # like for like is the best estimate's
    assert rows["Tokens tracked"].startswith("**5.57T**")
    sonnet = breakdown(text)["Claude Sonnet 4.5"]
    # the first by estimate; list prices (the method's basis); no basis, no WoW
    spec = next(m for m in SEED_MODELS if display(m) == "Claude Sonnet 4.5")
    assert sonnet == ["1", sonnet[1], "705.6B", fmt.percent(spec.cached / spec.prompt), "98.3%", "1.7%",
                      "$3.00 / $15.00", "$2.40M"]
    # The seed README's order and per-model figures (its Revenue by Model chart, in $M).
    by_seed = sorted((m for m in SEED_MODELS if m.variant != "free"), key=lambda m: -seed_expected(m)[1])
    assert list(breakdown(text)) == [display(m) for m in by_seed]
    [by_model] = blocks_of(text, "Revenue by Model")
    assert xychart_series(by_model)["bar"] == [[in_millions(seed_expected(m)[1]) for m in by_seed]]
    assert xychart_series(by_model)["bar"][0][:2] == ["2.3973", "2.0816"]  # the seed's 2397302.04, 2081607.17
    assert table(after(section(text, "Methodology"), "| Estimate |"))[3][:2] == [
        "The earlier project's formula (cached tokens charged twice) (the headline)", "$6.25M"]


@pytest_twisted.ensureDeferred
async def test_the_time_series_is_the_monday_series_of_the_history(tmp_path):
    """The demo crawl (a Monday, 2026-02-09) stores its chart's 51 finished weeks: the four whose
    seven days its daily activity covers are measured, the older ones modeled; a year of weeks has
    a label a month."""
    text = await crawl_demo(tmp_path)
    rows = monday_series(tmp_path / "data" / "history.db")
    chart_weeks = [w["x"] for w in chart(SnapshotSpec())["data"]["data"]][:-1]  # the last week is partial
    assert [row["week_start"] for row in rows] == chart_weeks and len(rows) == 51
    measured = [(date(2026, 1, 12) + timedelta(weeks=n)).isoformat() for n in range(4)]
    assert [row["week_start"] for row in rows if row["basis"] == "measured"] == measured

    weekly = assert_series(text, rows)
    assert [r[3] for r in weekly] == ["measured"] * 4 + ["modeled"] * 47
    [block] = blocks_of(text, "Revenue Over Time")
    [labels] = xychart_series(block)["x-axis"]
    assert visible(labels) == month_labels([date.fromisoformat(row["week_end"]) for row in rows])
    assert [label for _, label in visible(labels)] == ["Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                                      "Dec", "2026", "Feb"]
    assert '"Revenue ($M)" 0 --> 4' in block  # the largest week, $3.04M, on a 0.5 step axis
    over = " ".join(section(text, "Revenue Over Time").split())
    assert "the 51 weeks up to 2026-02-08. Dark bars: measured weeks; light bars: modeled ones" in over

    # Each lab's share of the series: the four with the most revenue over it, a colour each, named.
    [lines] = blocks_of(text, "Revenue by Author")
    totals = defaultdict(float)
    authors = defaultdict(dict)
    for row in Database(tmp_path / "data" / "history.db").query("SELECT * FROM monday_series_authors"):
        totals[row["author"]] += row["revenue_best_usd"]
        authors[row["week_start"]][row["author"]] = row["revenue_best_usd"]
    labs = sorted(totals, key=lambda a: -totals[a])[:4]
    assert xychart_series(lines)["line"] == [
        [fmt.plain(round(100 * authors[row["week_start"]].get(lab, 0.0) / row["revenue_best_usd"], 1), 1)
         for row in rows] for lab in labs]
    assert f"Lines: {labs[0]} blue, {labs[1]} orange, {labs[2]} green, {labs[3]} purple." in \
        section(text, "Revenue by Author")


@pytest_twisted.ensureDeferred
async def test_the_effective_headline_keeps_the_comparable_series(tmp_path):
    text = await crawl_demo(tmp_path, ORSTATS_REVENUE_METHOD="effective")
    effective_total = sum(expected_effective(m) for m in SEED_MODELS)
    assert summary(text)["Estimated weekly revenue"].startswith(
        f"**{fmt.usd(effective_total)}** (effective prices, what the traffic paid)")
    assert_series(text, monday_series(tmp_path / "data" / "history.db"))  # the best estimate whatever the headline


def test_imported_weeks_chart_what_the_series_estimates(tmp_path):
    """An import-only history: a week with its split (measured), a week whose files lost the split
    (modeled from the first), and one of model-variants never measured."""
    renamed = [replace(m, permaslug=m.permaslug + "-renamed") for m in SEED_MODELS]
    files = tmp_path / "files"
    history = tmp_path / "history.db"
    run_import(history, write(files, anchor_file(date(2026, 5, 4))),
               write(files, anchor_file(date(2026, 5, 11), zero=True)),
               write(files, anchor_file(date(2026, 6, 1), models=renamed, zero=True)))
    render(history, tmp_path / "reports", method="list")
    # The front page leads with the week that has an estimate; the latest week has its own page.
    assert "(week 2026-04-27 to 2026-05-03, " in (tmp_path / "reports" / "README.md").read_text(encoding="utf-8")
    text = (tmp_path / "reports" / "weekly" / "2026-05-31.md").read_text(encoding="utf-8")
    rows = monday_series(history)
    assert [row["basis"] for row in rows][:2] == ["measured", "modeled"]
    weekly = assert_series(text, rows)
    assert weekly[-1][0] == "2026-04-27 to 2026-05-03"
    # The latest week's revenue is unknown by list prices: no model is charted, none is listed as paid.
    assert "No model has a known, non-zero revenue this week." in section(text, "Revenue by Model")
    assert " ".join(section(text, "Model Breakdown").split()).startswith(
        "10 models this week: 0 paid ones with the largest estimates below, 1 free one and 9 without an "
        "estimate.")


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
# The middle week misses one model-variant's split: its best estimate imputes the cached share.
THREE_WEEKS = [scaled(SEED_MODELS, 0.8), scaled(with_models((8, {"activity": "missing"})), 0.9), SEED_MODELS]


async def crawl_weeks(tmp_path: Path, days: list[date], weeks: list) -> Path:
    """Weekly Monday crawls into one history; the history file."""
    settings = report_settings(tmp_path)
    for day, models in zip(days, weeks):
        snapshot = build_snapshot(tmp_path / f"snapshot-{day}", SnapshotSpec(models=models, captured=day),
                                  mutate=seed_chart(day))
        result = await crawl(settings, snapshot=str(snapshot), top="all")
        assert result.status == "published"
    return Path(settings["ORSTATS_DB"])


@pytest_twisted.ensureDeferred
async def test_every_week_page_charts_the_monday_weeks_up_to_it(tmp_path):
    db = await crawl_weeks(tmp_path, THREE_DAYS, THREE_WEEKS)
    ends = [(day - timedelta(days=1)).isoformat() for day in THREE_DAYS]
    reports = tmp_path / "reports"
    assert sorted(p.name for p in (reports / "weekly").iterdir()) == [f"{end}.md" for end in ends]
    rows = monday_series(db)
    assert len(rows) == SERIES_WEEKS  # of the history's 53
    assert [row["week_end"] for row in rows if row["basis"] == "measured"][-3:] == ends
    assert_series((reports / "README.md").read_text(encoding="utf-8"), rows)
    middle = (reports / "weekly" / f"{ends[1]}.md").read_text(encoding="utf-8")
    assert_series(middle, monday_series(db, ends[1]))
    assert "(the history holds 53)" not in middle and "the 52 weeks up to 2026-02-08 (the history holds 53)." in \
        " ".join(section((reports / "README.md").read_text(encoding="utf-8"), "Revenue Over Time").split())
    # The middle week: Gemini 2.5 Flash Lite's split was not fetched; the best estimate imputes it.
    lite = breakdown(middle)["Gemini 2.5 Flash Lite"]
    assert lite[7] == "effective" and lite[3] == "n/a"  # effective prices need no split
    week = weekly_totals(db, ends[1])
    assert summary(middle)["Estimated weekly revenue"].startswith(f"**{fmt.usd(week['revenue_best_usd'])}**")
    wow = fmt.change(week["like_for_like_best_usd"] / week["previous_revenue_best_usd"] - 1, digits=1)
    assert f"; {wow} week over week (the {week['previous_models']} models known both weeks)" in \
        summary(middle)["Estimated weekly revenue"]
    assert check_xychart_lengths(middle) == 4


@pytest_twisted.ensureDeferred
async def test_a_crawl_rewrites_only_the_pages_whose_figures_changed(tmp_path):
    """A crawl six weeks after the first leaves the first week's page alone (its week, its series: the
    new crawl's daily activity re-measures only the four Monday weeks before it); what a reader or a
    crash did to a page is undone by the next render; `scrapy report` rewrites every page."""
    later = THREE_DAYS[0] + timedelta(weeks=6)
    db = await crawl_weeks(tmp_path, THREE_DAYS[:1], THREE_WEEKS[:1])
    reports = tmp_path / "reports"
    first = reports / "weekly" / "2026-01-25.md"
    written = first.stat().st_mtime_ns
    await crawl_weeks(tmp_path, [later], [SEED_MODELS])
    assert first.stat().st_mtime_ns == written
    # Left alone, it is what a full render writes.
    fresh = render(db, tmp_path / "fresh")
    assert [p.name for p in fresh.written] == ["2026-01-25.md", "2026-03-08.md", "README.md"]
    assert folder_bytes(reports) == folder_bytes(tmp_path / "fresh")

    untouched = render(db, reports, everything=False)
    assert untouched.written == [] and untouched.latest.week.week_end == "2026-03-08"
    second = reports / "weekly" / "2026-03-08.md"
    second.write_text(second.read_text(encoding="utf-8").replace("Summary", "Summery"), encoding="utf-8")
    (reports / "README.md").write_bytes((reports / "README.md").read_bytes()[:1000])  # as a crash may leave it
    first.unlink()
    healed = render(db, reports, everything=False)
    assert [p.name for p in healed.written] == ["2026-01-25.md", "2026-03-08.md", "README.md"]
    assert folder_bytes(reports) == folder_bytes(tmp_path / "fresh")
    done = await scrapy_here("report", "--db", str(db), "--output", str(reports))
    assert done.returncode == 0, done.stderr
    assert all(path.stat().st_mtime_ns > written for path in (reports / "weekly").iterdir())


@pytest_twisted.ensureDeferred
async def test_without_a_monday_week_the_page_says_so(tmp_path):
    """A history whose series holds no estimate (cleared here): no chart, one sentence."""
    await crawl_demo(tmp_path)
    db = tmp_path / "data" / "history.db"
    Database(db).execute("DELETE FROM monday_series").connection.commit()
    render(db, tmp_path / "again")
    text = (tmp_path / "again" / "README.md").read_text(encoding="utf-8")
    assert section(text, "Revenue Over Time").strip() == \
        "The history holds no complete Monday week with an estimate up to 2026-02-08."
    assert "**Takeaway:**" in section(text, "Summary")
    assert check_xychart_lengths(text) == 2  # revenue by model and by provider only


# --- unknowns ----------------------------------------------------------------------------------

def bad_count(name: str, value):
    """The leaderboard's prompt tokens of the model named ``name`` replaced by ``value``."""
    def mutate(url: str, payload):
        if "rankings/models" in url:
            for row in payload["data"]:
                if row["model_permaslug"] == name:
                    row["total_prompt_tokens"] = value
        return payload
    return mutate


@pytest_twisted.ensureDeferred
async def test_a_week_with_an_unknown_token_count(tmp_path):
    """A forced week whose smallest model-variant's count is bad: the page renders, totals say how
    many counts are unknown, the row is listed without an estimate and why."""
    lite = SEED_MODELS[8]
    snapshot = build_snapshot(tmp_path / "snapshot", mutate=bad_count(lite.permaslug, -5))
    result = await crawl(report_settings(tmp_path), snapshot=str(snapshot), top="all", force="true")
    assert result.status == "published"
    text = (tmp_path / "reports" / "README.md").read_text(encoding="utf-8")
    week = weekly_totals(tmp_path / "data" / "history.db", "2026-02-08")
    assert week["total_tokens"] is None and week["unknown_total_tokens_models"] == 1
    assert summary(text)["Tokens tracked"].startswith(
        f"at least **{fmt.tokens(week['known_total_tokens'])}** of 10 models, 1 of them of unknown count")
    details = after(section(text, "Model Breakdown"), "<details><summary>")
    assert details.startswith("<details><summary>1 without an estimate</summary>")
    assert table(details) == [["10", f"[{display(lite)}]({fmt.model_url(lite.public_id, lite.permaslug)})", "n/a",
                               "token count unknown", "$0.1000 / $0.4000"]]  # its known columns


@pytest_twisted.ensureDeferred
async def test_the_unknown_table_keeps_the_columns_that_differ(tmp_path):
    """List prices as the headline: a model-variant without a split and one without a price; the
    reasons differ, so the table says why for each."""
    models = with_models((7, {"activity": "missing"}), (8, {"in_catalogue": False}))
    snapshot = build_snapshot(tmp_path / "snapshot", SnapshotSpec(models=models))
    result = await crawl(report_settings(tmp_path, ORSTATS_REVENUE_METHOD="list", ORSTATS_MIN_SPEND_COVERAGE="0"),
                         snapshot=str(snapshot), top="all", force="true")
    assert result.status == "published"
    text = (tmp_path / "reports" / "README.md").read_text(encoding="utf-8")
    details = table(after(section(text, "Model Breakdown"), "<details><summary>2 without an estimate"))
    why = {row[1].split("]")[0].lstrip("["): row for row in details}
    assert {name: row[3] for name, row in why.items()} == {display(models[7]): "token split not measured",
                                                          models[8].permaslug: "no list price"}  # no name either
    header = after(section(text, "Model Breakdown"), "<details><summary>2 without")
    assert ("| Token rank | Model | Tokens | Why unknown | Price in / out ($/M) | At most (no cache discount) |"
            in header)


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
    (1, {"name": "Anthropic: " + HOSTILE}),  # the same name twice: a chart would merge the two bars
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
        for label in re.findall(r'^\s*"(.*)" : ', block, re.M):  # a pie's: a name, then its figure
            assert '"' not in label and not set(label.rsplit(" ", 1)[0]) & set("`<>[]#&$")
        for labels in xychart_series(block)["x-axis"]:
            assert len(set(labels)) == len(labels)
            assert not any(set(label) & set('"`<>[]#&$') for label in labels)
    [by_model] = blocks_of(text, "Revenue by Model")
    assert len(xychart_series(by_model)["x-axis"][0]) == 9  # both hostile-named models kept their own bar
    assert check_xychart_lengths(text) == 4
    names = [row[1] for row in table(section(text, "Model Breakdown"))]
    assert sum(1 for name in names if name.startswith("[Evil \\| Model \"quoted\" \\]x\\[ \\`tick\\`")) == 2


# --- `scrapy report` ---------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_scrapy_report_renders_without_crawling(tmp_path):
    db = tmp_path / "data" / "history.db"
    snapshot = build_snapshot(tmp_path / "snapshot")
    result = await crawl({"ORSTATS_DB": str(db), "ORSTATS_REPORT_DIR": ""}, snapshot=str(snapshot), top="all")
    assert result.report is None  # no report folder: the extension stays off

    out = tmp_path / "out"
    done = await scrapy_here("report", "--db", str(db), "--output", str(out), "-s", "ORSTATS_REVENUE_METHOD=seed")
    assert done.returncode == 0, done.stderr
    assert f"report written to {out / 'README.md'}" in done.stdout and "headline seed: $6.25M" in done.stdout
    assert summary((out / "README.md").read_text(encoding="utf-8"))["Estimated weekly revenue"].startswith("**$6.25M**")

    # Settings are the defaults: ORSTATS_DB / ORSTATS_REPORT_DIR, the best estimate (effective prices
    # here: the factory's traffic paid 10 % over the cache-discounted list price on input).
    done = await scrapy_here("report", "-s", f"ORSTATS_DB={db}", "-s", f"ORSTATS_REPORT_DIR={out}")
    assert done.returncode == 0, done.stderr
    effective_total = sum(expected_effective(m) for m in SEED_MODELS)
    headline = summary((out / "README.md").read_text(encoding="utf-8"))["Estimated weekly revenue"]
    assert headline.startswith(f"**{fmt.usd(effective_total)}**, range")

    missing = await scrapy_here("report", "--db", str(tmp_path / "nope.db"), "--output", str(out))
    assert missing.returncode == 1
    assert f"history file {tmp_path / 'nope.db'} does not exist" in missing.stderr
