"""Provider summaries as history rows: a crawl's (``provider_rows``), and those of crawls stored
before the history kept them (``backfill_provider_summaries``), decoded again from each crawl's raw
effective-pricing answers (``responses``, ``response_bodies``) by the decoder the live crawl uses.
An answer that does not decode now did not at its crawl either (its problem is stored with that
crawl): it adds no rows.
"""

from __future__ import annotations

import gzip
import logging
from typing import Iterable
from urllib.parse import parse_qs, urlparse

from sqlite_utils import Database

from orstats_crawler.history.records import ProviderSummaryRow
from orstats_crawler.history.writer import insert
from orstats_crawler.items import EffectivePrice
from orstats_crawler.sources import SourceError
from orstats_crawler.sources.effective import PATH as EFFECTIVE_PATH
from orstats_crawler.sources.effective import decode_effective

logger = logging.getLogger(__name__)


_CRAWLS = """
SELECT c.id FROM crawls c WHERE NOT EXISTS (SELECT 1 FROM provider_summaries p WHERE p.crawl_id = c.id)
ORDER BY c.started_at, c.id
"""
_ANSWERS = """
SELECT r.url, b.body_gz FROM responses r JOIN response_bodies b ON b.sha256 = r.sha256
WHERE r.crawl_id = ? AND r.status = 200 AND r.url LIKE '%' || ? || '?%'
ORDER BY r.rowid
"""


def provider_rows(crawl_id: str, prices: Iterable[EffectivePrice]) -> Iterable[ProviderSummaryRow]:
    """Every provider summary of a crawl's effective-pricing answers, with its answer's sample weights."""
    for price in prices:
        weights = sample_weights(price)
        for summary in price.provider_summaries:
            yield ProviderSummaryRow(crawl_id=crawl_id, permaslug=price.permaslug, variant=price.variant, **summary,
                                     **weights)


def sample_weights(price: EffectivePrice) -> dict[str, float | int]:
    """The sums an endpoint's share of its model-variant's spend is taken of (views.py, revenue by
    provider): the answer's tokens, and its tokens x input and x output prices ($/M), a price an
    endpoint lacks being the model-variant's (views.py weighs each endpoint by the same rule)."""
    tokens = [(s["total_tokens"] or 0, s) for s in price.provider_summaries]
    return {
        "sample_tokens": sum(t for t, _ in tokens),
        "sample_input_weight": sum(t * _price(s["effective_input_price"], price.weighted_input_price)
                                   for t, s in tokens),
        "sample_output_weight": sum(t * _price(s["effective_output_price"], price.weighted_output_price)
                                    for t, s in tokens),
    }


def _price(own: float | None, model: float | None) -> float:
    return own if own is not None else model or 0.0


def backfill_provider_summaries(db: Database) -> int:
    """Store the provider summaries of every archived effective-pricing answer of the crawls that
    have none yet (a crawl's answers at a time); returns how many rows were stored."""
    stored = 0
    for (crawl_id,) in db.execute(_CRAWLS).fetchall():
        stored += _backfill_crawl(db, crawl_id)
    return stored


def _backfill_crawl(db: Database, crawl_id: str) -> int:
    stored = 0
    for url, body_gz in db.execute(_ANSWERS, [crawl_id, EFFECTIVE_PATH]).fetchall():
        if urlparse(url).path != EFFECTIVE_PATH:
            continue
        query = parse_qs(urlparse(url).query)
        permaslug, variant = query.get("permaslug", [""])[0], query.get("variant", ["standard"])[0]
        try:
            price = decode_effective(gzip.decompress(body_gz), url, permaslug, variant)
        except SourceError as error:
            logger.info("provider summaries of crawl %s: %s", crawl_id, error)
            continue
        rows = list(provider_rows(crawl_id, [price]))
        insert(db, rows, replace=True)
        stored += len(rows)
    return stored
