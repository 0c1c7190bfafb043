"""Datasette over a crawled history, served as the README says: every canned query's rows, the
weekly-revenue page in headless Chromium, and no way to write.

The history holds three crawls of factory snapshots: the seed week, a next week where one model's
tokens doubled and one price dropped, and a week rejected for a missing split.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlite_utils import Database

from orstats_crawler.history.formulas import EFFECTIVE_DOUBT
from tests.conftest import ROOT, command_here
from tests.factory import (SEED_MODELS, ModelSpec, SnapshotSpec, build_snapshot, expected_effective, usd,
                           with_models)
from tests.factory import expected_revenues as seed_expected
from tests.servers import free_port, require_tool, start_server

METADATA = ROOT / "datasette" / "metadata.yml"


def read_metadata() -> dict[str, Any]:
    """datasette/metadata.yml (with libyaml's loader where PyYAML has it: some modules read it when
    collected, by every worker)."""
    return yaml.load(METADATA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
WEEK1, WEEK2, WEEK3 = ("2026-02-02", "2026-02-08"), ("2026-02-09", "2026-02-15"), ("2026-02-16", "2026-02-22")
# Week 2: Kimi's traffic doubles, Sonnet's prompt price drops from $3 to $2.50 per million tokens.
KIMI, SONNET = 2, 0
WEEK2_MODELS = with_models(
    (KIMI, {"prompt": SEED_MODELS[KIMI].prompt * 2, "completion": SEED_MODELS[KIMI].completion * 2,
            "cached": SEED_MODELS[KIMI].cached * 2, "reasoning": SEED_MODELS[KIMI].reasoning * 2}),
    (SONNET, {"pricing": {**SEED_MODELS[SONNET].pricing, "prompt": usd(2.5e-06)}}),
)
# Week 3: Sonnet and Opus have no token split: 28 % of the spend measured, below the gate's 90 %.
WEEK3_MODELS = with_models((0, {"activity": "missing"}), (1, {"activity": "missing"}))
# The factory draws the chart from the models' totals, so changed models would rewrite the chart's
# finished weeks (a rejection of its own): the later snapshots leave the optional chart out.
CRAWLS = {  # crawl id (scrapyd's `_job` argument) -> snapshot
    "week1": SnapshotSpec(),
    "week2": SnapshotSpec(models=WEEK2_MODELS, captured=date(2026, 2, 16), name="week2", with_chart=False),
    "week3": SnapshotSpec(models=WEEK3_MODELS, captured=date(2026, 2, 23), name="week3", with_chart=False),
}


def high_expected(model: ModelSpec) -> float:
    """No cache discount: every prompt token at the prompt price."""
    if model.variant == "free":
        return 0.0
    return model.prompt * float(model.pricing["prompt"]) + model.completion * float(model.pricing["completion"])


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("datasette")
    db = folder / "history.db"  # served as database `history`, the name metadata.yml describes
    for crawl_id, spec in CRAWLS.items():
        snapshot = build_snapshot(folder / crawl_id, spec)
        result = command_here("crawl", "rankings", "-a", f"snapshot={snapshot}", "-a", "top=all",
                              "-a", f"_job={crawl_id}",
                              "-s", f"ORSTATS_DB={db}", "-s", f"ORSTATS_REPORT_DIR={folder / 'reports'}")
        assert result.returncode in (0, 3), result.stderr  # 3: rejected by the quality gate
    statuses = {row["id"]: row["status"] for row in Database(db).query("select id, status from crawls")}
    assert statuses == {"week1": "published", "week2": "published", "week3": "rejected"}
    return db


@pytest.fixture(scope="module")
def datasette(history, tmp_path_factory):
    """The README's command, on a free port."""
    port = free_port()
    server = start_server(
        [str(Path(sys.executable).parent / "datasette"), "serve", str(history), "-m", str(METADATA),
         "--static", f"orstats:{METADATA.parent / 'static'}", "-h", "127.0.0.1", "-p", str(port),
         "--setting", "sql_time_limit_ms", "5000"],
        f"http://127.0.0.1:{port}/-/versions.json", cwd=history.parent,
        log=tmp_path_factory.mktemp("datasette-log") / "datasette.log")
    yield f"http://127.0.0.1:{port}"
    server.stop()


def read_only(path: Path) -> Database:
    """The test's own look at the file, unable to change it (not even by a WAL checkpoint)."""
    return Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def query(base: str, name: str, **params: str) -> list[dict]:
    response = requests.get(f"{base}/history/{name}.json", params={"_shape": "objects", **params}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def test_every_canned_query_answers_with_the_crawled_figures(datasette, history):
    week1 = {m.permaslug: m for m in SEED_MODELS}
    week2 = {m.permaslug: m for m in WEEK2_MODELS}
    queries = read_metadata()["databases"]["history"]["queries"]
    assert set(queries) == {"revenue_over_time", "crawl_weeks", "week_models", "biggest_movers",
                            "revenue_by_author", "price_changes", "rejected_crawls",
                            "revenue_by_provider"}  # a new query gets its checks here

    # The comparable series: every complete Monday week of the history, as monday_series holds it.
    rows = query(datasette, "revenue_over_time")
    stored = list(read_only(history).query("select * from monday_series order by week_start"))
    assert [(r["week_start"], r["best"], r["range"], r["basis"], r["tokens"]) for r in rows] == [
        (w["week_start"], f"${w['revenue_best_usd'] / 1e6:.2f}M",
         f"${w['revenue_low_usd'] / 1e6:.2f}M to ${w['revenue_high_usd'] / 1e6:.2f}M", w["basis"],
         f"{w['total_tokens'] / 1e12:.2f}T") for w in stored]
    assert rows and all(w["revenue_low_usd"] <= w["revenue_best_usd"] <= w["revenue_high_usd"] for w in stored)

    # The crawls' own weeks: the published ones only, every formula and the best estimate's band, in $M
    # as the report writes them.
    rows = query(datasette, "crawl_weeks")
    assert [(r["week_start"], r["week_end"]) for r in rows] == [WEEK1, WEEK2]
    for row, models in zip(rows, (week1, week2)):
        effective = sum(expected_effective(m) for m in models.values())
        listed = sum(seed_expected(m)[0] for m in models.values())
        assert row["list"] == f"${listed / 1e6:.2f}M"
        assert row["seed"] == f"${sum(seed_expected(m)[1] for m in models.values()) / 1e6:.2f}M"
        # every model-variant has an effective price here: the best is what it paid, the band its sample's doubt
        assert row["effective"] == row["best"] == f"${effective / 1e6:.2f}M"
        assert row["range"] == (f"${effective * (1 - EFFECTIVE_DOUBT) / 1e6:.2f}M to "
                                f"${effective * (1 + EFFECTIVE_DOUBT) / 1e6:.2f}M")
        assert row["models"] == len(SEED_MODELS)
    assert rows[0]["seed"] == "$6.25M"  # the seed README's headline
    assert all(row["wow"].endswith("%") for row in rows)

    # One week: the latest published one by default, biggest best estimate first.
    rows = query(datasette, "week_models")
    assert {r["week_end"] for r in rows} == {WEEK2[1]}
    expected = sorted(week2.values(), key=lambda m: -expected_effective(m))
    assert [r["model"] for r in rows] == [m.permaslug + ("" if m.variant == "standard" else f":{m.variant}")
                                          for m in expected]
    assert [r["#"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["best"] == f"${int(expected_effective(expected[0])):,}"
    assert rows[0]["list"] == f"${int(seed_expected(expected[0])[0]):,}"
    assert {r["basis"] for r in rows} == {"effective", "free"}
    sonnet = next(r for r in rows if r["model"] == SEED_MODELS[SONNET].permaslug)
    assert sonnet["per_m"] == "$2.5 / $15"
    chosen = query(datasette, "week_models", week_end=WEEK1[1])
    assert {r["week_end"] for r in chosen} == {WEEK1[1]} and len(chosen) == len(SEED_MODELS)
    rejected = query(datasette, "week_models", week_end=WEEK3[1])
    assert {r["week_end"] for r in rejected} == {f"{WEEK3[1]} (rejected)"}

    # Movers: week 2 against week 1, the largest change in list-price spend first.
    rows = query(datasette, "biggest_movers")
    changes = {p: seed_expected(week2[p])[0] - seed_expected(week1[p])[0] for p in week1}
    assert [r["model"] for r in rows[:2]] == sorted(changes, key=lambda p: -abs(changes[p]))[:2]
    kimi = next(r for r in rows if r["model"] == SEED_MODELS[KIMI].permaslug)
    assert kimi["previous_week_end"] == WEEK1[1] and kimi["tokens_change"] == "+100.0%"
    assert kimi["list_change_usd"] == f"{int(changes[kimi['model']]):+,}"
    assert len(rows) == len(SEED_MODELS)

    # By author: the permaslug's owner, summed over the week, token share against spend share.
    rows = query(datasette, "revenue_by_author")
    authors: dict[str, list[ModelSpec]] = {}
    for model in week2.values():
        authors.setdefault(model.permaslug.split("/")[0], []).append(model)
    spend = {a: sum(expected_effective(m) for m in models) for a, models in authors.items()}
    assert [r["author"] for r in rows] == sorted(spend, key=lambda a: (-spend[a], a))
    for row in rows:
        models = authors[row["author"]]
        assert (row["models"], row["unknown_revenue"]) == (len(models), 0)
        assert row["best"] == f"${int(spend[row['author']]):,}"
        assert row["list"] == f"${int(sum(seed_expected(m)[0] for m in models)):,}"
        assert row["best_share"] == f"{100 * spend[row['author']] / sum(spend.values()):.2f}%"
        assert row["week_end"] == WEEK2[1] and row["status"] == "published"
    assert sum(float(r["token_share"].rstrip("%")) for r in rows) == pytest.approx(100, abs=0.1)

    # By provider: each model-variant here has one provider, named after its public id's author.
    rows = query(datasette, "revenue_by_provider")
    served: dict[str, float] = {}
    for model in week2.values():
        if expected_effective(model):
            provider = model.public_id.split("/")[0]
            served[provider] = served.get(provider, 0.0) + expected_effective(model)
    assert [r["provider_slug"] for r in rows] == sorted(served, key=lambda p: (-served[p], p))
    for row in rows:
        assert row["revenue_best_usd"] == pytest.approx(served[row["provider_slug"]], rel=1e-9)
        assert row["week_end"] == WEEK2[1] and row["status"] == "published"
    assert sum(r["revenue_share_pct"] for r in rows) == pytest.approx(100, abs=0.1)

    # Price changes: Sonnet's prompt price, down in week 2 and back up in week 3 (its catalogue).
    rows = query(datasette, "price_changes")
    assert [(r["public_id"], r["previous_observed_on"], r["observed_on"], r["previous_prompt_usd_per_m"],
             r["prompt_usd_per_m"], r["crawl_id"]) for r in rows] == [
        ("anthropic/claude-sonnet-4.5", "2026-02-16", "2026-02-23", 2.5, 3.0, "week3"),
        ("anthropic/claude-sonnet-4.5", "2026-02-09", "2026-02-16", 3.0, 2.5, "week2"),
    ]
    assert {r["completion_usd_per_m"] for r in rows} == {15.0}

    # Rejected crawls: week 3, the failed check and the 404s behind it.
    rows = query(datasette, "rejected_crawls")
    assert [(r["crawl_id"], r["week_start"], r["week_end"]) for r in rows] == [("week3", *WEEK3)]
    assert rows[0]["failed_checks"].startswith("split_coverage: ")
    assert 0.2 < rows[0]["spend_coverage"] < 0.9
    for model in SEED_MODELS[:2]:
        assert f"permaslug={model.permaslug.replace('/', '%2F')}&variant=standard HTTP 404" in rows[0]["first_problems"]


def test_metadata_describes_real_columns_and_credits_the_source(datasette, history):
    metadata = requests.get(f"{datasette}/-/metadata.json", timeout=10).json()
    assert metadata["license"] == "CC BY 4.0"
    assert metadata["license_url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert metadata["source"] == "OpenRouter (openrouter.ai/rankings)"  # Datasette writes "Data source: "
    db = read_only(history)
    for name, table in metadata["databases"]["history"]["tables"].items():
        assert name in db.table_names() + db.view_names(), f"metadata describes {name}, which the history lacks"
        columns = {c.name for c in (db[name].columns if name in db.table_names() else db.view(name).columns)}
        assert set(table.get("columns", {})) <= columns, f"{name}: metadata describes columns it does not have"
    page = requests.get(f"{datasette}/history/weekly_revenue", timeout=10).text
    assert "Data source:" in page and "OpenRouter (openrouter.ai/rankings)" in page and "CC BY 4.0" in page
    assert "Source: Source:" not in page and "Data source: Source" not in page
    home = requests.get(f"{datasette}/history", timeout=10).text
    assert "`" not in home.split("<h1")[1].split("</p>")[0]  # the description is prose, not markdown
    assert "_sqlite_migrations" not in home.split("hidden tables")[0]  # hidden: listed last, if at all


class TableRows(HTMLParser):
    """The cells of Datasette's results table (`table.rows-and-columns`) by column class."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._in_table = False
        self._column: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "rows-and-columns" in classes:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append({})
        elif self._in_table and tag == "td":
            self._column = next((c[4:] for c in classes if c.startswith("col-")), None)
            self.rows[-1][self._column] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag == "td":
            self._column = None

    def handle_data(self, data: str) -> None:
        if self._in_table and self._column:
            self.rows[-1][self._column] += data.strip()


def test_weekly_revenue_page_renders_in_chromium(datasette, tmp_path):
    chromium = require_tool("chromium", "/usr/bin/chromium")
    url = f"{datasette}/history/crawl_weeks"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", url],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "The crawls&#39; own weeks</h1>" in result.stdout or "The crawls' own weeks</h1>" in result.stdout
    table = TableRows()
    table.feed(result.stdout)
    rendered = [row for row in table.rows if row]  # the header row has th cells only
    expected = query(datasette, "crawl_weeks")
    assert [(r["week_start"], r["week_end"]) for r in rendered] == [WEEK1, WEEK2]
    for row, answer in zip(rendered, expected):
        assert (row["list"], row["range"], row["best"]) == (answer["list"], answer["range"], answer["best"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_writes_are_impossible(datasette, history):
    before = sha256(history)
    count = read_only(history).execute("select count(*) from crawls").fetchone()[0]
    attempts = [
        requests.post(f"{datasette}/history/crawls", data={"id": "x"}, timeout=10),
        requests.post(f"{datasette}/history/crawl_weeks", data={"sql": "delete from crawls"}, timeout=10),
        requests.post(f"{datasette}/history/-/insert", json={"table": "crawls", "row": {"id": "x"}}, timeout=10),
        requests.post(f"{datasette}/history/crawls/-/insert", json={"row": {"id": "x"}}, timeout=10),
        requests.post(f"{datasette}/history", data={"sql": "delete from crawls"}, timeout=10),
    ]
    for response in attempts:
        assert response.status_code >= 400, (response.request.url, response.status_code)
    # Arbitrary SQL is read-only twice over: Datasette accepts only SELECT, and SQLite (a mode=ro
    # connection) refuses a write that slips through its check.
    sql = {
        "delete from crawls": "Statement must be a SELECT",
        "select 1; delete from crawls": "one statement at a time",
        "with x as (select 1) delete from crawls": "attempt to write a readonly database",
    }
    for statement, refusal in sql.items():
        answer = requests.get(f"{datasette}/history.json", params={"sql": statement}, timeout=10).json()
        assert answer["ok"] is False and refusal in answer["error"], answer
    assert read_only(history).execute("select count(*) from crawls").fetchone()[0] == count
    assert sha256(history) == before


def test_the_only_plugins_are_those_pinned(datasette):
    """No plugin that could write slips in: Datasette loads exactly the plugins requirements.txt pins
    (the dashboards and the two they require, which only add pages that read), at those versions."""
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line.startswith("datasette-"))
    plugins = requests.get(f"{datasette}/-/plugins.json", timeout=10).json()
    assert {plugin["name"]: plugin["version"] for plugin in plugins} == pins
    assert "datasette-dashboards" in pins
