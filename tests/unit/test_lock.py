"""requirements.lock covers pyproject, and the environment is exactly the lock.

`make setup` installs requirements.lock with --require-hashes; these tests
fail when a dependency is added to pyproject without `make lock`, and when the
running environment holds a version, or a distribution, that the lock does
not (`make setup` puts it right; see the README's "Tests" section).
"""

from __future__ import annotations

import tomllib

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from support import lockfile

ROOT = lockfile.ROOT


@pytest.fixture(scope="module")
def pins() -> dict[str, lockfile.Pin]:
    return lockfile.parse()


def declared() -> list[tuple[str, Requirement]]:
    """(where, requirement) for every requirement pyproject.toml declares."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = [("build-system.requires", Requirement(r)) for r in pyproject["build-system"]["requires"]]
    found += [("project.dependencies", Requirement(r)) for r in pyproject["project"]["dependencies"]]
    for extra, reqs in pyproject["project"].get("optional-dependencies", {}).items():
        found += [(f"project.optional-dependencies.{extra}", Requirement(r)) for r in reqs]
    return found


def applies(marker: str | None) -> bool:
    return marker is None or Marker(marker).evaluate()


def test_every_pin_is_exact_and_hashed(pins):
    assert len(pins) > 20
    assert [name for name, pin in pins.items() if not pin.hashes] == []


def test_the_lock_names_no_package_index():
    text = (ROOT / "requirements.lock").read_text()
    assert "://" not in text
    assert "--index-url" not in text and "--extra-index-url" not in text


def test_the_lock_covers_every_dependency_pyproject_declares(pins):
    missing, outside = [], []
    for where, req in declared():
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        pin = pins.get(lockfile.normalize(req.name))
        if pin is None:
            missing.append(f"{req} ({where})")
        elif not req.specifier.contains(pin.version, prereleases=True):
            outside.append(f"{req} ({where}) but the lock has {pin.version}")
    assert missing == [], "not in requirements.lock: run `make lock`"
    assert outside == [], "requirements.lock is outside pyproject's range: run `make lock`"


def test_the_lock_pins_pip_for_make_setup(pins):
    assert "pip" in pins


def test_every_locked_distribution_is_installed_at_its_version(pins):
    have = lockfile.installed()
    wrong = {
        name: f"locked {pin.version}, installed {have.get(name, 'nothing')}"
        for name, pin in pins.items()
        if applies(pin.marker) and have.get(name) != pin.version
    }
    assert wrong == {}, "this environment is not the lock: run `make setup`"


def test_nothing_is_installed_that_the_lock_does_not_pin(pins):
    assert lockfile.unlocked(pins) == [], (
        "installed but not in requirements.lock: add it to pyproject.toml and `make lock`, or uninstall it"
    )


def test_the_parser_reads_markers_and_hashes_on_any_line(tmp_path):
    lock = tmp_path / "requirements.lock"
    h1, h2 = "a" * 64, "b" * 64
    lock.write_text(
        "# comment\n"
        f"Foo_Bar==1.2 ; python_version < '3.12' \\\n    --hash=sha256:{h1} \\\n    --hash=sha256:{h2}\n"
        "    # via wirewatch (pyproject.toml)\n"
        f"baz==2.0 --hash=sha256:{h1}\n"
    )
    pins = lockfile.parse(lock)
    assert pins["foo-bar"] == lockfile.Pin("foo-bar", "1.2", "python_version < '3.12'", [h1, h2])
    assert pins["baz"] == lockfile.Pin("baz", "2.0", None, [h1])
    lock.write_text("baz>=2\n")
    with pytest.raises(ValueError, match="not a pin"):
        lockfile.parse(lock)
