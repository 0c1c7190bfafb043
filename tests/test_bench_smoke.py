"""The benchmarks still run: each bench script in a tiny mode, its table checked for shape and for
no failed step. No timing is asserted here (timings belong to bench/run and docs/BENCHMARKS.md)."""

from __future__ import annotations

import re
from pathlib import Path

from bench import backtest, crawl, decode, history, week_weighted
from tests.conftest import shared_capture
from tests.factory import SEED_MODELS, build_snapshot


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every markdown table in the text, as cells."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and not line.startswith("|-")]


def test_crawl_bench_compares_scrapy_with_its_bound_and_a_sequential_loop(tmp_path: Path, capsys) -> None:
    snapshot = build_snapshot(tmp_path / "snapshot")
    assert crawl.main(["--snapshot", str(snapshot), "--latency", "5", "--concurrency", "4",
                       "--polite-seconds", "0", "--no-detail", "--timeout", "120"]) == 0
    out = capsys.readouterr().out
    rows = {row[0]: row for row in table_rows(out)}
    assert "FAILED" not in out
    scrapy_row, loop_row = rows["scrapy-5ms-C4"], rows["requests loop"]
    header = table_rows(out)[0]
    requests = int(scrapy_row[header.index("requests")])
    # the demo snapshot: 2 catalogues, leaderboard, chart, then a split per model (the bench fetches
    # them all) and an effective price per paid model
    assert requests == 4 + len(SEED_MODELS) + sum(m.variant != "free" for m in SEED_MODELS)
    assert int(loop_row[header.index("requests")]) == requests  # the same URLs, one after another
    assert float(scrapy_row[header.index("engine/bound")]) > 0
    assert scrapy_row[header.index("vs sequential")].endswith("x faster")


def test_decode_bench_measures_the_decoder_against_json_loads(capsys) -> None:
    assert decode.main(["--page", "/nonexistent/rankings.html", "--synthetic-mb", "0.05", "--repeat", "1"]) == 0
    rows = table_rows(capsys.readouterr().out)
    steps = [row[1] for row in rows[1:]]
    assert steps[0].startswith("decode_rankings_page") and steps[-1].startswith("floor: json.loads")
    assert re.match(r"synthetic \(0\.0\d MB, \d+ chunks, \d+ items\)", rows[1][0])
    assert all(float(row[-1]) > 0 for row in rows[1:])


def test_history_bench_times_upsert_report_and_every_canned_query(capsys) -> None:
    assert history.main(["--years", "0.04", "--models", "20"]) == 0
    out = capsys.readouterr().out
    rows = {row[0]: row[1] for row in table_rows(out)[1:]}
    assert "failed" not in out
    assert rows["history: model_weeks rows"] == "40"  # 2 weeks x 20 model-variants
    assert float(rows["upsert a week: write_crawl"].replace(",", "")) > 0
    assert float(rows["render the report (every published week)"].replace(",", "")) > 0
    assert float(rows["report after a crawl (incremental)"].replace(",", "")) > 0
    assert re.search(r"Report pages written \(README\.md included\): 0\.04 y: 3 pages, \d after a crawl\.", out)
    for name in history.canned_queries():
        assert float(rows[f"canned query {name} (sqlite3)"].replace(",", "")) >= 0
        assert rows[f"canned query {name} (datasette HTTP)"].replace(",", "").replace(".", "").isdigit()


def test_backtest_bench_prints_each_measured_week_and_the_errors(tmp_path: Path, capsys) -> None:
    from tests.test_monday_series import SAMPLE  # the earlier project's weeks, made by the factory
    from tests.test_import_history import run_import

    history = tmp_path / "history.db"
    run_import(history, SAMPLE)
    assert backtest.main(["--history", str(history)]) == 0
    out = capsys.readouterr().out
    weeks = [row for row in table_rows(out) if re.fullmatch(r"\d{4}-\d\d-\d\d", row[0])]
    assert weeks and {row[1] for row in weeks} == {"top_list"}  # imports only: no crawl week to hold out
    assert all(row[4].endswith("%") and row[6] in ("yes", "no") for row in weeks)
    tiers = {row[0]: row for row in table_rows(out) if len(row) == 8 and row[0] == "top_list"}
    assert tiers and all(row[2].endswith("%") and row[3].endswith("%") and row[4].endswith("%")
                         for row in tiers.values())  # median, p90 and coverage
    assert "median abs error" in out and "p90 abs error" in out and "band coverage" in out


def test_week_weighted_bench_computes_both_effective_totals_from_the_raw_files(capsys) -> None:
    week_weighted.main(["--capture", str(shared_capture("openrouter-2026-08-08"))])
    rows = table_rows(capsys.readouterr().out)
    totals = {row[0]: row[1:] for row in rows[:3]}
    assert totals["with an effective price"][:3] == ["365", "$19.569M", "$20.090M"]
    changes = rows[4:]
    assert len(changes) == week_weighted.TOP_CHANGES
    assert changes[0][1:3] == ["anthropic/claude-4.8-opus-20260528:standard", "71% / 85%"]  # Claude Opus 4.8
    assert changes[0][3:] == ["$0.824M", "$1.150M", "+39.5%"]
