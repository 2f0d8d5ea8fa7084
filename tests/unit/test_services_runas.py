"""Whether the Elasticsearch user can reach its folder, from real folder modes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from wirewatch.services.runas import Account, account, first_blocking

STRANGER = Account("stranger", 54321, 54321, frozenset({54321}))


@pytest.fixture
def base() -> Iterator[Path]:
    # Under /tmp itself, not pytest's tmp_path: that lives below a 0700
    # folder, which would block every path this test looks at.
    folder = Path(tempfile.mkdtemp(prefix="wirewatch-runas-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_open_folders_do_not_block(base: Path):
    (base / "open").mkdir(mode=0o755)
    assert first_blocking(base / "open" / "elasticsearch", STRANGER) is None


def test_a_closed_folder_on_the_way_blocks(base: Path):
    closed = base / "closed"
    closed.mkdir()
    closed.chmod(0o700)
    (closed / "deeper").mkdir()
    assert first_blocking(closed / "deeper" / "elasticsearch", STRANGER) == closed


def test_group_and_owner_rights_count(base: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a folder away")
    shared = base / "shared"
    shared.mkdir()
    os.chown(shared, 0, STRANGER.gid)
    shared.chmod(0o710)
    assert first_blocking(shared / "x", STRANGER) is None
    os.chown(shared, STRANGER.uid, 0)
    shared.chmod(0o700)
    assert first_blocking(shared / "x", STRANGER) is None
    shared.chmod(0o070)  # the owner's own bits are what count for the owner
    assert first_blocking(shared / "x", STRANGER) == shared


def test_root_is_never_blocked(base: Path):
    closed = base / "closed"
    closed.mkdir(mode=0o700)
    assert first_blocking(closed / "x", Account("root", 0, 0, frozenset({0}))) is None


def test_accounts_are_looked_up_by_name():
    root = account("root")
    assert root is not None and root.uid == 0 and 0 in root.groups
    assert account("no-such-user-wirewatch-test") is None
