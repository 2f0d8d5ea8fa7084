"""Producers: read wire stories from files and feeds and put them on Kafka.

`sources` turns files into `Story` records (pure parsing, no Kafka);
`replay` paces them; `kafka_sink` sends them.
"""
