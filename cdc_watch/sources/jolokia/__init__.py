"""Jolokia source (Connect and Debezium JMX): `poll`, `parse` (pure), `model` (typed values)."""
