"""Fetch the services' jars and distributions with Maven.

Maven keeps what it downloads in ~/.m2, so a second `up` (and a CI run
that caches ~/.m2) fetches nothing.  Its output goes to a log file, shown
only when it fails.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import LocalServiceError
from .files import tail

# Pinned so every machine runs the same plugin whatever its Maven's default is.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def mvn() -> str:
    found = shutil.which("mvn")
    if not found:
        raise LocalServiceError("Maven (`mvn`) is not on PATH; install it (e.g. apt-get install maven) and run again")
    return found


def run(args: list[str], log: Path, cwd: Path) -> None:
    """Run Maven in batch mode, appending its output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [mvn(), "--batch-mode", "--no-transfer-progress", *args]
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise LocalServiceError(f"Maven failed (exit {done.returncode}); its output is in {log}:\n{tail(log)}")


def copy_dependencies(pom: Path, output: Path, log: Path) -> None:
    """Copy the runtime class path of `pom` into `output`."""
    run(
        ["-f", str(pom), f"{DEPENDENCY_PLUGIN}:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={output}"],
        log,
        cwd=pom.parent,
    )


def copy_artifact(coordinates: str, output: Path, log: Path) -> None:
    """Copy one artifact (groupId:artifactId:version[:type[:classifier]]) into `output`."""
    run([f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={coordinates}", f"-DoutputDirectory={output}"], log, cwd=output)

