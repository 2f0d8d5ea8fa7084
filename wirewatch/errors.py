"""One exception hierarchy for every stage.

Each stage has one place that catches `WireWatchError` and decides: retry what
is `retriable`, park what is not on the dead-letter topic, or stop on a
configuration error.  Raising the right class here is how code elsewhere
tells that place what happened.
"""

from __future__ import annotations


class WireWatchError(Exception):
    """Base class.  `retriable` says whether trying again later may succeed."""

    retriable: bool = False


class ConfigError(WireWatchError):
    """Settings, a rules file or a subscription is wrong; a person must fix it."""


class InputError(WireWatchError):
    """A story, a message or a file cannot be read.  `where` says where."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class QueryError(InputError):
    """A watch query is not valid.  `column` is 1-based within the query."""

    def __init__(self, message: str, column: int | None = None, query: str | None = None) -> None:
        self.column = column
        self.query = query
        super().__init__(message, f"column {column}" if column is not None else None)


class RuleError(ConfigError):
    """A rule in a rules file is not valid; `rule_id` names it, `line` (1-based) says where it is."""

    def __init__(self, rule_id: str | None, message: str, line: int | None = None) -> None:
        self.rule_id = rule_id
        self.message = message
        self.line = line
        super().__init__(f"rule {rule_id!r}: {message}" if rule_id else message)


class TransientError(WireWatchError):
    """A server is down, slow or overloaded; the same work may succeed later."""

    retriable = True


class ServiceUnavailable(TransientError):
    """A server (Kafka, Elasticsearch, SMTP, Slack) cannot be reached."""


class RateLimited(TransientError):
    """A server asked us to slow down; `retry_after` (seconds) says for how long, when it did."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentError(WireWatchError):
    """A server refused the work for good (bad request, unknown recipient)."""


class LocalServiceError(WireWatchError):
    """`wirewatch services` could not fetch, start or stop a local Kafka or Elasticsearch."""
