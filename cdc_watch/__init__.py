"""cdc_watch: watches Kafka Connect + Debezium MySQL pipelines and the databases they read."""

__version__ = "0.1.0"
