"""Packaging shim for scrapyd-deploy, which builds the egg with `python setup.py bdist_egg`.

Everything (name, version, packages, package data, the `scrapy` settings entry point) is declared
in pyproject.toml; without this file scrapyd-deploy would write its own setup.py, which packs
every folder (tests included) and no templates.
"""

from setuptools import setup

setup()
