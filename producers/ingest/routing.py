"""Which files of a drop folder to read, when, and with which reader.  Pure: names, bytes and times in.

Agencies upload by FTP/SFTP.  A careful one writes `NAME.tmp` (or
`.part`, `.partial`, `.filepart`, a dotfile) and renames it when complete:
those names are never read.  A careless one writes the final name slowly:
a file is read only once its size and modification time have stayed the
same for the quiet period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["newsml", "feed", "ninjs", "jsonl", "text", "reuters"]

TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".filepart", ".crdownload", ".download", ".swp", "~")
# What ingest writes beside a failed file: never a story.
ERROR_SUFFIX = ".error.txt"
_BY_SUFFIX: dict[str, Kind] = {
    ".sgm": "reuters",
    ".sgml": "reuters",
    ".txt": "text",
    ".json": "ninjs",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".rss": "feed",
    ".atom": "feed",
}
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_SKIP = re.compile(rb"<!--.*?-->|<![^>]*>|<\?.*?\?>", re.S)


def ignored(name: str) -> str | None:
    """Why a file name is not (yet) a delivery, or None when it is one."""
    low = name.lower()
    if name.startswith("."):
        return "hidden file (an upload in progress)"
    if name.startswith("~$") or low.endswith(TEMP_SUFFIXES):
        return "temporary name (renamed when complete)"
    if low.endswith(ERROR_SUFFIX):
        return "an error report"
    return None


def kind_of(name: str, head: bytes) -> Kind | None:
    """The reader for a file, from its name's suffix, else from its first bytes; None when neither says."""
    low = name.lower()
    suffix = low[low.rfind(".") :] if "." in low else ""
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix == ".xml" or text.startswith(b"<"):
        if b"<REUTERS" in head[:2048]:
            return "reuters"
        first = _FIRST_ELEMENT.search(_SKIP.sub(b"", text[:4096]))
        if first is None:
            return None
        root = first.group(2)
        if root in (b"rss", b"feed", b"RDF"):
            return "feed"
        if root in (b"newsItem", b"newsMessage"):
            return "newsml"
        return "newsml" if suffix == ".xml" else None
    if text.startswith((b"{", b"[")):
        return "ninjs"
    return None


@dataclass
class Quiet:
    """Tells when a file has stopped changing: same (size, mtime) for `seconds`."""

    seconds: float
    _since: dict[str, tuple[tuple[int, int], float]] = field(default_factory=dict)

    def ready(self, name: str, size: int, mtime_ns: int, now: float) -> bool:
        stat = (size, mtime_ns)
        seen = self._since.get(name)
        if seen is None or seen[0] != stat:
            self._since[name] = (stat, now)
            return False
        return now - seen[1] >= self.seconds

    def forget(self, name: str) -> None:
        self._since.pop(name, None)

    def keep_only(self, names: set[str]) -> None:
        for gone in set(self._since) - names:
            del self._since[gone]
