"""WireWatch: news-wire alerting on Kafka, Faust and Elasticsearch.

This package is the shared core: the domain types every stage passes around,
the settings object, the exception hierarchy and the command line.  It imports
no Kafka or Faust code, so the pure parts can be used and tested without a
broker.
"""

__version__ = "0.1.0"
