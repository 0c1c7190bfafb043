"""The publish path: a crawl's items become a typed week summary, the quality gate judges it, and
the week's records go to the history's one writer (history/writer.py), which folds them into the
series. The history feed storage (``feed.py``), ``scrapy import-history`` (``importer.py``) and the
benchmarks call this path; ``history/`` keeps the storage and its SQL, and imports nothing from here.
"""
