"""Watch one drop folder: read complete files, send their stories, then move each to done/ or failed/."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from wirewatch.errors import InputError, ServiceUnavailable

from . import documents, routing
from .config import FolderSource
from .intake import Counters, Intake

log = logging.getLogger("wirewatch.ingest")
HEAD_BYTES = 4096


class Folder:
    def __init__(self, source: FolderSource, intake: Intake, counters: Counters) -> None:
        self.source = source
        self.intake = intake
        self.counters = counters
        self.inbox = source.path
        self.done = source.path / source.done
        self.failed = source.path / source.failed
        self.quiet = routing.Quiet(source.quiet)

    def prepare(self) -> None:
        for folder in (self.inbox, self.done, self.failed):
            folder.mkdir(parents=True, exist_ok=True)

    def ready_files(self, now: float | None = None) -> list[Path]:
        """The files complete by now, oldest first."""
        now = time.monotonic() if now is None else now
        ready: list[tuple[int, str]] = []
        present: set[str] = set()
        with os.scandir(self.inbox) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False) or routing.ignored(entry.name):
                    continue
                present.add(entry.name)
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # renamed or taken away meanwhile
                if self.quiet.ready(entry.name, st.st_size, st.st_mtime_ns, now):
                    ready.append((st.st_mtime_ns, entry.name))
        self.quiet.keep_only(present)
        return [self.inbox / name for _, name in sorted(ready)]

    async def take(self, path: Path) -> None:
        """Read one file and send its stories; moved once all are acknowledged (left in place when Kafka is away)."""
        # The path names the item in errors; a text story's id comes from the file name (file:NAME), as in `produce`.
        name = str(path)
        self.counters.fetched += 1
        errors: list[InputError] = []
        try:
            data = await asyncio.to_thread(path.read_bytes)
            modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except FileNotFoundError:
            self.quiet.forget(path.name)
            return
        except OSError as exc:
            self._fail(path, f"cannot read: {exc.strerror or exc}")
            return
        kind = routing.kind_of(path.name, data[:HEAD_BYTES])
        if kind is None:
            self._fail(path, "unknown kind of file: expected NewsML-G2 .xml, ninjs or story .json, .jsonl, .txt, "
                       "Reuters .sgm or an RSS/Atom feed")
            return
        try:
            stories = await asyncio.to_thread(documents.read, kind, data, name, errors.append, modified)
        except InputError as exc:
            self._fail(path, str(exc))
            return
        if self.source.publisher:
            stories = [s.model_copy(update={"source": self.source.publisher}) for s in stories]
        if not stories and not errors:
            self._fail(path, f"no stories in this {kind} file")
            return
        # ServiceUnavailable goes up: the file stays where it is and is tried again.
        tally = await self.intake.take(self.source.name, stories, self.counters, provider_versions=kind in ("newsml", "ninjs", "jsonl"))
        if errors:
            for err in errors:
                log.warning("%s: item skipped: %s", self.source.name, err)
            self._fail(path, "\n".join(str(e) for e in errors) + f"\n({len(stories)} other stories of the file were sent)")
            return
        self._move(path, self.done)
        self.quiet.forget(path.name)
        self.counters.success()
        log.info("%s: %s (%s): %d new, %d updated, %d unchanged -> %s", self.source.name, path.name, kind,
                 tally.new, tally.updated, tally.unchanged, self.done)

    def _fail(self, path: Path, reason: str) -> None:
        self.counters.failure(f"{path.name}: {reason.splitlines()[0]}")
        log.error("%s: %s moved to %s: %s", self.source.name, path.name, self.failed, reason)
        target = self._move(path, self.failed)
        if target is not None:
            report = target.with_name(target.name + routing.ERROR_SUFFIX)
            part = report.with_name(report.name + ".tmp")
            part.write_text(f"{self.source.name}: {path.name}\n{reason}\n", encoding="utf-8")
            os.replace(part, report)
        self.quiet.forget(path.name)

    def _move(self, path: Path, folder: Path) -> Path | None:
        target = folder / path.name
        n = 1
        while target.exists():
            # A file of the same name delivered again keeps both copies.
            target = folder / f"{path.stem}.{n}{path.suffix}"
            n += 1
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None
        return target


async def run(source: FolderSource, intake: Intake, counters: Counters, stop: asyncio.Event) -> None:
    folder = Folder(source, intake, counters)
    prepared = False
    while not stop.is_set():
        try:
            if not prepared:
                # A folder on a mount that is not there yet is waited for, not a reason to stop.
                folder.prepare()
                prepared = True
                log.info("%s: watching %s (quiet period %g s)", source.name, source.path, source.quiet)
            if not await intake.ready(stop):
                if stop.is_set():
                    break
                raise ServiceUnavailable(intake.sender.unavailable())
            for path in folder.ready_files():
                if stop.is_set():
                    break
                await folder.take(path)
        except ServiceUnavailable as exc:
            counters.failure(str(exc))
            log.error("%s: %s; the file stays and is tried again", source.name, exc)
        except OSError as exc:
            counters.failure(f"{source.path}: {exc.strerror or exc}")
            log.error("%s: cannot use %s: %s", source.name, source.path, exc.strerror or exc)
        except Exception as exc:  # noqa: BLE001 - keep watching whatever one file did
            counters.failure(f"{type(exc).__name__}: {exc}")
            log.exception("%s: unexpected error", source.name)
        counters.next_poll = time.time() + source.scan
        try:
            await asyncio.wait_for(stop.wait(), source.scan)
        except asyncio.TimeoutError:
            pass
