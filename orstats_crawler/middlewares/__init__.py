"""The project's downloader middlewares, one module each (their orders are in settings.py):

- ``replay.SnapshotReplayMiddleware``: answer every request from a recorded snapshot (no network);
- ``retry.BackoffRetryMiddleware``: Scrapy's retries with waits (backoff, `Retry-After`);
- ``data_api.DataApiMiddleware``: the Data API's key, pacing and budget.
"""
