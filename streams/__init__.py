"""Stream processing: Faust agents that match stories and index them.

The data path of one worker:

    stories topic --(match)--> matched topic --(index)--> Elasticsearch
                          \\--> matches topic (one per rule hit) --> alerts/

Agents only decode, call pure functions (`matching`, `indexing`) and send
the results; everything that can fail for one message is caught per message
and parked on the dead-letter topic.
"""
