"""`wirewatch ingest`: live sources (feeds, drop folders, HTTP push) onto Kafka, running all day.

Pure parts, with no Kafka or network imports: `config` (the sources file),
`identity` (new, updated, unchanged or stale), `routing` (which files, when,
which reader), `schedule` (when to poll next), `documents` (a delivered
document's stories).  `state` keeps what was sent in SQLite; `intake` decides,
sends and remembers one batch.  The small parts that talk to the world:
`sender` (kafka-python), `feedpoll` (HTTP client), `folder`, `push` (HTTP
server) and `runner`, which runs them all.
"""
