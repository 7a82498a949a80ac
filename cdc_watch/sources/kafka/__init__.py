"""Kafka broker access shared by the features that read or write Kafka (high availability,
the freshness canary, schema-history topic checks): client settings built from a
`KafkaEndpoint` section for confluent-kafka (librdkafka)."""
