"""A render of many pages shared out among processes (report/render.py ``_render_in_processes``)
writes the same pages, byte for byte, as one process does."""

from __future__ import annotations

from bench.history import crawl_records_of, synthetic_models
from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.history.writer import write_crawl
from orstats_crawler.report import render

WEEKS = 6


def pages(folder) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.md"))}


def test_pages_rendered_in_processes_are_those_one_process_renders(tmp_path, monkeypatch):
    history = tmp_path / "history.db"
    db = open_for_writing(history)
    models = synthetic_models(12)
    with immediate(db):
        for week in range(WEEKS):
            write_crawl(db, crawl_records_of(models, week, WEEKS, f"crawl-{week}", "published"))
    db.close()

    alone = render.write_reports(history, tmp_path / "alone", "best", 10, outlier_factor=3.0)
    monkeypatch.setattr(render, "PAGES_PER_PROCESS", 2)
    monkeypatch.setattr(render.os, "cpu_count", lambda: 2)
    assert render._processes(WEEKS + 1) == 2
    shared = render.write_reports(history, tmp_path / "shared", "best", 10, outlier_factor=3.0)

    assert len(shared.written) == len(alone.written) == WEEKS + 1  # every week's page and README.md
    assert pages(tmp_path / "shared") == pages(tmp_path / "alone")
    assert shared.latest.week.row == alone.latest.week.row
