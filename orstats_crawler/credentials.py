"""The one secret the crawl may use: the official Data API's key, read from the environment.

It is never a Scrapy setting (settings are logged at start-up and stored with the crawl); only
``DataApiMiddleware`` holds it, and ``scrub`` takes it out of any body before the body is archived
or recorded (an answer may echo what it was sent).
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
