"""Faust tables whose changelog partition is a function of the key alone.

Faust puts a table write in the partition of the event being processed.  A
write made outside any event (a batch, a timer, a background delivery task)
has no such partition, and Faust's own way out, `use_partitioner=True`,
asks the producer's cluster metadata for the changelog topic's partitions
without waiting for it (`eager_partitioning` in `Channel.as_future_message`
calls aiokafka's `_partition` directly).  On a fresh cluster the changelog
topic was created after the producer read its metadata, so that call fails
with "'NoneType' object is not iterable", and the write with it.

So these tables compute the partition themselves, from the key and the
configured partition count, with the same hash the producer uses for
message keys: the send then goes through the producer's normal path, which
waits for the topic's metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .progress import SEP

PartitionOf = Callable[[bytes], int]


def by_hash(partitions: int, first_field: bool = False) -> PartitionOf:
    """The partition Kafka's default partitioner gives a message with this key (murmur2, as the Java client).

    With `first_field`, of the key's first field (up to the separator): so
    that `rule<SEP>anything` lives where messages keyed by the rule id do.
    """
    from wirewatch.query import native

    if native.murmur2 is not None:
        murmur2 = native.murmur2
    else:
        from aiokafka.partitioner import murmur2

    sep = SEP.encode()

    def partition_of(key: bytes) -> int:
        if first_field:
            key = key.split(sep, 1)[0]
        return (murmur2(key) & 0x7FFFFFFF) % partitions

    return partition_of


def by_suffix(key: bytes) -> int:
    """The partition number written at the end of the key, after the last separator (`topic<SEP>p`)."""
    return int(key.rsplit(SEP.encode(), 1)[1])


def keyed_table(app: Any, name: str, partitions: int, partition_of: PartitionOf):
    """A changelog-backed table (bytes keys, JSON values) whose entry for a key lives in `partition_of(key)`.

    Partition p of the changelog is recovered by the worker assigned
    partition p of the stage's source topics, so `partition_of` must put
    an entry where the message it is about lives.
    """
    import faust

    class KeyedTable(faust.Table):
        def partition_for_key(self, key: Any) -> int:
            return partition_of(bytes(key))

        def send_changelog(self, partition, key, value, *args: Any, **kwargs: Any):
            sent = super().send_changelog(partition, key, value, *args, **kwargs)
            waiting = self.__dict__.setdefault("_unacked", {})
            waiting[key] = sent
            sent.add_done_callback(lambda _f, key=key: waiting.pop(key, None) if waiting.get(key) is sent else None)
            return sent

        async def written(self, key: Any) -> None:
            """Wait until the last change to `key` is on Kafka (not everything the producer holds, as a flush would)."""
            sent = self.__dict__.get("_unacked", {}).get(key)
            if sent is not None:
                await sent

    return app.tables.add(KeyedTable(app=app, name=name, partitions=partitions, key_type=bytes, value_type=None))
