"""The React-flight decoder: chunks in order, unescaped, concatenated, split into rows, data found by shape."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from orstats_crawler.sources import SourceError
from orstats_crawler.sources.flight import FlightData, chunks, is_flight_page
from tests.conftest import ROOT, shared_capture
from tests.factory import SnapshotSpec
from tests.legacy_factory import LEGACY_SAMPLE_FOLDER, encode_flight, flight_payload, rankings_page, rankings_page_rows

REAL_PAGE = "openrouter-2025-11-07-rankings-page"
SAMPLE_PAGE = ROOT / LEGACY_SAMPLE_FOLDER / "rankings.html"


def real_html() -> str:
    return (shared_capture(REAL_PAGE) / "rankings.html").read_text(encoding="utf-8")


def payload_of(html: str) -> str:
    return "".join(chunks(html, "test", "page"))


def test_real_page_yields_its_weekly_chart_leaderboard_and_author_chart():
    flight = FlightData.from_html(real_html(), "leaderboard", "https://openrouter.ai/rankings")
    chart = flight.weekly_model_chart()
    assert chart is not None and chart.has_forecast and chart.monday_weekly
    days = [date.fromisoformat(p["x"]) for p in chart.points]
    assert len(days) == 52 and days[0] == date(2024, 11, 11) and days[-1] == date(2025, 11, 3)
    assert all("Others" in p["ys"] and len(p["ys"]) == 10 for p in chart.points)  # top 9 + Others
    [board] = flight.leaderboards()
    assert len(board) == 344
    assert all("total_native_tokens_cached" in r and "total_native_tokens_reasoning" in r for r in board)
    assert sum(1 for r in board if r["total_native_tokens_cached"]) > 100  # a real split, not the zeros of 2026
    assert flight.daily_analytics() == []  # the rankings page has no model page block
    authors = flight.author_chart()
    assert authors is not None and len(authors.points) == 53
    assert not any("/" in key for p in authors.points for key in p["ys"])


def test_the_chart_is_chosen_by_shape_among_the_real_pages_series():
    flight = FlightData.from_html(real_html(), "chart", "page")
    summary = sorted((s.kind, len(s.points), s.monday_weekly, s.has_forecast) for s in flight.series())
    # The decoys: daily model series, a 15-week timestamped Monday series, two 13-week series.
    assert ("model", 26, False, False) in summary and ("model", 30, False, False) in summary
    assert ("model", 15, True, False) in summary and summary.count(("model", 13, True, False)) == 2
    assert [s.has_forecast for s in flight.series() if s.kind == "model" and s.monday_weekly].count(True) == 1


@pytest.mark.parametrize("chunk_size", [1, 7, 101, 4093])
def test_a_page_split_mid_string_with_escapes_decodes_the_same(chunk_size):
    original = payload_of(SAMPLE_PAGE.read_text(encoding="utf-8"))
    # A row with markup, so the `<` -> `\u003c` escape is exercised; `:` and `{` escaped too, which
    # only decodes right if chunks are unescaped before rows are split and parsed.
    extra = flight_payload([("ff", ["$", "p", None, {"children": "tokens <b>processed</b>"}])])
    html = encode_flight(original + extra, chunk_size=chunk_size, escape="<:{")
    assert "\\u003c" in html and "\\u003a" in html
    assert len(chunks(html, "test", "page")) == -(-len(original + extra) // chunk_size)
    expected = FlightData(original + extra, "test", "page")
    decoded = FlightData.from_html(html, "test", "page")
    assert [(r.id, r.text) for r in decoded.rows] == [(r.id, r.text) for r in expected.rows]
    assert decoded.leaderboards() == expected.leaderboards()
    assert decoded.weekly_model_chart().points == expected.weekly_model_chart().points
    assert decoded.rows[-1].value[3]["children"] == "tokens <b>processed</b>"


def test_generated_page_rows_text_rows_and_hints_are_kept_apart():
    spec = SnapshotSpec()
    flight = FlightData.from_html(rankings_page(spec, chunk_size=53), "test", "page")
    by_id = {row.id: row for row in flight.rows}
    # `2:I[...]\n:HL[...]`: the hint row has an empty id; neither is parsed as JSON.
    assert by_id["2"].text.startswith("I[") and by_id["2"].value is None
    assert by_id[""].text.startswith("HL[") and by_id[""].value is None
    # A text row may hold "\n1f:" without being two rows that matter: the piece is not JSON.
    assert by_id["1f"].value is None
    [board] = flight.leaderboards()
    assert [r["model_permaslug"] for r in board] == [m.permaslug for m in spec.models]
    chart = flight.weekly_model_chart()
    monday = spec.captured - timedelta(days=spec.captured.weekday())
    assert len(chart.points) == 52 and chart.points[-1]["x"] == monday.isoformat()


def with_chart(rows: list, props: dict) -> list:
    """The page's rows with the weekly chart element's props replaced."""
    return [(i, ["$", "$L58", None, props] if i == "4e" else value) for i, value in rows]


def test_without_forecast_the_52_week_series_still_wins_and_short_series_never_do():
    rows = rankings_page_rows(SnapshotSpec())
    weeks = dict(rows)["4e"][3]["data"]
    chart = FlightData(flight_payload(with_chart(rows, {"data": weeks})), "test", "page").weekly_model_chart()
    assert chart is not None and len(chart.points) == 52 and not chart.has_forecast
    # Cut to 20 weeks, without its forecast: nothing on the page qualifies (the decoys neither).
    short = with_chart(rows, {"data": weeks[-20:]})
    assert FlightData(flight_payload(short), "test", "page").weekly_model_chart() is None


def test_pages_without_flight_data_are_source_errors_naming_the_url():
    with pytest.raises(SourceError) as shell:
        FlightData.from_html(b"<html><body><div id=__next></div></body></html>", "leaderboard", "https://x/rankings")
    assert shell.value.url == "https://x/rankings" and shell.value.field == "self.__next_f"
    assert "without flight data" in shell.value.message
    with pytest.raises(SourceError, match="JSON instead of a page"):
        FlightData.from_html(b'{"data": []}', "leaderboard", "https://x/rankings")
    assert not is_flight_page(b'{"data": []}') and is_flight_page(rankings_page(SnapshotSpec()))


def test_an_unterminated_chunk_is_a_source_error_naming_the_chunk():
    html = encode_flight('0:{"a":1}\n', chunk_size=4) + '<script>self.__next_f.push([1,"1:{\\"b'
    with pytest.raises(SourceError) as error:
        FlightData.from_html(html, "leaderboard", "page")
    assert error.value.field == "flight chunk 3"
