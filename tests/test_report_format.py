"""Number and name formatting of the report: the seed README's forms, n/a for unknown, names that
cannot break a markdown table, a link or a mermaid label."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta

import pytest

from orstats_crawler.report import format as fmt
from orstats_crawler.report.charts import (BLANK, NAME_PIXELS, MoneyAxis, Pie, Slice, XYChart, fitted, label_pixels,
                                           model_labels, nice_max, week_labels)
from orstats_crawler.report.data import ModelRow


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
def test_price_per_million(per_token, is_free, text):
    assert fmt.price(per_token, is_free) == text


@pytest.mark.parametrize("prompt, completion, is_free, text", [
    (3e-06, 1.5e-05, False, "$3.00 / $15.00"), (4.5e-07, 3.8e-07, False, "$0.4500 / $0.3800"),
    (0.0, 0.0, True, "Free"), (None, 1.5e-05, False, "n/a"), (3e-06, None, False, "n/a"),
    (2e-11, 0.0, False, "$0.00002 / $0.00"),
])
def test_prices_per_million(prompt, completion, is_free, text):
    assert fmt.prices(prompt, completion, is_free) == text


@pytest.mark.parametrize("value, text", [(2.22, "+222%"), (-0.09, "-9%"), (0.0, "0%"), (-0.001, "0%"),
                                         (None, "n/a")])
def test_week_over_week(value, text):
    assert fmt.change(value) == text


def test_week_over_week_with_a_digit_and_without_a_previous_week():
    assert [fmt.change(v, digits=1) for v in (0.00123, -0.0391, 0.0)] == ["+0.1%", "-3.9%", "0.0%"]
    assert fmt.change(None, "–") == "–"


def test_input_and_output_prices_in_one_cell():
    assert fmt.prices(3e-06, 1.5e-05) == "$3.00 / $15.00"
    assert fmt.prices(4.5e-07, 2.25e-06) == "$0.4500 / $2.25"
    assert fmt.prices(0.0, 0.0, True) == "Free"
    assert fmt.prices(None, 1e-06) == fmt.prices(1e-06, None) == "n/a"


def test_counts_agree_with_their_noun():
    assert [fmt.count(n, "free one") for n in (0, 1, 2)] == ["0 free ones", "1 free one", "2 free ones"]


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
    assert fmt.mermaid_label("<>&#") == "?"  # nothing left: a placeholder, never an empty label


def test_equal_labels_are_made_distinct_within_the_limit():
    labels = fmt.unique(["Claude Sonnet .."] * 3, fits=lambda label: len(label) <= 16)
    assert len(set(labels)) == 3
    assert all(len(label) <= 16 for label in labels)


def test_two_long_names_cut_alike_stay_apart_and_within_the_axis():
    rows = [ModelRow({"name": f"sentence-transformers/paraphrase-multilingual-mpnet-base-v{n}", "permaslug": "x"},
                     None) for n in (1, 2)]
    labels = model_labels(rows)
    assert len(set(labels)) == 2 and labels[1].endswith("~2")
    assert all(label_pixels(label) <= NAME_PIXELS for label in labels)


def test_model_links_cannot_break_out():
    url = fmt.model_url('evil/x) [y](javascript:alert(1) "t"', "fallback")
    assert url.startswith("https://openrouter.ai/evil/x")
    assert not set(url) & set(' ()[]"<>')
    assert fmt.model_url(None, "arcee-ai/trinity-large-preview") == "https://openrouter.ai/arcee-ai/trinity-large-preview"


def test_axis_tops_are_round():
    assert [nice_max(v) for v in (6247827.58, 2397302.04, 3.04, 26.28, 1.0, 0.0, 250, 1.17)] == [
        8e6, 2.5e6, 4, 30, 1.0, 1.0, 250, 1.2]


def test_money_axes_are_in_millions_or_thousands():
    axis = MoneyAxis.fitting(26277745.0)
    assert (axis.unit, axis.value(26277745.0), axis.value(0.0), axis.top(26277745.0)) == ("$M", "26.2777", "0", "30")
    assert MoneyAxis.fitting(613222.07).unit == "$K" and MoneyAxis.fitting(613222.07).value(613222.07) == "613.2221"
    assert MoneyAxis.fitting(512.4).unit == "$"


def test_a_series_must_match_its_axis():
    with pytest.raises(ValueError, match="2 values for 3 x-axis labels"):
        XYChart("t", ["a", "b", "c"], "y", "10", bars=[["1", "2"]])


def test_charts_set_their_colours_in_a_directive_mermaid_11_12_reads():
    chart = XYChart("t", ["a"], "y", "10", bars=[["1"]], colours=["#0550ae", "#80ccff"])
    assert chart.directive == ('%%{init: {"xyChart": {"height": 400}, '
                               '"themeVariables": {"xyChart": {"plotColorPalette": "#0550ae, #80ccff"}}}}%%')
    pie = Pie("t", [Slice("a $1.00M", "1"), Slice("b $2.00M", "2")])
    assert pie.directive == '%%{init: {"themeVariables": {"pie1": "#0969da", "pie2": "#fb8500"}}}%%'


def week_ends(count: int, first: date = date(2025, 2, 23)) -> list[date]:
    return [first + timedelta(weeks=n) for n in range(count)]


def test_a_few_weeks_each_have_their_day():
    assert week_labels(week_ends(3)) == ["Feb 23", "Mar 2", "Mar 9"]


def test_more_weeks_label_every_other_or_third_counted_back_from_the_newest():
    labels = week_labels(week_ends(16))
    assert [label for label in labels if label.strip(BLANK)] == [
        "Mar 2", "Mar 16", "Mar 30", "Apr 13", "Apr 27", "May 11", "May 25", "Jun 8"]
    assert labels[-1] == "Jun 8" and len(set(labels)) == 16  # blanks are distinct: mermaid merges equal labels


def test_a_year_of_weeks_labels_each_month_and_the_year_for_january():
    days = week_ends(51)  # 2025-02-23 .. 2026-02-08
    labels = week_labels(days)
    shown = [(days[i], label) for i, label in enumerate(labels) if label.strip(BLANK)]
    assert [label for _, label in shown] == ["Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
                                             "2026", "Feb"]
    assert all(day.day <= 7 for day, _ in shown)  # the first week ending in its month
    assert len(set(labels)) == 51 and not any(label.strip() != label for label in labels)


def test_a_name_too_wide_for_a_horizontal_axis_is_cut_and_one_that_fits_is_whole():
    assert fitted("Nano Banana 2 (Gemini 3.1 Flash Image)") == "Nano Banana 2 (Gemini 3.1 Flash Image)"
    cut = fitted("sentence-transformers/paraphrase-minilm-l6-v2-20251117")
    assert cut.endswith("..") and "sentence-transformers/paraphrase-minilm-l6-v2-20251117".startswith(cut[:-2])
    assert label_pixels(cut) <= NAME_PIXELS < label_pixels(cut[:-2] + "x..")
