"""The dated price history (history/price_history.py) against a reading of the raw ``prices`` rows:
observations years apart, a rejected crawl's catalogue, an alias beside a real id on one day, and
weeks looked up in an order that jumps between the spans of days it reads."""

from __future__ import annotations

import random
from datetime import date, timedelta

from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.history.price_history import AFTER, BEFORE, UNKNOWN, PriceHistory, WeekPrice

MODEL = ("lab/model-20240101", "standard")
SILENT = ("lab/never-priced", "standard")  # observed only without a usable price


def stored_history(tmp_path):
    """Crawls over six years, each observing MODEL on its day (one of them rejected), and an alias
    observed beside the real id on some days."""
    db = open_for_writing(tmp_path / "history.db")
    chance = random.Random(7)
    day, crawls, prices = date(2020, 1, 6), [], []
    for n in range(60):
        day += timedelta(days=chance.choice([1, 9, 30, 200]))
        crawl_id = f"c{n:02d}"
        crawls.append({"id": crawl_id, "started_at": f"{day}T10:00:00Z",
                       "status": "rejected" if n == 17 else "published"})
        prices.append(_price(crawl_id, day, MODEL[0], MODEL, chance.uniform(1, 9)))
        if n % 5 == 0:  # an alias of the same model-variant, the same day
            prices.append(_price(crawl_id, day, "~lab/model-latest", MODEL, chance.uniform(1, 9)))
        if n % 7 == 0:  # a second crawl of the same day
            prices.append(_price(f"{crawl_id}b", day, MODEL[0], MODEL, chance.uniform(1, 9)))
            crawls.append({"id": f"{crawl_id}b", "started_at": f"{day}T12:00:00Z", "status": "published"})
        prices.append({**_price(crawl_id, day, SILENT[0], SILENT, 1.0), "prompt_price": None})
    db["crawls"].insert_all(crawls)
    db["prices"].insert_all(prices)
    return db, crawls, prices, day


def _price(crawl_id: str, day: date, public_id: str, model: tuple[str, str], prompt: float) -> dict:
    return {"crawl_id": crawl_id, "observed_on": day.isoformat(), "public_id": public_id,
            "canonical_slug": model[0], "variant": model[1], "prompt_price": prompt,
            "completion_price": prompt * 4, "cache_read_price": prompt / 10, "is_free": 0}


def expected(crawls: list[dict], prices: list[dict], model: tuple[str, str], week_end: str) -> WeekPrice:
    """The module's rule read from the raw rows: the latest usable observation on or before the
    week's last day, else the earliest after; on one day a real id over an alias, then the latest crawl."""
    status = {c["id"]: c for c in crawls}
    usable = [p for p in prices if (p["canonical_slug"], p["variant"]) == model
              and p["prompt_price"] is not None and p["completion_price"] is not None
              and status[p["crawl_id"]]["status"] != "rejected"]
    on_or_before = [p["observed_on"] for p in usable if p["observed_on"] <= week_end]
    after = [p["observed_on"] for p in usable if p["observed_on"] > week_end]
    if on_or_before:
        day, basis = max(on_or_before), BEFORE
    elif after:
        day, basis = min(after), AFTER
    else:
        return UNKNOWN
    best = min((p for p in usable if p["observed_on"] == day),
               key=lambda p: (p["public_id"].startswith("~"), _descending(status[p["crawl_id"]]["started_at"]),
                              _descending(p["crawl_id"])))
    return WeekPrice(best["prompt_price"], best["completion_price"], best["cache_read_price"], best["is_free"],
                     basis, day)


def _descending(text: str) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in text) + (1,)


def test_each_week_is_priced_by_its_nearest_usable_observation_wherever_the_lookups_jump(tmp_path):
    db, crawls, prices, last_day = stored_history(tmp_path)
    weeks = [(date(2019, 6, 2) + timedelta(weeks=n)).isoformat()
             for n in range((last_day - date(2019, 6, 2)).days // 7 + 60)]
    random.Random(3).shuffle(weeks)  # far apart in turn: many spans of days are read and reused
    history = PriceHistory(db)
    found = [history.at(*MODEL, week) for week in weeks]
    assert found == [expected(crawls, prices, MODEL, week) for week in weeks]
    assert {price.price_basis for price in found} == {BEFORE, AFTER}
    assert len({price.price_observed_on for price in found}) > 40
    assert history.at(*SILENT, weeks[0]) == UNKNOWN
    assert len(weeks) > 400
