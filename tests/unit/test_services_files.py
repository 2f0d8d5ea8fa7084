"""Unpacking distributions, reading log tails, finding Maven."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from wirewatch.services.files import tail, unzip


def test_unzip_keeps_execute_bits(tmp_path: Path):
    archive = tmp_path / "dist.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        script = zipfile.ZipInfo("dist-1.0/bin/start")
        script.external_attr = (0o100755 << 16)
        zipped.writestr(script, "#!/bin/sh\necho started\n")
        config = zipfile.ZipInfo("dist-1.0/config/app.yml")
        config.external_attr = (0o100644 << 16)
        zipped.writestr(config, "a: 1\n")
        zipped.writestr("dist-1.0/README", "no mode stored\n")
    unzip(archive, tmp_path / "out")
    root = tmp_path / "out" / "dist-1.0"
    assert os.access(root / "bin" / "start", os.X_OK)
    assert not os.access(root / "config" / "app.yml", os.X_OK)
    assert (root / "README").read_text() == "no mode stored\n"


def test_tail_gives_the_last_lines_even_of_a_big_file(tmp_path: Path):
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert tail(log, 3) == "line 99997\nline 99998\nline 99999"
    assert tail(tmp_path / "missing.log") == ""


def test_a_missing_maven_is_reported_with_how_to_install_it(monkeypatch, tmp_path: Path):
    import pytest

    from wirewatch.errors import LocalServiceError
    from wirewatch.services import maven

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalServiceError, match=r"Maven \(`mvn`\) is not on PATH.*apt-get install maven"):
        maven.copy_artifact("g:a:1:zip", tmp_path, tmp_path / "maven.log")
