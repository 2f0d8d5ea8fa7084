"""The sources file of `wirewatch ingest`: every kind, defaults, durations, and problems with their line."""

from pathlib import Path

import pytest

from producers.ingest import config
from wirewatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_sources_file_has_every_kind():
    sources = config.load(ROOT / "examples" / "sources.yaml")
    assert {s.kind for s in sources.sources} == {"feed", "folder", "push"}
    folder = sources.by_kind("folder")[0]
    # Relative paths are the sources file's, wherever ingest starts.
    assert folder.path.is_absolute() and folder.path.parts[-3:] == (".wirewatch", "drop", "dpa")
    assert sources.status_every == 60


def test_defaults_and_durations():
    sources = config.parse(
        "sources:\n"
        "  - {name: a, kind: feed, url: 'http://127.0.0.1/feed', interval: 90s, timeout: 250ms}\n"
        "  - {name: b, kind: folder, path: /tmp/x, quiet: 1m}\n"
        "  - {name: c, kind: push, port: 0}\n"
    )
    feed, folder, push = sources.sources
    assert (feed.interval, feed.timeout, feed.max_backoff) == (90, 0.25, 3600)
    assert (folder.quiet, folder.scan, folder.done, folder.failed) == (60, 2, Path("done"), Path("failed"))
    assert (push.host, push.port, push.max_bytes, push.allow_anonymous) == ("127.0.0.1", 0, 10 * 1024 * 1024, False)
    assert sources.topic is None


def test_every_problem_names_its_line_and_source():
    text = (
        "sources:\n"                                              # 1
        "  - name: good\n"                                        # 2
        "    kind: feed\n"                                        # 3
        "    url: http://127.0.0.1/a\n"                           # 4
        "  - name: slow\n"                                        # 5
        "    kind: feed\n"                                        # 6
        "    url: http://127.0.0.1/b\n"                           # 7
        "    interval: soon\n"                                    # 8
        "  - name: drop\n"                                        # 9
        "    kind: folder\n"                                      # 10
        "    pth: /tmp/x\n"                                       # 11
        "  - name: what\n"                                        # 12
        "    kind: ftp\n"                                         # 13
    )
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "sources.yaml")
    message = str(caught.value)
    assert "sources.yaml:8: source 'slow' interval:" in message and "'soon' is not a duration" in message
    assert "sources.yaml:11: source 'drop' pth: Extra inputs are not permitted" in message
    # A missing key: the line where its source starts.
    assert "sources.yaml:9: source 'drop' path: Field required" in message
    assert "sources.yaml:13: source 'what' kind: must be feed, folder or push" in message
    assert "'good'" not in message


def test_duplicate_names_and_yaml_syntax():
    with pytest.raises(ConfigError, match="two sources are named 'a'"):
        config.parse("sources:\n  - {name: a, kind: push, port: 1}\n  - {name: a, kind: push, port: 2}\n")
    with pytest.raises(ConfigError, match=r"x.yaml:3: YAML syntax error"):
        config.parse("sources:\n  - name: a\n   kind: [feed\n", "x.yaml")
    with pytest.raises(ConfigError, match="a mapping with a `sources:` list"):
        config.parse("- just a list\n")
    with pytest.raises(ConfigError, match="name"):
        config.parse("sources:\n  - {name: 'a b/c', kind: push}\n")


def test_feed_url_must_be_http():
    with pytest.raises(ConfigError, match=r"<sources>:2: source 'f' url"):
        config.parse("sources:\n  - {name: f, kind: feed, url: 'file:///etc/passwd'}\n")


def test_a_push_source_needs_a_token_or_says_anyone_may_post(tmp_path):
    from pydantic import SecretStr

    from producers.ingest.runner import Ingest
    from wirewatch.settings import Settings

    closed = config.parse("sources:\n  - {name: p, kind: push}\n")
    with pytest.raises(ConfigError, match="push source 'p': set WIREWATCH_INGEST_TOKEN"):
        Ingest(closed, Settings(), tmp_path)
    assert Ingest(closed, Settings(ingest_token=SecretStr("t")), tmp_path).token == "t"
    anyone = config.parse("sources:\n  - {name: p, kind: push, allow_anonymous: true}\n")
    assert Ingest(anyone, Settings(), tmp_path).token is None


def test_pure_parts_import_nothing_of_kafka_or_the_network():
    import subprocess
    import sys

    code = (
        "import sys; import producers.ingest.config, producers.ingest.identity, producers.ingest.routing, "
        "producers.ingest.schedule, producers.ingest.documents, producers.ingest.state; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('kafka', 'aiokafka', 'faust', 'aiohttp')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
