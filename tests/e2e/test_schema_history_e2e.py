"""The schema history topic checks against the real broker and Connect: a connector whose
history topic was created beforehand with a finite retention is flagged and alerted on, a
connector whose topic Debezium created is not, and an unreachable broker is a typed failure
of the `kafka:` source."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from tests.e2e.conftest import stack_config_yaml

pytestmark = pytest.mark.stack

WEEK_MS = 7 * 24 * 3600 * 1000


def kafka_yaml(bootstrap: str, timeout: str = "3s") -> str:
    return f"""    kafka:
      bootstrap_servers: "{bootstrap}"
      timeout: {timeout}
    kafka_interval: 1s
"""


ALERTING = """
alerting:
  rules:
    keep_firing_for: 0s
    overrides:
      CdcSchemaHistoryTopicUnsafe: {for: 0s}
      CdcSourceUnreadable: {for: 0s}
"""


@pytest.fixture
def finite_history_connector(stack):
    """A connector whose history topic was created, before the connector, with a retention of
    a week (the mistake behind "db history topic is fully or partially missing")."""
    short = uuid.uuid4().hex[:8]
    topic = f"schema-history.t-{short}.finite"
    admin = AdminClient({"bootstrap.servers": stack.broker_bootstrap})
    created = admin.create_topics(
        [NewTopic(topic, 1, 1, config={"retention.ms": str(WEEK_MS), "cleanup.policy": "delete"})],
        request_timeout=10,
    )
    created[topic].result(15)
    handle = stack.create_connector(
        name=f"t-{short}", extra_config={"schema.history.internal.kafka.topic": topic}, wait_streaming=False
    )
    try:
        yield handle, topic
    finally:
        stack.delete_connector(handle.name)


def test_finite_retention_is_flagged_and_a_debezium_created_topic_is_not(
    stack, stack_env, finite_history_connector, daemon_factory
):
    bad, topic = finite_history_connector
    connector = stack.sample_connector  # streaming since `up`, its history topic created by Debezium
    config = stack_config_yaml(stack, poll_interval="1s", extra_cluster=kafka_yaml(stack.broker_bootstrap)) + ALERTING
    daemon = daemon_factory(config)

    def check(name: str, which: str) -> float | None:
        return daemon.value("cdc_schema_history_topic_ok", connect_cluster="devstack", connector=name, check=which)

    daemon.wait_for(lambda: check(bad.name, "retention") == 0, 20, "finite retention flagged")
    assert daemon.value("cdc_source_up", source="kafka:devstack") == 1
    assert check(bad.name, "exists") == 1 and check(bad.name, "partitions") == 1
    assert check(bad.name, "cleanup_policy") == 1
    assert daemon.value("cdc_schema_history_topic_info", connector=bad.name, topic=topic) == 1
    daemon.wait_for(
        lambda: daemon.value("cdc_alert_firing", alert="CdcSchemaHistoryTopicUnsafe", connector=bad.name) == 1,
        10,
        "CdcSchemaHistoryTopicUnsafe firing",
    )
    # The healthy connector's topic, created by Debezium itself (retention.ms Long.MAX_VALUE,
    # retention.bytes -1, delete), passes every check and raises nothing.
    for which in ("exists", "partitions", "retention", "cleanup_policy"):
        assert check(connector.name, which) == 1, which
    assert daemon.value("cdc_alert_firing", alert="CdcSchemaHistoryTopicUnsafe", connector=connector.name) is None


def test_a_missing_topic_is_flagged_and_checking_never_creates_it(stack, stack_env, daemon_factory):
    """tansu creates a topic a metadata request names: the checks list all topics instead, so
    the topic a stopped connector names stays missing however often it is checked."""
    short = uuid.uuid4().hex[:8]
    name, topic = f"t-{short}", f"schema-history.t-{short}.never-created"
    config = stack.connector_config(name, name, 300000 + int(short[:6], 16))
    config["schema.history.internal.kafka.topic"] = topic
    # Created STOPPED (Connect 3.7+): no task runs, so Debezium never creates the topic either.
    reply = stack.rest("POST", "/connectors", json={"name": name, "config": config, "initial_state": "STOPPED"})
    assert reply.status_code == 201, reply.text
    try:
        daemon = daemon_factory(
            stack_config_yaml(stack, poll_interval="1s", extra_cluster=kafka_yaml(stack.broker_bootstrap)) + ALERTING
        )
        daemon.wait_for(
            lambda: daemon.value("cdc_alert_firing", alert="CdcSchemaHistoryTopicUnsafe", connector=name) == 1,
            20,
            "missing history topic alerted",
        )
        assert daemon.value("cdc_schema_history_topic_ok", connector=name, check="exists") == 0
        assert daemon.value("cdc_schema_history_topic_ok", connector=name, check="partitions") is None
        polls = daemon.value("cdc_source_polls_total", source="kafka:devstack")
        daemon.wait_for(
            lambda: (daemon.value("cdc_source_polls_total", source="kafka:devstack") or 0) >= (polls or 0) + 2,
            10,
            "two more kafka polls",
        )
        listed = AdminClient({"bootstrap.servers": stack.broker_bootstrap}).list_topics(timeout=10).topics
        assert topic not in listed
    finally:
        stack.delete_connector(name)


def test_unreachable_broker_is_a_typed_failure_of_the_kafka_source(stack, stack_env, daemon_factory):
    config = stack_config_yaml(stack, poll_interval="1s", extra_cluster=kafka_yaml("127.0.0.1:9", "1s")) + ALERTING
    daemon = daemon_factory(config)
    daemon.wait_for(
        lambda: daemon.value("cdc_source_poll_errors_total", source="kafka:devstack", reason="connect"),
        15,
        "kafka connect error counted",
    )
    assert daemon.value("cdc_source_up", source="kafka:devstack") == 0
    assert daemon.value("cdc_connect_up", connect_cluster="devstack") == 1  # Connect is unaffected
    assert daemon.samples("cdc_schema_history_topic_ok") == []  # nothing judged without Kafka
    daemon.wait_for(
        lambda: daemon.value("cdc_alert_firing", alert="CdcSourceUnreadable", source="kafka:devstack") == 1,
        10,
        "CdcSourceUnreadable for kafka:devstack",
    )
