"""Local Kafka and Elasticsearch for development and tests, without Docker.

`wirewatch services up|down|status` fetches both with Maven (cached in
~/.m2), keeps everything they need under WIREWATCH_HOME and listens where
WIREWATCH_KAFKA_BOOTSTRAP and WIREWATCH_ES_URL say, on this machine only.
Importing this package starts nothing and reads no environment.
"""

from .control import NAMES, Report, down, status, up

__all__ = ["NAMES", "Report", "down", "status", "up"]
