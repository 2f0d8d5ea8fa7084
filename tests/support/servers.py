"""Real servers on 127.0.0.1 for the alert tests: SMTP (aiosmtpd), a
stand-in for Slack's webhook and Web API endpoints, and one for Kibana's
saved objects import API (http.server)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts import smtpsink


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_pair(offset: int) -> int:
    """A port p with p and p + offset both free on 127.0.0.1 (a server that also binds a second port)."""
    import random

    from wirewatch.services.endpoints import port_taken

    for _ in range(200):
        port = random.randint(20000, 29000)
        if not port_taken("127.0.0.1", port) and not port_taken("127.0.0.1", port + offset):
            return port
    raise RuntimeError("no free ports on 127.0.0.1")


class SlowSink(smtpsink.MailSink):
    """A mail server that takes `delay` seconds to accept each message."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


class SmtpServer:
    """aiosmtpd on a fixed port that can be stopped and started again."""

    def __init__(self, port: int | None = None, delay: float = 0.0, **options) -> None:
        self.port = port or free_port()
        self.sink = SlowSink(delay) if delay else smtpsink.MailSink()
        self.options = options
        self._controller = None

    def start(self) -> "SmtpServer":
        self._controller = smtpsink.start(self.sink, port=self.port, **self.options)
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self):
        return [m for m, _ in self.sink.received()]


@dataclass
class Request:
    path: str
    headers: dict
    body: dict
    status: int = 200  # what the stand-in answered


@dataclass
class FakeSlack:
    """Records every POST; answers from a per-path queue of canned replies, else success."""

    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    replies: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reply(self, path: str, *replies: tuple[int, str | dict, dict]) -> None:
        with self.lock:
            self.replies[path].extend(replies)

    def posted(self, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]


def start_fake_slack() -> FakeSlack:
    fake: FakeSlack

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ctype = self.headers.get("Content-Type", "")
            if "json" in ctype:
                body = json.loads(raw or b"{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            with fake.lock:
                queue = fake.replies[self.path]
                canned = queue.popleft() if queue else None
                if canned is None:
                    api = "/api/" in self.path
                    canned = (200, {"ok": True, "channel": body.get("channel"), "ts": str(time.time())} if api else "ok", {})
                fake.requests.append(Request(self.path, dict(self.headers), body, canned[0]))
            status, payload, headers = canned
            data = json.dumps(payload).encode() if isinstance(payload, dict) else payload.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(payload, dict) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake = FakeSlack(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack():
    fake = start_fake_slack()
    yield fake
    fake.server.shutdown()


@dataclass
class KibanaRequest:
    method: str
    path: str
    query: dict
    headers: dict  # lower-case names
    body: bytes

    def form(self) -> dict[str, tuple[str | None, bytes]]:
        """The multipart/form-data fields: name -> (filename, content), parsed by the standard library."""
        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        assert message.is_multipart(), self.headers.get("content-type")
        fields = {}
        for part in message.iter_parts():
            fields[part.get_param("name", header="content-disposition")] = (part.get_filename(), part.get_content())
        return fields

    def ndjson(self) -> str:
        filename, content = self.form()["file"]
        assert filename and filename.endswith(".ndjson"), filename
        return content.decode() if isinstance(content, bytes) else content


@dataclass
class FakeKibana:
    """Records every request; answers from a queue of canned (status, JSON body) replies, else imports all."""

    server: ThreadingHTTPServer
    requests: list[KibanaRequest] = field(default_factory=list)
    replies: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reply(self, *replies: tuple[int, dict | str]) -> None:
        with self.lock:
            self.replies.extend(replies)

    def received(self) -> list[KibanaRequest]:
        with self.lock:
            return list(self.requests)


def start_fake_kibana() -> FakeKibana:
    fake: FakeKibana

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = KibanaRequest("POST", parts.path, parse_qs(parts.query), headers, raw)
            with fake.lock:
                canned = fake.replies.popleft() if fake.replies else None
                fake.requests.append(request)
            if canned is None:
                objs = [json.loads(line) for line in request.ndjson().splitlines() if line.strip()]
                canned = (200, {"success": True, "successCount": len(objs),
                                "successResults": [{"type": o["type"], "id": o["id"]} for o in objs]})
            status, payload = canned
            data = json.dumps(payload).encode() if isinstance(payload, dict) else payload.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(payload, dict) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake = FakeKibana(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake


@pytest.fixture
def kibana():
    fake = start_fake_kibana()
    yield fake
    fake.server.shutdown()
