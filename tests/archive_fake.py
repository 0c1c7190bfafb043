"""A loopback fake of the Wayback Machine: the CDX API (`/cdx/search/cdx?url=...&output=json&fl=...&from=&to=`)
and copies served byte for byte (`/web/<timestamp>id_/<original>`), from a list of ``FakeCopy``.

The copies are built here in the real shapes (tests/legacy_factory.py pages, tests/factory.py
catalogues), or read from ../shared at test time (the real 2025-11-07 page: never copied). The
scenario ``weeks_scenario`` holds, Monday week by Monday week (since 2026-06-29):

- 06-29: the leaderboard (copy of Monday 07-06: exactly that week) with a model retired since, the
  text catalogue twice with the same bytes (07-01, 07-03; the 07-03 row listed twice by the CDX),
  and an `output_modalities=all` copy that the archive replays as a redirect (302);
- 07-06: an error page archived with status 200 as its leaderboard, and a catalogue;
- 07-13: a leaderboard copy the CDX lists as a recorded redirect (302), and a catalogue;
- 07-20: no copy at all;
- 07-27: the leaderboard of 2026-08-01..07 (copy of 08-08, the week of the 2026-08-08 capture) and a catalogue.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field, replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from tests.factory import BASE_URL, SEED_MODELS, ModelSpec, SnapshotSpec, catalogue
from tests.legacy_factory import encode_flight, flight_payload, model_page, rankings_page

RANKINGS = BASE_URL + "/rankings"
MODELS = BASE_URL + "/api/v1/models"
ALL_MODELS = BASE_URL + "/api/v1/models?output_modalities=all"
HTML, JSON = "text/html; charset=utf-8", "application/json"

# A model the archived catalogues list and the site no longer does: priced at its archived price.
RETIRED = replace(SEED_MODELS[4], permaslug="example-lab/retired-model-20250101", public_id="example-lab/retired-model",
                  name="Example Lab: Retired Model", pricing={"prompt": "0.0000042", "completion": "0.0000168",
                                                             "input_cache_read": "0.00000042"})


@dataclass
class FakeCopy:
    original: str
    timestamp: str
    body: bytes | Callable[[], bytes] = b""
    content_type: str = HTML
    status: int = 200  # what the copy's URL answers
    cdx_status: str = "200"  # what the CDX says the archived answer was
    location: str | None = None  # a redirect's target
    listed: int = 1  # how many times the CDX lists it (the archive does list some rows twice)

    def content(self) -> bytes:
        return self.body() if callable(self.body) else self.body

    @property
    def digest(self) -> str:
        return base64.b32encode(hashlib.sha1(self.content()).digest()).decode()


@dataclass
class FakeArchive:
    copies: list[FakeCopy] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def cdx(self, query: dict[str, list[str]]) -> list[list[str]]:
        fields = query["fl"][0].split(",")
        first, last = query["from"][0], query["to"][0]
        rows = []
        for copy in sorted(self.copies, key=lambda c: c.timestamp):
            if copy.original == query["url"][0] and first <= copy.timestamp[:8] <= last:
                values = {"timestamp": copy.timestamp, "original": copy.original, "statuscode": copy.cdx_status,
                          "mimetype": copy.content_type.split(";")[0], "digest": copy.digest,
                          "urlkey": "ai,openrouter)" + urlsplit(copy.original).path, "length": "1000"}
                rows.extend([[values[name] for name in fields]] * copy.listed)
        return [fields, *rows] if rows else []

    def copy(self, timestamp: str, original: str) -> FakeCopy | None:
        return next((c for c in self.copies if (c.timestamp, c.original) == (timestamp, original)), None)

    def copy_requests(self) -> list[str]:
        return [path for path in self.requests if path.startswith("/web/")]

    def cdx_requests(self) -> list[str]:
        return [path for path in self.requests if path.startswith("/cdx/")]


class FakeArchiveHandler(BaseHTTPRequestHandler):
    server: "FakeArchiveServer"
    protocol_version = "HTTP/1.1"

    def respond(self) -> tuple[int, dict[str, str], bytes]:
        archive = self.server.archive
        parts = urlsplit(self.path)
        if parts.path == "/cdx/search/cdx":
            rows = archive.cdx(parse_qs(parts.query))
            return 200, {"Content-Type": "text/plain"}, json.dumps(rows).encode()
        if parts.path.startswith("/web/") and "id_/" in self.path:
            stamp, _, original = self.path.removeprefix("/web/").partition("id_/")
            found = archive.copy(stamp, original)
            if found is None:
                return 404, {"Content-Type": "text/html"}, b"<title>Wayback Machine</title>not archived"
            headers = {"Content-Type": found.content_type}
            if found.location:
                headers["Location"] = found.location
            return found.status, headers, found.content()
        return 404, {"Content-Type": "text/plain"}, b"not here\n"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        with self.server.lock:
            self.server.archive.requests.append(self.path)
        status, headers, body = self.respond()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class FakeArchiveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, archive: FakeArchive):
        super().__init__(("127.0.0.1", 0), FakeArchiveHandler)
        self.archive = archive
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start_background(self) -> "FakeArchiveServer":
        # shutdown() waits for the loop to look up: every 50 ms rather than socketserver's 0.5 s
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self


def week_spec(captured: date, models: list[ModelSpec] | None = None) -> SnapshotSpec:
    """A week of the factory's figures as seen on ``captured``. Its chart holds only the partial week:
    a finished week of made-up chart values would contradict the real captures' charts."""
    return SnapshotSpec(models=list(models or SEED_MODELS), captured=captured, chart_weeks=1,
                        name=f"archive-{captured}")


def leaderboard_copy(captured: date, timestamp: str, models: list[ModelSpec] | None = None) -> FakeCopy:
    return FakeCopy(RANKINGS, timestamp, rankings_page(week_spec(captured, models)).encode())


def catalogue_copy(captured: date, timestamp: str, models: list[ModelSpec] | None = None,
                   original: str = MODELS) -> FakeCopy:
    body = json.dumps(catalogue(week_spec(captured, models)), separators=(",", ":")).encode()
    return FakeCopy(original, timestamp, body, JSON)


def model_page_copy(model: ModelSpec, captured: date, timestamp: str, form: str = "public id",
                    about: ModelSpec | None = None) -> FakeCopy:
    """A legacy model page at `/<public id>` or `/<permaslug>`; ``about`` another model: the page of that one."""
    path = model.public_id if form == "public id" else model.permaslug
    return FakeCopy(f"{BASE_URL}/{path}", timestamp, model_page(about or model, captured).encode())


def error_page() -> bytes:
    """The site's not-found page, archived with status 200: a Next.js page with flight data, no leaderboard."""
    page = encode_flight(flight_payload([("0", {"P": None, "b": "build", "c": ["", "_not-found"], "i": False}),
                                         ("1", ["$", "h1", None, {"children": "404"}])]))
    return page.replace("<head>", "<head><title>404: This page could not be found.</title>", 1).encode()


def weeks_scenario() -> FakeArchive:
    with_retired = [*SEED_MODELS, RETIRED]
    week_a_catalogue = catalogue_copy(date(2026, 7, 1), "20260701120000", with_retired)
    return FakeArchive([
        # 06-29
        leaderboard_copy(date(2026, 7, 6), "20260706093000", with_retired),
        week_a_catalogue,
        replace(week_a_catalogue, timestamp="20260703120000", listed=2),
        FakeCopy(ALL_MODELS, "20260702080000", b"", JSON, status=302, location="https://openrouter.ai/login"),
        # 07-06
        FakeCopy(RANKINGS, "20260713101500", error_page),
        catalogue_copy(date(2026, 7, 10), "20260710120000"),
        # 07-13
        FakeCopy(RANKINGS, "20260720101500", b"", cdx_status="302", status=302,
                 location="https://openrouter.ai/rankings?view=week"),
        catalogue_copy(date(2026, 7, 17), "20260717120000"),
        # 07-20: nothing
        # 07-27
        leaderboard_copy(date(2026, 8, 8), "20260808070000"),
        catalogue_copy(date(2026, 8, 1), "20260801120000"),
    ])


def real_page_scenario(page: Path) -> FakeArchive:
    """The real 2025-11-07 page (read from ../shared when served) and a catalogue of that week."""
    return FakeArchive([
        FakeCopy(RANKINGS, "20251108060000", page.read_bytes),
        catalogue_copy(date(2025, 11, 1), "20251101120000"),
    ])
