"""The system user Elasticsearch runs as, and where that user can reach.

Elasticsearch refuses to run as root.  When `wirewatch` itself runs as root
(CI, containers, this kind of dev box) it starts Elasticsearch as a
dedicated system user; as anyone else it simply runs as that person.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import LocalServiceError

USER = "wirewatch"


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: frozenset[int]


def account(name: str) -> Account | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    groups = {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
    return Account(name, entry.pw_uid, entry.pw_gid, frozenset(groups | {entry.pw_gid}))


def ensure_user(name: str = USER) -> Account:
    """The service account, created as a locked system user when missing."""
    found = account(name)
    if found:
        return found
    useradd = shutil.which("useradd")
    if not useradd:
        raise LocalServiceError(f"Elasticsearch must not run as root and there is no `useradd` to create user {name!r}")
    nologin = shutil.which("nologin") or "/usr/sbin/nologin"
    done = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", nologin, name],
        capture_output=True,
        text=True,
    )
    found = account(name)
    if done.returncode != 0 and not found:  # a parallel `up` may have won the race
        raise LocalServiceError(f"could not create system user {name!r}: {done.stderr.strip()}")
    assert found is not None
    return found


def _may(mode: int, owner: int, group: int, who: Account, bits: tuple[int, int, int]) -> bool:
    if who.uid == 0:
        return True
    if owner == who.uid:
        return bool(mode & bits[0])
    if group in who.groups:
        return bool(mode & bits[1])
    return bool(mode & bits[2])


def first_blocking(path: Path, who: Account) -> Path | None:
    """The first existing folder on the way to `path` that `who` may not enter (None: all open).

    Only the classic mode bits are read; ACLs are rare on the folders in question.
    """
    path = path.absolute()
    for folder in reversed([path, *path.parents]):
        try:
            info = folder.stat()
        except FileNotFoundError:
            break  # what does not exist yet will be created by us, for them
        if not stat.S_ISDIR(info.st_mode):
            break
        if not _may(info.st_mode, info.st_uid, info.st_gid, who, (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)):
            return folder
    return None


def run_as() -> Account | None:
    """The account to run Elasticsearch as: the service user under root, else the caller."""
    if os.geteuid() != 0:
        return None
    return ensure_user()
