"""File chores of the local services: unpacking, ownership, reading log tails."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a text file ("" when it cannot be read)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def unzip(archive: Path, into: Path) -> None:
    """Extract a zip keeping the Unix modes stored in it.

    zipfile drops permission bits, and a distribution whose bin/ scripts
    lost their execute bit does not start.
    """
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            target = Path(zipped.extract(info, into))
            mode = (info.external_attr >> 16) & 0o7777
            if mode and not target.is_symlink():
                target.chmod(mode)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Give path and everything under it to uid:gid (symlinks themselves, not their targets)."""
    os.lchown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def write_text(path: Path, text: str, owner: tuple[int, int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if owner:
        os.chown(path, *owner)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
