"""What a sources file says: every source `wirewatch ingest` runs, checked with the line of each problem.

Pure: reading and validating, no network, no Kafka.  Durations are seconds
or `90s`, `5m`, `1h`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from wirewatch.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$", re.I)
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def seconds(value: Any) -> Any:
    """`30`, `30s`, `5m`, `1h`, `250ms` -> seconds; anything else is left for pydantic to refuse."""
    if isinstance(value, str):
        found = _DURATION.match(value)
        if not found:
            raise ValueError(f"{value!r} is not a duration: write seconds (30) or 30s, 5m, 1h")
        return float(found.group(1)) * _UNITS[(found.group(2) or "").lower() or None]
    return value


Seconds = Annotated[float, BeforeValidator(seconds), Field(gt=0)]


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    # The `source` of the stories sent (who published them); default: what the document says.
    publisher: str | None = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a source name is letters, digits, '.', '_' and '-' (it names files and log lines)")
        return value


class FeedSource(_Source):
    kind: Literal["feed"]
    url: str = Field(pattern=r"^https?://", description="The feed's http:// or https:// URL.")
    interval: Seconds = 300.0
    timeout: Seconds = 30.0
    # Longest wait between polls of a failing feed (the wait doubles from `interval`, with jitter).
    max_backoff: Seconds = 3600.0
    headers: dict[str, str] = Field(default_factory=dict)
    # A feed larger than this is refused (a wrong URL serving a video, say), not read into memory.
    max_bytes: int = Field(20 * 1024 * 1024, ge=1024)


class FolderSource(_Source):
    kind: Literal["folder"]
    path: Path
    # A file is read once its size and time have not changed for this long (an upload still being written is left alone).
    quiet: Seconds = 5.0
    scan: Seconds = 2.0
    done: Path = Path("done")
    failed: Path = Path("failed")


class PushSource(_Source):
    kind: Literal["push"]
    host: str = "127.0.0.1"
    port: int = Field(8086, ge=0, le=65535)
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # Longest wait for Kafka's acknowledgement before answering 503 (the sends go on; a retry is not sent twice).
    ack_timeout: Seconds = 30.0
    # Without WIREWATCH_INGEST_TOKEN a push source refuses to start unless this says anyone may post.
    allow_anonymous: bool = False


Source = Annotated[Union[FeedSource, FolderSource, PushSource], Field(discriminator="kind")]


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str | None = Field(None, description="Topic to send to; default the stories topic.")
    status_every: Seconds = 60.0
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "SourcesFile":
        names = [s.name for s in self.sources]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two sources are named {', '.join(map(repr, twice))}; each needs a name of its own")
        ports = [(s.host, s.port) for s in self.sources if isinstance(s, PushSource) and s.port]
        if len(ports) != len(set(ports)):
            raise ValueError("two push sources listen on the same host and port")
        return self

    def by_kind(self, kind: str) -> list:
        return [s for s in self.sources if s.kind == kind]


def parse(text: str, where: str = "<sources>", base: Path | None = None) -> SourcesFile:
    """The sources in `text`; a ConfigError lists every problem with its line.

    Relative folder paths are taken from `base` (the sources file's folder),
    so the file means the same wherever ingest is started from.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}{line}: YAML syntax error: {problem}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: a sources file is a mapping with a `sources:` list (see `wirewatch ingest --help`)")
    try:
        parsed = SourcesFile.model_validate(doc)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p in ("feed", "folder", "push"))]
            msg = err["msg"]
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc.append("kind")
                msg = "must be feed, folder or push"
            line = _line_of(node, loc)
            label = _label(doc, loc)
            problems.append(f"{where}:{line}: {label}{msg}" if line else f"{where}: {label}{msg}")
        raise ConfigError("bad sources file:\n  " + "\n  ".join(problems)) from exc
    if base is not None:
        fixed = []
        for s in parsed.sources:
            if isinstance(s, FolderSource) and not s.path.is_absolute():
                s = s.model_copy(update={"path": Path(os.path.normpath(base / s.path))})
            fixed.append(s)
        parsed = parsed.model_copy(update={"sources": fixed})
    return parsed


def load(path: Path) -> SourcesFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read sources file {path}: {exc.strerror or exc}") from exc
    return parse(text, str(path), path.resolve().parent)


def _line_of(node: Any, loc: list) -> int | None:
    """The 1-based line of the deepest part of `loc` found in the YAML node tree."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if key.value == part:
                    node = value
                    line = (key.start_mark.line + 1)
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _label(doc: Any, loc: list) -> str:
    """`source 'guardian' interval: ` for a problem inside a named source."""
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        items = doc.get("sources") or []
        item = items[loc[1]] if loc[1] < len(items) else None
        name = item.get("name") if isinstance(item, dict) else None
        who = f"source {name!r}" if name else f"source #{loc[1] + 1}"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{who} {rest}: " if rest else f"{who}: "
    rest = ".".join(str(p) for p in loc)
    return f"{rest}: " if rest else ""
