"""Find a Java runtime new enough for each service.

Kafka 4 needs Java 17 and Elasticsearch 9 needs 21; a machine often has the
distribution's 17 as `java` and a newer JDK beside it under /usr/lib/jvm, so
each service asks for its minimum and gets the first JDK that meets it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import LocalServiceError

JVM_ROOTS = (Path("/usr/lib/jvm"),)

_RELEASE_VERSION = re.compile(r'^JAVA_VERSION="([^"]+)"', re.MULTILINE)
_VERSION_OUTPUT = re.compile(r'version "([^"]+)"')


def feature_version(version: str) -> int | None:
    """17 for "17.0.15", 25 for "25", 8 for the old "1.8.0_292" style."""
    match = re.match(r"(\d+)(?:\.(\d+))?", version)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def java_version(java_home: Path) -> int | None:
    """The feature version of the JDK at java_home, from its `release` file (or by asking java)."""
    release = java_home / "release"
    try:
        match = _RELEASE_VERSION.search(release.read_text(errors="replace"))
    except OSError:
        match = None
    if match:
        return feature_version(match.group(1))
    java = java_home / "bin" / "java"
    if not os.access(java, os.X_OK):
        return None
    try:
        run = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _VERSION_OUTPUT.search(run.stderr + run.stdout)
    return feature_version(found.group(1)) if found else None


def find_jdk(minimum: int, roots: Iterable[Path] = JVM_ROOTS) -> Path | None:
    """The first JDK (in name order) under roots whose version is at least `minimum`."""
    seen: set[Path] = set()
    for root in roots:
        try:
            candidates = sorted(root.iterdir())
        except OSError:
            continue
        for candidate in candidates:
            real = candidate.resolve()
            if real in seen or not (real / "bin" / "java").is_file():
                continue
            seen.add(real)
            version = java_version(real)
            if version is not None and version >= minimum:
                return real
    return None


def java_home(
    minimum: int,
    environ: Mapping[str, str],
    variables: tuple[str, ...],
    roots: Iterable[Path] = JVM_ROOTS,
    use_path: bool = True,
) -> Path:
    """The JDK a service runs on.

    A JDK named in one of `variables` (e.g. ES_JAVA_HOME, JAVA_HOME) wins when
    it is new enough; then `java` on PATH; then the first under `roots`.
    """
    tried: list[str] = []
    for variable in variables:
        value = environ.get(variable)
        if value:
            home = Path(value)
            version = java_version(home)
            if version is not None and version >= minimum:
                return home
            tried.append(f"{variable}={value} (Java {version or '?'})")
    if use_path:
        on_path = shutil.which("java", path=environ.get("PATH", os.defpath))
        if on_path:
            home = Path(on_path).resolve().parent.parent
            version = java_version(home)
            if version is not None and version >= minimum:
                return home
            tried.append(f"java on PATH (Java {version or '?'})")
    found = find_jdk(minimum, roots)
    if found:
        return found
    searched = ", ".join(str(r) for r in roots)
    raise LocalServiceError(
        f"no Java {minimum} or newer found (tried: {'; '.join(tried) or 'nothing set'}; searched {searched}); "
        f"install one, e.g. apt-get install openjdk-{max(minimum, 17)}-jdk-headless, or set {variables[0]}"
    )
