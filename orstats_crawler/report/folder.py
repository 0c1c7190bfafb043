"""Where the report goes and how it is written, read from the settings once for each of its writers
(the crawl's report extension, `scrapy report`, `scrapy import-history`).

Without ORSTATS_REPORT_DIR the report goes to `reports/` for the project's own history
(`data/history.db`), else to a `reports` folder beside the history file, so that a crawl into
another history never writes over the project's report; `-s ORSTATS_REPORT_DIR=` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orstats_crawler.report.render import Rendered, write_reports

PROJECT_HISTORY = Path("data/history.db")  # settings.ORSTATS_DB's default
PROJECT_REPORTS = Path("reports")


def report_folder(setting: str | None, db_path: str | Path) -> Path:
    """The ORSTATS_REPORT_DIR setting when given, else the folder that belongs to ``db_path``."""
    if setting:
        return Path(setting)
    if Path(db_path).expanduser().resolve() == PROJECT_HISTORY.resolve():
        return PROJECT_REPORTS
    return Path(db_path).expanduser().parent / "reports"


@dataclass(frozen=True)
class ReportSettings:
    folder: Path | None  # None: the report is off
    method: str
    table_rows: int
    outlier_factor: float

    @staticmethod
    def settings_read(method: str | None = None) -> list[str]:
        """The settings ``from_settings`` reads, for ``arguments.check_settings``."""
        return ["ORSTATS_REPORT_TABLE_ROWS", "ORSTATS_REPORT_OUTLIER_FACTOR"] + (
            [] if method else ["ORSTATS_REVENUE_METHOD"])

    @classmethod
    def from_settings(cls, settings: Any, db_path: str | Path, *, folder: str | Path | None = None,
                      method: str | None = None) -> "ReportSettings":
        """The report of the history ``db_path``; ``folder`` and ``method`` (command-line options)
        win over their settings."""
        setting = settings.get("ORSTATS_REPORT_DIR")
        chosen = Path(folder) if folder else None if setting == "" else report_folder(setting, db_path)
        return cls(chosen, method or settings.get("ORSTATS_REVENUE_METHOD"),
                   settings.getint("ORSTATS_REPORT_TABLE_ROWS"), settings.getfloat("ORSTATS_REPORT_OUTLIER_FACTOR"))

    def write(self, db_path: str | Path, *, everything: bool = True) -> Rendered | None:
        """``write_reports`` into this folder (which must be set)."""
        assert self.folder is not None, "the report is off"
        return write_reports(db_path, self.folder, self.method, self.table_rows,
                             outlier_factor=self.outlier_factor, everything=everything)
