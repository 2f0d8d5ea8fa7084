"""Kibana's saved objects import API: `POST /api/saved_objects/_import?overwrite=true`.

The NDJSON goes as the `file` field of a multipart/form-data body, with the
`kbn-xsrf` header Kibana requires of every API write, and either
`Authorization: ApiKey …` or HTTP basic auth.  Kibana answers 200 with
`{"success": bool, "successCount": n, "errors": [{"id", "type", "title",
"error": {"type", …}}]}`; `success: false` means some objects were not
imported (each error says which and why).

Transient trouble is retried with backoff for up to `wait_s` seconds: Kibana
not reachable yet (refused, reset, timed out), 502/503/504 (503 is what
Kibana answers while it starts) and 429.  Anything else (401, 403, 400, 413
…) is an answer that will not change by asking again.  Large sets go in
batches of `batch` objects, the data view and the dashboard first, so each
request stays under Kibana's import limits (10,000 objects and 26 MB by
default) and later batches find the data view they reference.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from wirewatch import __version__
from wirewatch.errors import ConfigError, PermanentError, ServiceUnavailable

from .objects import to_ndjson

IMPORT_PATH = "/api/saved_objects/_import"
TRANSIENT_STATUS = {429, 502, 503, 504}
BATCH = 1000


class KibanaUnavailable(ServiceUnavailable):
    """Kibana cannot be reached, or answers that it is not ready."""


class KibanaRefused(PermanentError):
    """Kibana answered the import with an error that asking again will not change."""


@dataclass(frozen=True)
class ObjectError:
    id: str
    type: str
    title: str | None
    reason: str

    def __str__(self) -> str:
        title = f" ({self.title})" if self.title else ""
        return f"{self.type} {self.id}{title}: {self.reason}"


@dataclass
class ImportResult:
    success_count: int = 0
    errors: list[ObjectError] = field(default_factory=list)
    requests: int = 0

    @property
    def success(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Auth:
    username: str | None = None
    password: str | None = None
    api_key: str | None = None

    def header(self) -> str | None:
        if self.api_key:
            return f"ApiKey {self.api_key}"
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode("ascii")
            return f"Basic {token}"
        return None

    @classmethod
    def from_settings(cls, settings) -> "Auth":
        secret = lambda s: s.get_secret_value() if s is not None else None  # noqa: E731
        return cls(settings.kibana_username, secret(settings.kibana_password), secret(settings.kibana_api_key))


def import_url(kibana_url: str) -> str:
    parts = urlsplit(kibana_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"not a Kibana URL: {kibana_url!r} (expected http(s)://host:port, with /s/<space> for a space)")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{IMPORT_PATH}?overwrite=true"


def multipart(ndjson: str, filename: str = "wirewatch.ndjson") -> tuple[bytes, str]:
    """The body and Content-Type of a form with one file field, `file`."""
    boundary = f"wirewatch-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    return head + ndjson.encode("utf-8") + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _reason_of(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return text[:300] if text else "(empty body)"
    if isinstance(data, dict):
        error, message = data.get("error"), data.get("message")
        parts = [str(p) for p in (error, message) if p]
        if parts:
            return ": ".join(parts)
    return json.dumps(data)[:300]


def object_error(item: dict) -> ObjectError:
    error = item.get("error") if isinstance(item.get("error"), dict) else {}
    kind = error.get("type") or "unknown"
    if kind == "missing_references":
        refs = ", ".join(f"{r.get('type')} {r.get('id')}" for r in error.get("references") or [])
        reason = f"missing references: {refs}" if refs else "missing references"
    elif kind in ("conflict", "ambiguous_conflict"):
        reason = f"{kind} with an existing object" + (f" ({error['destinationId']})" if error.get("destinationId") else "")
    elif kind == "unsupported_type":
        reason = "unsupported type (this Kibana does not know it, or the user may not import it)"
    else:
        message = error.get("message") or error.get("reason")
        status = error.get("statusCode")
        reason = ": ".join(str(p) for p in (kind, message) if p) + (f" (HTTP {status})" if status else "")
    title = item.get("title") or (item.get("meta") or {}).get("title")
    return ObjectError(str(item.get("id")), str(item.get("type")), title, reason)


def _post_once(url: str, body: bytes, content_type: str, auth: Auth, timeout_s: float) -> dict:
    headers = {
        "kbn-xsrf": "true",
        "Content-Type": content_type,
        "Accept": "application/json",
        "User-Agent": f"wirewatch/{__version__}",
    }
    if (authorization := auth.header()) is not None:
        headers["Authorization"] = authorization
    shown = url.split("?", 1)[0]
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        message = f"Kibana at {shown} answered HTTP {exc.code}: {_reason_of(raw)}"
        if exc.code in TRANSIENT_STATUS:
            raise KibanaUnavailable(message) from exc
        if exc.code in (401, 403):
            message += " (check WIREWATCH_KIBANA_API_KEY, or WIREWATCH_KIBANA_USERNAME and WIREWATCH_KIBANA_PASSWORD)"
        raise KibanaRefused(message) from exc
    except (urllib.error.URLError, http.client.HTTPException, socket.timeout, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise KibanaUnavailable(f"cannot reach Kibana at {shown}: {reason}") from exc
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise KibanaRefused(f"{shown} did not answer with JSON (is it Kibana?): {raw[:200]!r}") from exc
    if not isinstance(answer, dict) or "success" not in answer:
        raise KibanaRefused(f"{shown} answered without a saved objects import result: {raw[:200]!r}")
    return answer


def post(url: str, body: bytes, content_type: str, auth: Auth, wait_s: float, timeout_s: float) -> dict:
    """One import request, retried while Kibana is unavailable, for up to `wait_s` seconds."""
    started = time.monotonic()
    retrying = Retrying(
        retry=retry_if_exception_type(KibanaUnavailable),
        stop=stop_after_delay(wait_s),
        wait=wait_exponential_jitter(multiplier=0.5, max=10.0, jitter=0.5),
        reraise=True,
    )
    try:
        return retrying(_post_once, url, body, content_type, auth, timeout_s)
    except KibanaUnavailable as exc:
        if wait_s > 0:
            raise KibanaUnavailable(f"{exc} (gave up after {time.monotonic() - started:.0f} s)") from exc
        raise


def import_objects(objects: Sequence[dict], kibana_url: str, auth: Auth = Auth(), *, wait_s: float = 60.0,
                   timeout_s: float = 60.0, batch: int = BATCH) -> ImportResult:
    """Send the saved objects to Kibana (overwriting objects of the same id) and collect what it says."""
    url = import_url(kibana_url)
    result = ImportResult()
    for start in range(0, len(objects), batch):
        body, content_type = multipart(to_ndjson(objects[start:start + batch]))
        answer = post(url, body, content_type, auth, wait_s, timeout_s)
        result.requests += 1
        result.success_count += int(answer.get("successCount") or 0)
        result.errors.extend(object_error(e) for e in answer.get("errors") or [] if isinstance(e, dict))
        if not answer.get("success") and not answer.get("errors"):
            result.errors.append(ObjectError("-", "-", None, "Kibana answered success: false without saying why"))
    return result
