"""Choosing a Java runtime for each service from what a machine has."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirewatch.errors import LocalServiceError
from wirewatch.services.jdk import feature_version, find_jdk, java_home, java_version


def make_jdk(root: Path, name: str, version: str | None, with_java: bool = True) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    if with_java:
        java = home / "bin" / "java"
        java.write_text("#!/bin/sh\nexit 1\n")
        java.chmod(0o755)
    if version is not None:
        (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\nOS_NAME="Linux"\n')
    return home


@pytest.fixture
def jvm_root(tmp_path: Path) -> Path:
    root = tmp_path / "jvm"
    make_jdk(root, "a-broken", None, with_java=False)
    make_jdk(root, "java-17-openjdk-amd64", "17.0.15")
    (root / "java-1.17.0-openjdk-amd64").symlink_to(root / "java-17-openjdk-amd64")
    make_jdk(root, "java-8-openjdk", "1.8.0_402")
    make_jdk(root, "temurin-25-jdk-amd64", "25.0.3")
    make_jdk(root, "zulu-21", "21.0.4")
    return root


@pytest.mark.parametrize(("text", "major"), [("17.0.15", 17), ("25", 25), ("1.8.0_292", 8), ("21-ea", 21), ("x", None)])
def test_feature_version(text, major):
    assert feature_version(text) == major


def test_java_version_reads_the_release_file(jvm_root: Path):
    assert java_version(jvm_root / "temurin-25-jdk-amd64") == 25
    assert java_version(jvm_root / "java-8-openjdk") == 8
    assert java_version(jvm_root / "a-broken") is None


def test_find_jdk_takes_the_first_new_enough_in_name_order(jvm_root: Path):
    assert find_jdk(21, [jvm_root]) == jvm_root / "temurin-25-jdk-amd64"
    assert find_jdk(17, [jvm_root]) == jvm_root / "java-17-openjdk-amd64"
    assert find_jdk(26, [jvm_root]) is None
    assert find_jdk(17, [jvm_root / "missing"]) is None


def test_a_named_jdk_wins_when_new_enough(jvm_root: Path):
    env = {"ES_JAVA_HOME": str(jvm_root / "zulu-21"), "PATH": ""}
    assert java_home(21, env, ("ES_JAVA_HOME",), [jvm_root]) == jvm_root / "zulu-21"


def test_a_named_jdk_too_old_falls_back_to_the_search(jvm_root: Path):
    env = {"ES_JAVA_HOME": str(jvm_root / "java-17-openjdk-amd64"), "PATH": ""}
    assert java_home(21, env, ("ES_JAVA_HOME",), [jvm_root]) == jvm_root / "temurin-25-jdk-amd64"


def test_java_on_path_is_used_when_new_enough(jvm_root: Path, tmp_path: Path):
    path_dir = tmp_path / "path"
    path_dir.mkdir()
    (path_dir / "java").symlink_to(jvm_root / "java-17-openjdk-amd64" / "bin" / "java")
    env = {"PATH": str(path_dir)}
    assert java_home(17, env, ("JAVA_HOME",), [jvm_root]) == jvm_root / "java-17-openjdk-amd64"
    # Too old for Elasticsearch: the search under the roots decides.
    assert java_home(21, env, ("ES_JAVA_HOME",), [jvm_root]) == jvm_root / "temurin-25-jdk-amd64"


def test_no_jdk_new_enough_says_what_was_tried(jvm_root: Path):
    env = {"ES_JAVA_HOME": str(jvm_root / "java-8-openjdk"), "PATH": ""}
    with pytest.raises(LocalServiceError, match=r"no Java 30 or newer.*ES_JAVA_HOME=.*Java 8"):
        java_home(30, env, ("ES_JAVA_HOME",), [jvm_root])
