"""`wirewatch ingest`: live sources (feeds, drop folders, HTTP push) onto Kafka, running all day.

Pure parts (what a sources file says, whether an item is new, which files to
read) live in `config`, `identity`, `routing` and `schedule` and import
nothing of Kafka or the network; `feeds`, `folder`, `push` and `runner` are
the small parts that talk to the world.
"""
