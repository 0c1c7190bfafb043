"""The publish path: a crawl's items (``crawl_items``) become a typed week summary
(``week_summary``, with ``cached_shares``), the quality gate judges it (``quality``), and the week's
records (``crawl_records``) go to the history's one writer (history/writer.py), which folds them into
the series; ``crawl.publish_crawl`` runs these steps in one write transaction.

Its callers: the history feed storage of a crawl (``feed``), that of the archive spider
(``archive_feed``), ``scrapy import-history`` (``importer``, files to records) and the benchmarks.
``history/`` keeps the storage and its SQL, and imports nothing from here (tests/test_imports.py).
"""
