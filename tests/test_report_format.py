"""Number and name formatting of the report: the seed README's forms, n/a for unknown, names that
cannot break a markdown table, a link or a mermaid label."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta

import pytest

from orstats_crawler.report import format as fmt
from orstats_crawler.report.charts import XYChart, nice_max
from orstats_crawler.report.data import METHODS, MondayWeek


@pytest.mark.parametrize("value, text", [
    (6247827.58, "$6.25M"), (2397302.04, "$2.40M"), (613222.07, "$613.2K"), (45340.16, "$45.3K"),
    (0.0, "$0.00"), (512.4, "$512.40"), (2.5e9, "$2.50B"), (None, "n/a"), (math.nan, "n/a"),
])
def test_usd_in_the_seed_forms(value, text):
    assert fmt.usd(value) == text


@pytest.mark.parametrize("value, text", [
    (5566390822452, "5.57T"), (706000000000, "706.0B"), (1160000000000, "1.16T"), (448382174257, "448.4B"),
    (0, "0"), (812, "812"), (12_300_000, "12.3M"), (None, "n/a"),
])
def test_tokens_in_the_seed_forms(value, text):
    assert fmt.tokens(value) == text


@pytest.mark.parametrize("per_token, is_free, text", [
    (3e-06, False, "$3.00/M"), (1.5e-05, False, "$15.00/M"), (4.5e-07, False, "$0.4500/M"),
    (3.8e-07, False, "$0.3800/M"), (0.0, True, "Free"), (None, False, "n/a"), (2e-11, False, "$0.00002/M"),
])
def test_prices_per_million(per_token, is_free, text):
    assert fmt.price(per_token, is_free) == text


@pytest.mark.parametrize("value, text", [(2.22, "+222%"), (-0.09, "-9%"), (0.0, "0%"), (None, "n/a")])
def test_week_over_week(value, text):
    assert fmt.change(value) == text


def test_percentages_and_ratios():
    assert fmt.percent(0.98283) == "98.3%"
    assert fmt.ratio(693492831109, 705646757574) == "98.3%"
    assert fmt.ratio(5, 0) == fmt.ratio(None, 5) == fmt.ratio(5, None) == "n/a"


@pytest.mark.parametrize("value", [3e2, 1e20, 1e-7, 0.1 + 0.2, 2397302.0425791, 12321611897320])
def test_plain_numbers_never_use_exponents(value):
    text = fmt.plain(value, 2, significant=True)
    assert re.fullmatch(r"-?\d+(\.\d+)?", text), text
    assert float(text) == pytest.approx(value, rel=0.01)


@pytest.mark.parametrize("value", [math.nan, math.inf, None])
def test_plain_refuses_what_mermaid_cannot_read(value):
    with pytest.raises(ValueError):
        fmt.plain(value)


HOSTILE = 'Evil | Model "quoted" ]bracket[ `code` <script>alert(1)</script> #quot; &amp; $x$ *em*\nline2'


def unescaped_pipes(text: str) -> int:
    return len(re.findall(r"(?<!\\)\|", text))


def test_markdown_escaping_keeps_the_table_and_injects_nothing():
    cell = fmt.md(HOSTILE)
    assert "\n" not in cell
    assert unescaped_pipes(cell) == 0
    assert "<script>" not in cell and "<" not in cell.replace("\\<", "")
    assert "`" not in cell.replace("\\`", "")
    assert "]" not in cell.replace("\\]", "")
    assert "$" not in cell.replace("\\$", "")
    # What a reader sees is the name itself, on one line.
    assert re.sub(r"\\(.)", r"\1", cell) == " ".join(HOSTILE.split())


def test_mermaid_labels_are_plain_text():
    label = fmt.mermaid_label(HOSTILE)
    assert not set(label) & set('"`<>[]#&;$\n')
    assert "Evil" in label and "Model" in label
    assert fmt.mermaid_label(HOSTILE, 16) == fmt.mermaid_label(HOSTILE)[:14].rstrip() + ".."
    assert fmt.mermaid_label("<>&#") == "?"  # nothing left: a placeholder, never an empty label


def test_equal_labels_are_made_distinct_within_the_limit():
    labels = fmt.unique(["Claude Sonnet ..", "Claude Sonnet ..", "Claude Sonnet .."], 16)
    assert len(set(labels)) == 3
    assert all(len(label) <= 16 for label in labels)


def test_model_links_cannot_break_out():
    url = fmt.model_url('evil/x) [y](javascript:alert(1) "t"', "fallback")
    assert url.startswith("https://openrouter.ai/evil/x")
    assert not set(url) & set(' ()[]"<>')
    assert fmt.model_url(None, "arcee-ai/trinity-large-preview") == "https://openrouter.ai/arcee-ai/trinity-large-preview"


def test_axis_tops_are_round():
    assert [nice_max(v) for v in (6247827.58, 2397302.04, 1.0, 0.0, 250)] == [1e7, 2.5e6, 1.0, 1.0, 250]


def test_a_series_must_match_its_axis():
    with pytest.raises(ValueError, match="2 values for 3 x-axis labels"):
        XYChart("t", ["a", "b", "c"], "y", "10", ["1", "2"])


def test_a_long_axis_turns_its_labels_on_end_on_a_wider_chart():
    weeks = [(date(2025, 2, 23) + timedelta(weeks=n)).isoformat() for n in range(51)]  # a year of week ends
    long = XYChart("t", weeks, "y", "10", ["1"] * 51)
    assert long.directive == '%%{init: {"xyChart": {"width": 1028, "xAxis": {"labelRotation": 90}}}}%%'
    assert XYChart("t", weeks[:3], "y", "10", ["1"] * 3).directive is None  # fits side by side


def monday_week(prices: list[dict], **totals) -> MondayWeek:
    row = {"basis": "modeled", "measured_models": 0, "modeled_models": 9, "volume_models": 0,
           "revenue_list_usd": 1.0, **totals}
    return MondayWeek(row, METHODS["list"], prices)


def test_a_monday_week_says_how_it_was_priced_and_counted():
    later = {"kind": "later", "models": 5, "first_day": "2026-02-09", "last_day": "2026-02-09"}
    earlier = {"kind": "earlier", "models": 2, "first_day": "2025-12-01", "last_day": "2026-01-05"}
    week = {"kind": "week", "models": 1, "first_day": "2026-01-13", "last_day": "2026-01-13"}
    none = {"kind": "none", "models": 1, "first_day": None, "last_day": None}
    assert monday_week([later]).price_text == "nearest later (2026-02-09)"
    assert monday_week([none, later, earlier, week]).price_text == (
        "seen that week for 1, nearest earlier (2025-12-01 to 2026-01-05) for 2, nearest later (2026-02-09) for 5, "
        "none known for 1")
    assert monday_week([]).price_text == "free model-variants only"
    assert monday_week([later]).basis_text == "modeled"
    assert monday_week([later], measured_models=3, volume_models=2).basis_text == (
        "modeled (3 measured, 9 modeled, 2 volume only)")
    assert monday_week([later], basis="volume", modeled_models=0, volume_models=9,
                       revenue_list_usd=None).basis_text == "volume only (revenue unknown)"
    assert monday_week([later], basis="volume", modeled_models=0, volume_models=1,
                       revenue_list_usd=0.0).basis_text == "volume only"  # a free variant's known $0
