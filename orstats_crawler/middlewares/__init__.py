"""The project's downloader middlewares, one module each (their orders are in settings.py):

- ``hosts.HostGuardMiddleware``, ``hosts.RedirectGuardMiddleware``: only the configured host, and no
  redirect to another;
- ``replay.SnapshotReplayMiddleware``: answer every request from a recorded snapshot (no network);
- ``reachability.ReachabilityMiddleware``: few retries for a host that never answered;
- ``retry.BackoffRetryMiddleware``: Scrapy's retries with waits (backoff, `Retry-After`);
- ``data_api.DataApiMiddleware``, ``data_api.DataApiScrubMiddleware``: the Data API's key, pacing and
  budget, and the key out of its answers.
"""
