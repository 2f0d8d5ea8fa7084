"""Real servers and processes for the `wirewatch ingest` tests: a feed server whose documents change
between polls, an ingest process run as a user would, and the stories it sent read back from Kafka."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from support.kafka import topic_records
from support.processes import Command
from wirewatch.model import Story
from wirewatch.settings import Settings


@dataclass
class Served:
    body: bytes
    content_type: str = "application/rss+xml"
    etag: str | None = None
    modified: str | None = None  # Last-Modified
    fail: list = field(default_factory=list)  # statuses to answer first, one per request (e.g. [500, 500])
    delay: list = field(default_factory=list)  # seconds to wait before answering, one per request


class FeedServer:
    """An HTTP server on 127.0.0.1 serving feeds by path, with ETags, failures and slow answers on demand."""

    def __init__(self) -> None:
        self.feeds: dict[str, Served] = {}
        self.requests: list[tuple[str, int, dict]] = []  # (path, status answered, headers)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                with server.lock:
                    feed = server.feeds.get(self.path)
                    delay = feed.delay.pop(0) if feed and feed.delay else 0
                    fail = feed.fail.pop(0) if feed and feed.fail else None
                if delay:
                    time.sleep(delay)
                if self.path.startswith("/moved/"):
                    status, body, headers = 301, b"", {"Location": "/" + self.path[len("/moved/"):]}
                elif feed is None:
                    status, body, headers = 404, b"no such feed", {"Content-Type": "text/plain"}
                elif fail:
                    status, body, headers = fail, b"broken", {"Content-Type": "text/plain"}
                elif feed.etag and self.headers.get("If-None-Match") == feed.etag:
                    status, body, headers = 304, b"", {"ETag": feed.etag}
                elif feed.modified and self.headers.get("If-Modified-Since") == feed.modified:
                    status, body, headers = 304, b"", {"Last-Modified": feed.modified}
                else:
                    status, body, headers = 200, feed.body, {"Content-Type": feed.content_type}
                    if feed.etag:
                        headers["ETag"] = feed.etag
                    if feed.modified:
                        headers["Last-Modified"] = feed.modified
                with server.lock:
                    server.requests.append((self.path, status, dict(self.headers)))
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a slow answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, path: str, body: bytes, content_type: str = "application/rss+xml", etag: bool = True,
              modified: str | None = None) -> None:
        """Serve `body` at `path` from now on, with an ETag of its bytes unless `etag` is False, and `modified` as Last-Modified."""
        with self.lock:
            old = self.feeds.get(path)
            self.feeds[path] = Served(
                body, content_type, f'"{hashlib.sha1(body).hexdigest()[:16]}"' if etag else None, modified,
                old.fail if old else [], old.delay if old else [],
            )

    def fail_next(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.feeds[path].fail.extend(statuses)

    def slow_next(self, path: str, seconds: float) -> None:
        with self.lock:
            self.feeds[path].delay.append(seconds)

    def answered(self, path: str) -> list[int]:
        with self.lock:
            return [status for p, status, _ in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Ingest(Command):
    """A `wirewatch ingest SOURCES` process whose output goes to a log file."""

    def __init__(self, settings: Settings, sources: Path, log: Path, **env: str) -> None:
        super().__init__(settings, log, "ingest", str(sources), "--log-level", "info", **env)
        self.settings = settings

    def status(self) -> dict | None:
        path = self.settings.home / "ingest" / "status.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def counters(self, source: str) -> dict:
        doc = self.status()
        return doc["sources"][source] if doc and doc.get("pid") == self.proc.pid else {}


def sent_stories(settings: Settings, topic: str) -> list[Story]:
    """Every story on the topic, in offset order per partition; keys checked against ids."""
    out = []
    for record in topic_records(settings, topic):
        story = Story.from_json(record.value)
        assert record.key == story.id.encode(), (record.key, story.id)
        out.append(story)
    return out


def versions(stories: list[Story]) -> Counter:
    """(id, version) -> how many times it was sent."""
    return Counter((s.id, s.version) for s in stories)
