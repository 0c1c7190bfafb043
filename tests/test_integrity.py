"""The gate on effective prices, drift and week totals, tried as an attacker would: each test builds a
poisoned copy of the real 2026-08-08 capture (its files hard-linked, JSON rewritten by code) and
crawls it after the clean capture was published; the poisoned crawl is rejected (exit 3) and the
published week keeps its figure, or it publishes within 5 % of it. Then the real sequence: the
successive weekly captures, and the anchor-history import, publish the clean weeks unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import pytest_twisted

from tests.conftest import SHARED, scrapy_here, shared_capture

CAPTURE = "openrouter-2026-08-08"
WEEK_END = "2026-08-07"
EFFECTIVE = "/stats/effective-pricing"


async def crawl(snapshot: Path, db: Path) -> int:
    result = await scrapy_here("crawl", "rankings", "-a", f"snapshot={snapshot}", f"-sORSTATS_DB={db}")
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.returncode


def headline(db: Path, week_end: str = WEEK_END) -> float | None:
    with sqlite3.connect(db) as connection:
        found = connection.execute("SELECT revenue_best_usd FROM weekly_totals WHERE week_end = ?",
                                   [week_end]).fetchone()
    return found[0] if found else None


def checks_of_last_crawl(db: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(db) as connection:
        (checks,) = connection.execute("SELECT checks FROM crawls ORDER BY started_at DESC LIMIT 1").fetchone()
    return {c["name"]: c for c in json.loads(checks)}


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def clean(capture_2026_08_08) -> tuple[Path, float]:
    """The history holding the clean 2026-08-08 crawl, published (each test crawls into a copy), and
    its headline."""
    db = capture_2026_08_08.history
    figure = headline(db)
    assert figure and 20.0e6 < figure < 20.2e6
    return db, figure


@pytest.fixture
def linkable(tmp_path: Path) -> Iterator[Path]:
    """Where a test's poisoned copies of a capture go: a folder of its own on the captures' file
    system, so that they hard-link the capture's files (the tests' folders may be in memory)."""
    if os.stat(tmp_path).st_dev == os.stat(shared_capture(CAPTURE)).st_dev:
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="orstats-poisoned-") as folder:
        yield Path(folder)


class Poisoned:
    """A copy of the capture whose JSON files are rewritten. Its files are hard links to the capture's
    where the file system allows (a thousand files are not copied for the few rewritten), so a
    rewrite replaces a file and never writes into it: the capture in ../shared stays as it is."""

    def __init__(self, folder: Path, capture: str = CAPTURE):
        self.folder = folder / "poisoned"
        shutil.copytree(shared_capture(capture), self.folder, copy_function=link_or_copy)
        self.entries = json.loads((self.folder / "manifest.json").read_text())["entries"]

    def rewrite(self, url_part: str, change: Callable[[Any, str], Any]) -> int:
        """``change(data, url)`` each answer whose URL holds ``url_part`` (returns the new data, or
        None to keep the changed one); returns how many were rewritten."""
        count = 0
        for entry in self.entries:
            if url_part in entry["url"]:
                path = self.folder / entry["file"]
                data = json.loads(path.read_text())
                changed = change(data, entry["url"])
                rewritten = path.with_name(path.name + ".poisoned")
                rewritten.write_text(json.dumps(data if changed is None else changed))
                rewritten.replace(path)
                count += 1
        assert count, url_part
        return count


def link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target)


def effective_url(permaslug: str, variant: str) -> str:
    return f"{EFFECTIVE}?permaslug={permaslug.replace('/', '%2F')}&variant={variant}&"


def scale_effective(factor: float) -> Callable[[Any, str], None]:
    def change(data: Any, url: str) -> None:
        for key in ("weightedInputPrice", "weightedOutputPrice"):
            data["data"][key] *= factor
    return change


def top_by_revenue(db: Path, where: str = "1") -> tuple[str, str]:
    return query(db, f"SELECT permaslug, variant FROM weekly_revenue WHERE {where} "
                     "ORDER BY revenue_best_usd DESC LIMIT 1")[0]


async def poisoned_crawl(tmp_path: Path, linkable: Path, clean: tuple[Path, float],
                         poison: Callable[[Poisoned], Any]) -> tuple[int, Path]:
    db = tmp_path / "history.db"
    shutil.copy(clean[0], db)
    snapshot = Poisoned(linkable)
    poison(snapshot)
    return await crawl(snapshot.folder, db), db


def assert_kept_or_close(code: int, db: Path, clean_figure: float) -> None:
    figure = headline(db)
    if code == 3:
        assert figure == clean_figure
    else:
        assert code == 0 and abs(figure / clean_figure - 1) <= 0.05, (code, figure)


@pytest_twisted.ensureDeferred
async def test_the_top_models_effective_price_x1000_is_rejected(tmp_path, linkable, clean):
    permaslug, variant = top_by_revenue(clean[0], "best_basis = 'effective'")
    code, db = await poisoned_crawl(tmp_path, linkable, clean, lambda s: s.rewrite(effective_url(permaslug, variant),
                                                                 scale_effective(1000)))
    assert code == 3 and headline(db) == clean[1]
    check = checks_of_last_crawl(db)["effective_prices"]
    assert check["result"] == "fail" and f"{permaslug}:{variant}" in check["message"]
    # stored as not believed in the rejected crawl; the clean crawl's price is believed
    stored = query(db, "SELECT c.status, e.rejected_because FROM effective_prices e JOIN crawls c ON c.id = e.crawl_id "
                       "WHERE e.permaslug = ? AND e.variant = ? ORDER BY c.started_at", permaslug, variant)
    assert stored[0] == ("published", None) and stored[1][0] == "rejected" and "x its list price" in stored[1][1]


@pytest.mark.parametrize("factor", [0.01, 1e-6], ids=["x0.01", "per-token"])
@pytest_twisted.ensureDeferred
async def test_every_effective_price_scaled_is_rejected(tmp_path, linkable, clean, factor):
    code, db = await poisoned_crawl(tmp_path, linkable, clean, lambda s: s.rewrite(EFFECTIVE, scale_effective(factor)))
    assert code == 3 and headline(db) == clean[1]
    assert checks_of_last_crawl(db)["effective_prices"]["result"] == "fail"


@pytest_twisted.ensureDeferred
async def test_every_effective_answer_being_one_models_body_is_rejected(tmp_path, linkable, clean):
    permaslug, variant = top_by_revenue(clean[0], "best_basis = 'effective'")
    body = json.loads((shared_capture(CAPTURE) / "api/frontend/v1/stats/effective-pricing"
                       / f"{permaslug.replace('/', '__')}__{variant}.json").read_text())
    code, db = await poisoned_crawl(tmp_path, linkable, clean, lambda s: s.rewrite(EFFECTIVE, lambda data, url: body))
    assert code == 3 and headline(db) == clean[1]
    check = checks_of_last_crawl(db)["effective_identity"]
    assert check["result"] == "fail" and "the same answer as" in check["message"]


@pytest_twisted.ensureDeferred
async def test_one_models_list_and_effective_price_x1000_is_rejected(tmp_path, linkable, clean):
    # the model-variant nearest 0.5 % of the week's list spend
    # (an embedding model has no completion price, so no list spend: its NULL would sort first)
    permaslug, variant = query(clean[0], "SELECT permaslug, variant FROM weekly_revenue WHERE best_basis = 'effective' "
                                         "AND revenue_high_usd IS NOT NULL ORDER BY ABS(revenue_high_usd / "
                                         "(SELECT SUM(revenue_high_usd) FROM weekly_revenue) - 0.005) LIMIT 1")[0]
    suffix = "" if variant == "standard" else f":{variant}"

    def poison(snapshot: Poisoned) -> None:
        snapshot.rewrite(effective_url(permaslug, variant), scale_effective(1000))

        def models(data: Any, url: str) -> None:
            for model in data["data"]:
                if model.get("canonical_slug") == permaslug and model["id"].endswith(suffix):
                    for key in ("prompt", "completion", "input_cache_read"):
                        if model["pricing"].get(key):
                            model["pricing"][key] = str(float(model["pricing"][key]) * 1000)
        snapshot.rewrite("/api/v1/models", models)

    code, db = await poisoned_crawl(tmp_path, linkable, clean, poison)
    assert code == 3 and headline(db) == clean[1]
    failed = {name for name, check in checks_of_last_crawl(db).items() if check["result"] == "fail"}
    assert failed & {"price_moves", "price_bound", "effective_prices"}, failed


@pytest_twisted.ensureDeferred
async def test_a_list_price_raised_2_5x_in_three_successive_crawls_never_publishes_far_off(tmp_path, linkable, clean):
    permaslug, variant = top_by_revenue(clean[0], "best_basis = 'effective'")
    db = tmp_path / "history.db"
    shutil.copy(clean[0], db)
    codes = []
    for step in (1, 2, 3):
        snapshot = Poisoned(linkable / f"step{step}")

        def models(data: Any, url: str, factor: float = 2.5 ** step) -> None:
            for model in data["data"]:
                if model.get("canonical_slug") == permaslug and ":" not in model["id"]:
                    for key in ("prompt", "completion", "input_cache_read"):
                        if model["pricing"].get(key):
                            model["pricing"][key] = str(float(model["pricing"][key]) * factor)
        snapshot.rewrite("/api/v1/models", models)
        codes.append(await crawl(snapshot.folder, db))
        assert_kept_or_close(codes[-1], db, clean[1])
    assert 3 in codes


@pytest_twisted.ensureDeferred
async def test_tokens_x1000_on_a_row_priced_only_by_its_effective_price_are_rejected(tmp_path, linkable, clean):
    permaslug, variant = query(clean[0], "SELECT permaslug, variant FROM weekly_revenue WHERE best_basis = 'effective' "
                                         "AND prompt_price IS NULL ORDER BY total_tokens DESC LIMIT 1")[0]

    def poison(snapshot: Poisoned) -> None:
        def scale(data: Any, url: str) -> None:
            for row in data["data"]:
                if row["model_permaslug"] == permaslug and row["variant"] == variant:
                    row["total_prompt_tokens"] *= 1000
                    row["total_completion_tokens"] *= 1000
        snapshot.rewrite("rankings/models?view=week", scale)

    code, db = await poisoned_crawl(tmp_path, linkable, clean, poison)
    assert code == 3 and headline(db) == clean[1]


@pytest_twisted.ensureDeferred
async def test_six_of_seven_days_missing_in_four_expensive_splits_are_not_measured_weeks(tmp_path, linkable, clean):
    """Each split keeps one day of the week (and the days before it): a sum of one day is not the
    week; the rows are imputed (cached share of similar models) and their effective prices still
    price them, so the week publishes within 5 % or is rejected."""
    expensive = query(clean[0], "SELECT permaslug, variant FROM weekly_revenue WHERE week_end = ? "
                                "AND split_source = 'activity' ORDER BY revenue_best_usd DESC LIMIT 4", WEEK_END)
    week = {f"2026-08-0{day} 00:00:00" for day in range(1, 7)}  # 08-01..06 of the week 08-01..07

    def drop_days(data: Any, url: str) -> None:
        data["data"]["analytics"] = [d for d in data["data"]["analytics"] if d["date"] not in week]

    def poison(snapshot: Poisoned) -> None:
        for permaslug, variant in expensive:
            snapshot.rewrite(f"model-activity?permaslug={permaslug.replace('/', '%2F')}&variant={variant}", drop_days)

    code, db = await poisoned_crawl(tmp_path, linkable, clean, poison)
    assert_kept_or_close(code, db, clean[1])
    if code == 0:  # published: none of the four is a measured week
        sources = query(db, "SELECT split_source FROM weekly_revenue WHERE week_end = ? AND permaslug || ':' || "
                            "variant IN (%s)" % ", ".join("?" * 4), WEEK_END, *(f"{p}:{v}" for p, v in expensive))
        assert len(sources) == 4 and all(source != "activity" for (source,) in sources), sources


# --- several attacks in one crawl --------------------------------------------------------------
# Attacks on separate sources (and separate model-variants) share a crawl where each is caught by a
# check that reads only its own source and names what it caught: the checks do not stop at the first
# failure, so each failing check, naming its own poison, is what that attack alone would have met.

def rename_cache_read(data: Any, url: str) -> None:
    for model in data["data"]:
        if "input_cache_read" in model["pricing"]:
            model["pricing"]["cache_read"] = model["pricing"].pop("input_cache_read")


@pytest_twisted.ensureDeferred
async def test_a_chart_week_x100_a_renamed_cache_read_key_and_a_tenfold_model_are_each_rejected(
        tmp_path, linkable, clean):
    """The chart's week finishing in this crawl x100 (chart_week: the chart alone, and week_totals);
    the catalogue's cache-read key renamed (catalogue_keys: the catalogue against the published
    crawl's); one measured model-variant near 8 % of the week's spend with its leaderboard row and
    its week's days x10 against its own previous days (token_jumps: that row alone)."""
    (newest,) = query(clean[0], "SELECT MAX(week_start) FROM chart_weeks")[0]
    permaslug, variant = query(clean[0], "SELECT permaslug, variant FROM weekly_revenue WHERE split_source = "
                                         "'activity' AND previous_tokens IS NOT NULL ORDER BY ABS(revenue_best_usd / "
                                         "(SELECT SUM(revenue_best_usd) FROM weekly_revenue) - 0.08) LIMIT 1")[0]
    start, end = "2026-08-01", "2026-08-07"
    counts = ("total_prompt_tokens", "total_completion_tokens", "total_native_tokens_cached",
              "total_native_tokens_reasoning")

    def chart(data: Any, url: str) -> None:
        for week in data["data"]["data"]:
            if week["x"] == newest:
                week["ys"] = {k: v * 100 for k, v in week["ys"].items()}

    def board(data: Any, url: str) -> None:
        for row in data["data"]:
            if row["model_permaslug"] == permaslug and row["variant"] == variant:
                for key in counts:
                    row[key] *= 10

    def days(data: Any, url: str) -> None:
        for row in data["data"]["analytics"]:
            if start <= row["date"][:10] <= end:
                for key in counts:
                    row[key] *= 10

    def poison(snapshot: Poisoned) -> None:
        snapshot.rewrite("model-rankings-chart", chart)
        snapshot.rewrite("/api/v1/models", rename_cache_read)
        snapshot.rewrite("rankings/models?view=week", board)
        snapshot.rewrite(f"model-activity?permaslug={permaslug.replace('/', '%2F')}&variant={variant}", days)

    code, db = await poisoned_crawl(tmp_path, linkable, clean, poison)
    assert code == 3 and headline(db) == clean[1]
    checks = checks_of_last_crawl(db)
    assert checks["chart_week"]["result"] == "fail" and \
        f"the chart's week of {newest}" in checks["chart_week"]["message"]
    assert checks["week_totals"]["result"] == "fail"  # the leaderboard far below the chart's named tokens
    assert checks["catalogue_keys"]["result"] == "fail" and "lost the cache-read price" in \
        checks["catalogue_keys"]["message"]
    assert checks["token_jumps"]["result"] == "fail" and permaslug in checks["token_jumps"]["message"]


@pytest_twisted.ensureDeferred
async def test_a_leaderboard_missing_its_40_largest_rows_and_renamed_effective_keys_are_each_rejected(
        tmp_path, linkable, clean):
    """The leaderboard without its 40 largest rows (week_totals: its tokens against the chart's
    week); every effective-pricing answer with its input price under another key, which would switch
    the headline to list prices (basis_switch: the effective prices alone)."""
    def drop(data: Any, url: str) -> None:
        rows = sorted(data["data"], key=lambda r: -(r["total_prompt_tokens"] + r["total_completion_tokens"]))
        data["data"] = rows[40:]

    def rename(data: Any, url: str) -> None:
        data["data"]["inputPrice"] = data["data"].pop("weightedInputPrice")

    def poison(snapshot: Poisoned) -> None:
        snapshot.rewrite("rankings/models?view=week", drop)
        snapshot.rewrite(EFFECTIVE, rename)

    code, db = await poisoned_crawl(tmp_path, linkable, clean, poison)
    assert code == 3 and headline(db) == clean[1]
    checks = checks_of_last_crawl(db)
    assert checks["week_totals"]["result"] == "fail" and "the chart's week of" in checks["week_totals"]["message"]
    assert checks["basis_switch"]["result"] == "fail"


@pytest_twisted.ensureDeferred
async def test_the_successive_real_weeks_publish_with_glm_5_2s_price_cut(tmp_path):
    db = tmp_path / "history.db"
    for capture in ("openrouter-2026-07-25", "openrouter-2026-08-01", CAPTURE):
        assert await crawl(shared_capture(capture), db) == 0, capture
    moves = checks_of_last_crawl(db)["price_moves"]
    assert moves["result"] == "flag" and "z-ai/glm-5.2-20260616:standard prompt $0.7168/M -> $0.2058/M" in \
        moves["message"]
    assert 20.0e6 < headline(db) < 20.2e6


@pytest_twisted.ensureDeferred
async def test_the_clean_week_publishes_unchanged_after_the_anchor_history_import(tmp_path, clean):
    anchor = SHARED / "anchor-history"
    if not anchor.is_dir():
        pytest.skip(f"{anchor} not available")
    db = tmp_path / "history.db"
    imported = await scrapy_here("import-history", str(anchor), f"-sORSTATS_DB={db}")
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert await crawl(shared_capture(CAPTURE), db) == 0
    assert headline(db) == pytest.approx(clean[1], rel=1e-9)


# --- the chart week finishing in this crawl against the last crawl's view of it (factory snapshots) ---

async def factory_crawl(tmp_path: Path, db: Path, name: str, captured: Any, mutate: Any = None) -> int:
    from tests.factory import SnapshotSpec, build_snapshot
    return await crawl(build_snapshot(tmp_path / name, SnapshotSpec(captured=captured, name=name), mutate=mutate), db)


@pytest.mark.parametrize("factor, code", [(1, 0), (100, 3), (0.2, 3)], ids=["clean", "x100", "shrunk"])
@pytest_twisted.ensureDeferred
async def test_the_finished_chart_week_against_the_last_crawls_unfinished_view(tmp_path, factor, code):
    from datetime import timedelta

    from tests.factory import SEED_DAY, SEED_MONDAY
    db = tmp_path / "history.db"
    # Thursday of the week before: the chart's week of SEED_MONDAY - 7 seen with 3 full days, at 0.3 of
    # its finished value (the factory's unfinished week): 0.2 is below what was seen, 100 beyond 0.3 x 7 / 3 x 2
    assert await factory_crawl(tmp_path, db, "thursday", SEED_DAY - timedelta(days=4)) == 0
    finishing = (SEED_MONDAY - timedelta(days=7)).isoformat()

    def poison(name: str, body: Any) -> Any:
        if "model-rankings-chart" in name:
            for week in body["data"]["data"]:
                if week["x"] == finishing:
                    week["ys"] = {k: int(v * factor) for k, v in week["ys"].items()}
        return body

    before = headline(db, query(db, "SELECT MAX(week_end) FROM weeks")[0][0])
    assert await factory_crawl(tmp_path, db, "monday", SEED_DAY, mutate=poison) == code
    check = checks_of_last_crawl(db)["chart_partial"]
    assert check["result"] == ("pass" if code == 0 else "fail"), check
    assert f"the chart's week of {finishing} finished at" in check["message"]
    if code == 3:
        assert headline(db, query(db, "SELECT MAX(week_end) FROM weeks WHERE status = 'published'")[0][0]) == before
