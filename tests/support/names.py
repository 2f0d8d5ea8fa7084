"""Names for what a test makes on the servers (topics, index, consumer group), and their removal.

Every test gets names of its own, so that tests never see each other's
data.  Against the developer's own services (`make test`) a session would
otherwise leave hundreds of topics behind each time: a broker with
thousands of them answers every client's metadata request more slowly,
and `wirewatch rules apply` and worker start-up measurably so.  So the
session deletes, when it ends, what carries a name it handed out.
"""

from __future__ import annotations

import logging
import uuid

log = logging.getLogger(__name__)

_handed_out: list[str] = []


def fresh(prefix: str = "test-", length: int = 12) -> str:
    """A name no other test uses, remembered for `remove_all`."""
    name = f"{prefix}{uuid.uuid4().hex[:length]}"
    _handed_out.append(name)
    return name


def ours(name: str, names: set[str]) -> bool:
    """Whether a topic, index or template named `name` belongs to one of `names` (`n`, `n.stories`, `n-…-changelog`)."""
    return any(name == n or name.startswith((n + ".", n + "-")) for n in names)


def remove_all(kafka_bootstrap: str | None, es_url: str | None) -> None:
    """Delete the session's topics, indices and index templates; a failure is only logged (it leaves clutter, no harm)."""
    names = set(_handed_out)
    if not names:
        return
    if kafka_bootstrap:
        try:
            _remove_topics(kafka_bootstrap, names)
        except Exception as exc:  # noqa: BLE001 - best effort at the end of a session
            log.warning("could not delete this session's topics: %s", exc)
    if es_url:
        try:
            _remove_indices(es_url, names)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not delete this session's indices: %s", exc)
    _handed_out.clear()


def _remove_topics(bootstrap: str, names: set[str]) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        mine = [t for t in admin.list_topics() if ours(t, names)]
        for i in range(0, len(mine), 200):
            admin.delete_topics(mine[i:i + 200], timeout_ms=10_000)
    finally:
        admin.close()


def _remove_indices(es_url: str, names: set[str]) -> None:
    from elasticsearch import Elasticsearch

    with Elasticsearch(es_url, request_timeout=10) as es:
        # Listed, then deleted by exact name: Elasticsearch refuses wildcard deletes of indices by default.
        indices = [i for i in es.indices.get(index="*", expand_wildcards="open,closed") if ours(i, names)]
        for i in range(0, len(indices), 50):
            es.indices.delete(index=",".join(indices[i:i + 50]), ignore_unavailable=True)
        templates = [t["name"] for t in es.indices.get_index_template()["index_templates"] if ours(t["name"], names)]
        for t in templates:
            es.options(ignore_status=404).indices.delete_index_template(name=t)
