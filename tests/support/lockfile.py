"""requirements.lock read back: what it pins, and what an environment holds.

Used by tests/unit/test_lock.py and by `make setup`, which runs it as
`python tests/support/lockfile.py unlocked` to find what to uninstall (the
names of installed distributions the lock does not have, the project aside).
Only the standard library here: `make setup` runs it before anything else
could be relied on.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PROJECT = "wirewatch"

_PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)\s*(?:;(?P<marker>.*))?")
# A hash option, wherever it stands on a line (uv puts each on a line of its own).
_HASH = re.compile(r"--hash[= ]sha256:([0-9a-f]{64})")


def normalize(name: str) -> str:
    """PEP 503: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    name: str
    version: str
    marker: str | None
    hashes: list[str]


def parse(path: Path = LOCK) -> dict[str, Pin]:
    """Every `name==version` requirement in a pip requirements file, by normalized name.

    A line that is neither a pin, a hash, a comment nor blank is an error:
    `make setup` installs with --require-hashes, which takes pins only.
    """
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        hashes = _HASH.findall(raw)
        line = _HASH.sub("", raw).split("#", 1)[0].replace("\\", " ").strip()
        if m := _PIN.fullmatch(line):
            name = normalize(m["name"])
            if name in pins:
                raise ValueError(f"{path.name}:{number}: {name} pinned twice")
            marker = m["marker"].strip() if m["marker"] else None
            current = pins[name] = Pin(name, m["version"], marker, hashes)
        elif not line:
            if hashes and current is None:
                raise ValueError(f"{path.name}:{number}: a hash before any pin")
            if current is not None:
                current.hashes += hashes
        else:
            raise ValueError(f"{path.name}:{number}: not a pin or a hash: {raw.strip()!r}")
    return pins


def installed() -> dict[str, str]:
    """Version of every distribution the running interpreter sees, by normalized name."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalize(name), dist.version)
    return found


def unlocked(pins: dict[str, Pin] | None = None) -> list[str]:
    """Installed distributions the lock does not pin, the project itself aside."""
    pins = parse() if pins is None else pins
    return sorted(name for name in installed() if name not in pins and name != PROJECT)


if __name__ == "__main__":
    if sys.argv[1:] != ["unlocked"]:
        sys.exit("usage: lockfile.py unlocked")
    print(" ".join(unlocked()))
