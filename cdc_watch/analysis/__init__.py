"""The joins and judgements across sources (pure): binlog position against the server, where a
position comes from, failure classification, the Debezium MySQL checklist."""
