"""The effective-price guard's provider rules on small answers: what real weeks hold passes (a
provider listed with 0 tokens), what no real week holds does not."""

from __future__ import annotations

from orstats_crawler.publish.quality_effective import provider_problem

PRICES = {"weighted_input_price": 2.0, "weighted_output_price": 8.0}


def provider(slug: str, tokens: int | None, input_price: float, output_price: float) -> dict:
    return {"provider_slug": slug, "total_tokens": tokens, "effective_input_price": input_price,
            "effective_output_price": output_price}


def test_weighted_prices_inside_the_serving_providers_range_pass():
    assert provider_problem(PRICES, [provider("a", 10, 1.5, 6.0), provider("b", 30, 2.5, 9.0)]) is None


def test_a_provider_that_served_nothing_neither_fails_the_answer_nor_bounds_its_price():
    summaries = [provider("a", 10, 1.5, 6.0), provider("c", 5, 2.2, 8.5), provider("b", 0, 0.1, 0.2)]
    assert provider_problem(PRICES, summaries) is None
    # a weighted input price of 1.0 lies outside a and c (1.5..2.2): b, at 0.1 with 0 tokens, does not
    # widen the range; had b served tokens, it would
    cheaper = {**PRICES, "weighted_input_price": 1.0}
    assert "outside its providers' range" in provider_problem(cheaper, summaries)
    assert provider_problem(cheaper, [*summaries[:2], provider("b", 5, 0.1, 0.2)]) is None


def test_providers_that_served_no_tokens_at_all_are_not_an_answer():
    problem = provider_problem(PRICES, [provider("a", 0, 2.0, 8.0), provider("b", 0, 2.0, 8.0)])
    assert problem == "its 2 providers served 0 tokens in all"


def test_a_weighted_price_outside_its_providers_range_fails_naming_it():
    problem = provider_problem({**PRICES, "weighted_output_price": 80.0}, [provider("a", 10, 1.5, 6.0),
                                                                           provider("b", 30, 2.5, 9.0)])
    assert problem is not None and "weighted_output_price" in problem and "outside its providers' range" in problem


def test_an_answer_without_provider_summaries_is_not_judged_by_them():
    assert provider_problem(PRICES, []) is None
