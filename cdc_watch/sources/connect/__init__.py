"""Kafka Connect REST source: `poll` (client and sources), `parse` (pure), `model` (typed values)."""
