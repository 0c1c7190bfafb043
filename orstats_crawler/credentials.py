"""The one secret the crawl may use: the official Data API's key, read from the environment.

It is never a Scrapy setting (settings are logged at start-up and stored with the crawl); only
``DataApiMiddleware`` holds it. An answer may echo what it was sent: ``scrub`` takes the key out of
a body (the Data API's answers, as they arrive, and every body the raw archive or a recorded snapshot
keeps), ``scrub_text`` out of a message that quotes what a server sent (a header, a Location).
"""

from __future__ import annotations

import os

KEY_ENV = "OPENROUTER_API_KEY"


def data_api_key() -> str:
    """The key from the environment ('' when absent)."""
    return os.environ.get(KEY_ENV, "").strip()


REDACTED = b"[" + KEY_ENV.encode() + b" removed]"


def scrub(body: bytes) -> bytes:
    """The body without the key, wherever it appears in it."""
    key = data_api_key().encode()
    return body.replace(key, REDACTED) if key and key in body else body


def scrub_text(text: str) -> str:
    """``scrub`` for text."""
    key = data_api_key()
    return text.replace(key, REDACTED.decode()) if key and key in text else text
