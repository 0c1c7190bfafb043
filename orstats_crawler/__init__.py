"""orstats_crawler: estimate weekly inference spend through OpenRouter from its public data."""

__version__ = "0.1.0"
