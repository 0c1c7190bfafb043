"""Where the report goes when ORSTATS_REPORT_DIR is not set: `reports/` for the project's own history
(`data/history.db`), else a `reports` folder beside the history file, so that a crawl into another
history never writes over the project's report."""

from __future__ import annotations

from pathlib import Path

PROJECT_HISTORY = Path("data/history.db")  # settings.ORSTATS_DB's default
PROJECT_REPORTS = Path("reports")


def report_folder(setting: str | None, db_path: str | Path) -> Path:
    """The ORSTATS_REPORT_DIR setting when given, else the folder that belongs to ``db_path``."""
    if setting:
        return Path(setting)
    if Path(db_path).expanduser().resolve() == PROJECT_HISTORY.resolve():
        return PROJECT_REPORTS
    return Path(db_path).expanduser().parent / "reports"
