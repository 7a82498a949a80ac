"""Schema history topic checks: the pure judgments, the Kafka source over the AdminClient
replies recorded from the devstack broker (tests/fixtures/kafka/), and the rule on top."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import ConfigResource, ResourceType

from cdc_watch.app import build_sources
from cdc_watch.config import Config, ConnectCluster, RulesConfig
from cdc_watch.core.model import ErrorReason, PollResult, SourceError, SourceFailure, SourceStatus
from cdc_watch.core.poller import NotReady
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import MetricsWriter
from cdc_watch.exporter.schema_history import schema_history_metrics
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertState, Phase
from cdc_watch.sources.connect import parse
from cdc_watch.sources.connect.model import ConnectClusterState, ConnectorSettings, ConnectorStatus, State
from cdc_watch.sources.kafka import poll as kafka_poll
from cdc_watch.sources.kafka.history import LONG_MAX, BrokerView, cleanup_policy, judge, retention
from cdc_watch.sources.kafka.model import Check, KafkaClusterState
from cdc_watch.sources.kafka.poll import KafkaSource, reason_of

RECORDED = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "kafka" / "tansu-0.6.0.json").read_text())
CLUSTER = ConnectCluster.model_validate(
    {"name": "prod", "urls": ["http://w1:8083"], "kafka": {"bootstrap_servers": "127.0.0.1:9", "timeout": "2s"}}
)

# --------------------------------------------------------------------------- the judgments

SAFE = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@pytest.mark.parametrize(
    ("topic", "broker", "ok", "says"),
    [
        ({"retention.ms": "-1", "retention.bytes": "-1"}, None, True, "retention.ms=-1 (topic)"),
        ({"retention.ms": str(LONG_MAX), "retention.bytes": "-1"}, None, True, "9223372036854775807"),
        ({"retention.ms": "604800000", "retention.bytes": "-1"}, None, False, "retention.ms=604800000 (topic)"),
        ({"retention.ms": "-1", "retention.bytes": "1073741824"}, None, False, "retention.bytes=1073741824"),
        # finite time retention is bad whatever the size says (even when the size is unknown)
        ({"retention.ms": "604800000"}, None, False, "retention.ms=604800000"),
        # unlimited time, size not reported anywhere: cannot tell
        ({"retention.ms": "-1"}, None, None, "retention.bytes not reported"),
        ({"retention.ms": "-1"}, {}, None, "retention.bytes not reported"),
        ({}, None, None, "retention.ms not reported"),
        # the broker's defaults stand in for settings the topic does not report
        (
            {},
            {"log.retention.hours": "168", "log.retention.bytes": "-1"},
            False,
            "log.retention.hours=168 (broker default)",
        ),
        (
            {},
            {"log.retention.ms": "-1", "log.retention.hours": "168", "log.retention.bytes": "-1"},
            True,
            "log.retention.ms=-1",
        ),
        (
            {},
            {"log.retention.minutes": "-1", "log.retention.hours": "168", "log.retention.bytes": "-1"},
            True,
            "minutes=-1",
        ),
        ({"retention.ms": "-1"}, {"log.retention.bytes": "5000"}, False, "log.retention.bytes=5000 (broker default)"),
        # the topic's own setting wins over the broker's
        ({"retention.ms": "-1", "retention.bytes": "-1"}, {"log.retention.hours": "168"}, True, "(topic)"),
        ({"retention.ms": "soon", "retention.bytes": "-1"}, None, None, "retention.ms=soon"),
    ],
)
def test_retention(topic: dict, broker: dict | None, ok: bool | None, says: str) -> None:
    result = retention(topic, broker)
    assert result.check is Check.RETENTION
    assert result.ok is ok
    assert says in result.found


@pytest.mark.parametrize(
    ("topic", "broker", "ok"),
    [
        ({"cleanup.policy": "delete"}, None, True),
        ({"cleanup.policy": "compact"}, None, False),
        ({"cleanup.policy": "compact,delete"}, None, False),
        ({"cleanup.policy": " Delete "}, None, True),
        ({}, None, None),
        ({}, {}, None),
        ({}, {"log.cleanup.policy": "delete"}, True),
        ({}, {"log.cleanup.policy": "compact"}, False),
        ({"cleanup.policy": "delete"}, {"log.cleanup.policy": "compact"}, True),
    ],
)
def test_cleanup_policy(topic: dict, broker: dict | None, ok: bool | None) -> None:
    assert cleanup_policy(topic, broker).ok is ok


def _view(partitions: dict[str, int], broker: dict | None = None) -> BrokerView:
    return BrokerView("kc", 1, partitions, {}, broker)


def test_a_missing_topic_has_only_its_exists_check() -> None:
    topic = judge("orders", "schema-history.orders", _view({"other": 1}), None)
    assert [(c.check, c.ok) for c in topic.checks] == [(Check.EXISTS, False)]
    assert topic.partitions is None and topic.ok is False


def test_several_partitions_fail_even_with_safe_settings() -> None:
    topic = judge("orders", "h", _view({"h": 3}), SAFE)
    assert {c.check: c.ok for c in topic.checks} == {
        Check.EXISTS: True,
        Check.PARTITIONS: False,
        Check.RETENTION: True,
        Check.CLEANUP_POLICY: True,
    }
    assert topic.ok is False


def test_unread_settings_leave_retention_and_cleanup_unknown() -> None:
    topic = judge("orders", "h", _view({"h": 1}), None)
    assert topic.ok is None
    assert topic.result(Check.RETENTION).ok is None  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the source


class FakeAdmin:
    """Replays the recorded broker; asserts every DescribeConfigs names only topics it was
    expected to (the connectors' topics that exist) plus one broker, and counts requests."""

    def __init__(self, recorded: dict[str, Any], fail: KafkaError | None = None):
        self.recorded = recorded
        self.fail = fail
        self.described: list[list[tuple[str, str]]] = []
        self.timeouts: list[float] = []
        self.served = 0  # poll(0) calls: librdkafka's queued log lines served

    def poll(self, timeout: float) -> int:
        assert timeout == 0
        self.served += 1
        return 0

    def list_topics(self, timeout: float) -> Any:
        self.timeouts.append(timeout)
        if self.fail is not None:
            raise KafkaException(self.fail)
        rec = self.recorded
        topics = {n: SimpleNamespace(partitions=dict.fromkeys(range(p))) for n, p in rec["topics"].items()}
        return SimpleNamespace(
            topics=topics,
            brokers={b: object() for b in rec["brokers"]},
            controller_id=rec["controller_id"],
            cluster_id=rec["cluster_id"],
        )

    def describe_configs(self, resources: list[ConfigResource], request_timeout: float) -> dict:
        self.timeouts.append(request_timeout)
        asked = []
        out = {}
        for resource in resources:
            kind = "broker" if resource.restype == ResourceType.BROKER else "topic"
            asked.append((kind, resource.name))
            reply = self.recorded["describe_configs"][f"{kind}:{resource.name}"]
            entries = {k: SimpleNamespace(value=v) for k, v in reply.items()}
            out[resource] = SimpleNamespace(result=lambda timeout, entries=entries: entries)
        self.described.append(asked)
        return out


def _connect(topics: dict[str, str]) -> ConnectClusterState:
    connectors = {
        name: ConnectorStatus(
            name,
            "source",
            State.RUNNING,
            "w1:8083",
            (),
            ConnectorSettings("io.debezium.connector.mysql.MySqlConnector", name, schema_history_topic=topic),
        )
        for name, topic in topics.items()
    }
    connectors["sink"] = ConnectorStatus("sink", "sink", State.RUNNING, "w1:8083", (), ConnectorSettings("x.Sink"))
    return ConnectClusterState("prod", "http://w1:8083", "3.9.0", "c", "kc", MappingProxyType(connectors))


def _snapshot(connect: ConnectClusterState | None, kafka: KafkaClusterState | SourceError | None = None) -> Snapshot:
    sources = {}
    if connect is not None:
        sources["connect:prod"] = SourceStatus("connect:prod", "connect").with_result(
            PollResult("connect:prod", "connect", 100.0, 0.1, data=connect)
        )
    if kafka is not None:
        result = (
            PollResult("kafka:prod", "kafka", 100.0, 0.1, error=kafka)
            if isinstance(kafka, SourceError)
            else PollResult("kafka:prod", "kafka", 100.0, 0.1, data=kafka)
        )
        sources["kafka:prod"] = SourceStatus("kafka:prod", "kafka").with_result(result)
    return Snapshot(MappingProxyType(sources))


TOPICS = {
    "safe": "rec-history-safe",
    "finite": "rec-history-finite",
    "compact": "rec-history-compact",
    "partitions": "rec-history-partitions",
    "debezium": "schema-history.dbserver1.connect-3.9",
    "missing": "rec-history-never-created",
}


def test_recorded_broker_replies_judged_per_connector() -> None:
    admin = FakeAdmin(RECORDED)
    source = KafkaSource(CLUSTER, admin_factory=lambda _settings: admin)
    state = source.poll(_snapshot(_connect(TOPICS)))
    verdicts = {name: {c.check.value: c.ok for c in t.checks} for name, t in state.history.items()}
    assert verdicts == {
        "safe": {"exists": True, "partitions": True, "retention": True, "cleanup_policy": True},
        "debezium": {"exists": True, "partitions": True, "retention": True, "cleanup_policy": True},
        # tansu reports only explicit settings and no broker defaults: the size limit is unknown,
        # but a finite time limit is enough to fail
        "finite": {"exists": True, "partitions": True, "retention": False, "cleanup_policy": True},
        "compact": {"exists": True, "partitions": True, "retention": True, "cleanup_policy": False},
        "partitions": {"exists": True, "partitions": False, "retention": None, "cleanup_policy": None},
        "missing": {"exists": False},
    }
    assert "sink" not in state.history  # names no history topic
    assert state.stale == frozenset() and state.broker_defaults is False
    # one DescribeConfigs: only the named topics that exist, and the broker for its defaults
    assert admin.described == [
        [("topic", t) for t in sorted(set(TOPICS.values()) - {"rec-history-never-created"})] + [("broker", "111")]
    ]
    assert admin.timeouts == [2.0, 2.0]  # the endpoint's timeout bounds each request
    assert admin.served == 1


def test_the_client_is_built_once_from_the_endpoint_settings() -> None:
    built: list[dict] = []
    admin = FakeAdmin(RECORDED)
    source = KafkaSource(CLUSTER, admin_factory=lambda settings: built.append(settings) or admin)
    for _ in range(2):
        source.poll(_snapshot(_connect({"safe": "rec-history-safe"})))
    assert len(built) == 1
    assert built[0]["bootstrap.servers"] == "127.0.0.1:9" and built[0]["socket.timeout.ms"] == 2000
    assert built[0]["log_level"] == 2


def test_metrics_and_the_rule_over_the_recorded_replies() -> None:
    admin = FakeAdmin(RECORDED)
    state = KafkaSource(CLUSTER, admin_factory=lambda _s: admin).poll(_snapshot(_connect(TOPICS)))
    out = MetricsWriter()
    schema_history_metrics(_snapshot(None, state), out)
    text = out.render().decode()
    assert 'cdc_schema_history_topic_ok{connect_cluster="prod",connector="finite",check="retention"} 0' in text
    assert 'cdc_schema_history_topic_ok{connect_cluster="prod",connector="compact",check="cleanup_policy"} 0' in text
    assert 'cdc_schema_history_topic_ok{connect_cluster="prod",connector="missing",check="exists"} 0' in text
    assert 'connector="missing",check="partitions"' not in text
    assert 'connector="partitions",check="retention"' not in text  # unknown: no sample
    assert 'cdc_schema_history_topic_partitions{connect_cluster="prod",connector="partitions"} 3' in text
    assert 'cdc_schema_history_topic_info{connect_cluster="prod",connector="safe",topic="rec-history-safe"} 1' in text
    cfg = RulesConfig.model_validate({"overrides": {"CdcSchemaHistoryTopicUnsafe": {"for": "0s"}}})
    alerts, _ = rules.evaluate(AlertState(), _snapshot(_connect(TOPICS), state), 100.0, cfg)
    firing = {
        e.key.label("connector"): e for e in alerts.entries.values() if e.key.alert == "CdcSchemaHistoryTopicUnsafe"
    }
    assert set(firing) == {"finite", "compact", "partitions", "missing"}
    assert ("retention", "retention.ms=604800000 (topic)") in firing["finite"].evidence.facts
    assert ("topic", "rec-history-finite") in firing["finite"].evidence.facts


def test_kafka_down_fails_typed_and_the_rule_holds() -> None:
    admin = FakeAdmin(RECORDED, fail=KafkaError(KafkaError._TRANSPORT, "Connect to ipv4#127.0.0.1:9 failed"))
    source = KafkaSource(CLUSTER, admin_factory=lambda _s: admin)
    with pytest.raises(SourceFailure) as raised:
        source.poll(_snapshot(_connect(TOPICS)))
    assert raised.value.reason is ErrorReason.CONNECT
    assert admin.served == 1  # a failed poll serves the client's queued log lines too
    assert "listing topics from kafka 127.0.0.1:9 PLAINTEXT failed: _TRANSPORT" in raised.value.message
    # a firing alert is held while the source is unreadable, and CdcSourceUnreadable takes over
    cfg = RulesConfig.model_validate({"overrides": {"CdcSchemaHistoryTopicUnsafe": {"for": "0s"}}})
    good = KafkaSource(CLUSTER, admin_factory=lambda _s: FakeAdmin(RECORDED)).poll(_snapshot(_connect(TOPICS)))
    state, _ = rules.evaluate(AlertState(), _snapshot(_connect(TOPICS), good), 100.0, cfg)
    down = SourceError(raised.value.reason, raised.value.message)
    for now in (200.0, 100_000.0):  # long past vanished_after and keep_firing_for
        state, transitions = rules.evaluate(state, _snapshot(_connect(TOPICS), down), now, cfg)
        assert not [t for t in transitions if t.entry.key.alert == "CdcSchemaHistoryTopicUnsafe"]
    held = {e.key.label("connector") for e in state.entries.values() if e.key.alert == "CdcSchemaHistoryTopicUnsafe"}
    assert held == {"finite", "compact", "partitions", "missing"}
    unreadable = [e for e in state.entries.values() if e.key.alert == "CdcSourceUnreadable"]
    assert [e.key.label("source") for e in unreadable] == ["kafka:prod"] and unreadable[0].phase is Phase.FIRING


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (KafkaError._TIMED_OUT, ErrorReason.TIMEOUT),
        (KafkaError._TRANSPORT, ErrorReason.CONNECT),
        (KafkaError._ALL_BROKERS_DOWN, ErrorReason.CONNECT),
        (KafkaError._RESOLVE, ErrorReason.CONNECT),
        (KafkaError._SSL, ErrorReason.TLS),
        (KafkaError.SASL_AUTHENTICATION_FAILED, ErrorReason.AUTH),
        (KafkaError.CLUSTER_AUTHORIZATION_FAILED, ErrorReason.AUTH),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, ErrorReason.QUERY),
    ],
)
def test_error_reasons(code: int, reason: ErrorReason) -> None:
    assert reason_of(KafkaError(code)) is reason


def test_not_ready_before_connect_polled_and_broker_tried_before_connect_answered() -> None:
    admin = FakeAdmin(RECORDED)
    source = KafkaSource(CLUSTER, admin_factory=lambda _s: admin)
    with pytest.raises(NotReady):
        source.poll(Snapshot())
    failed = SourceStatus("connect:prod", "connect").with_result(
        PollResult("connect:prod", "connect", 1.0, 0.1, error=SourceError(ErrorReason.CONNECT, "refused"))
    )
    state = source.poll(Snapshot(MappingProxyType({"connect:prod": failed})))
    assert state.history == {} and state.topics == len(RECORDED["topics"])  # reachability still known
    assert admin.described == []  # nothing named: no DescribeConfigs


def test_topic_settings_read_at_most_the_cap_per_poll_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_poll, "MAX_TOPIC_CONFIGS_PER_POLL", 2)
    named = {"a": "rec-history-safe", "b": "rec-history-finite", "c": "rec-history-compact"}
    admin = FakeAdmin(RECORDED)
    source = KafkaSource(CLUSTER, admin_factory=lambda _s: admin)
    first = source.poll(_snapshot(_connect(named)))
    assert [t for _, t in admin.described[0][:-1]] == ["rec-history-compact", "rec-history-finite"]
    assert first.stale == frozenset({"a"})
    assert first.history["a"].result(Check.RETENTION).ok is None  # type: ignore[union-attr]
    assert first.history["a"].result(Check.PARTITIONS).ok is True  # type: ignore[union-attr]
    second = source.poll(_snapshot(_connect(named), first))
    assert admin.described[1][0] == ("topic", "rec-history-safe")  # never read: first in line
    assert second.history["a"].ok is True
    # the one not read this time keeps the verdicts of its last read
    (kept,) = second.stale
    assert second.history[kept].checks == first.history[kept].checks


def test_history_topic_kept_from_connector_config_by_version() -> None:
    base = {"connector.class": "io.debezium.connector.mysql.MySqlConnector", "database.password": "x"}
    assert parse.parse_settings({**base, "schema.history.internal.kafka.topic": "h2"}).schema_history_topic == "h2"  # type: ignore[union-attr]
    assert parse.parse_settings({**base, "database.history.kafka.topic": "h1"}).schema_history_topic == "h1"  # type: ignore[union-attr]
    file_store = {
        **base,
        "schema.history.internal": "io.debezium.storage.file.history.FileSchemaHistory",
        "schema.history.internal.kafka.topic": "left-over",
    }
    assert parse.parse_settings(file_store).schema_history_topic == ""  # type: ignore[union-attr]
    assert parse.parse_settings(base).schema_history_topic == ""  # type: ignore[union-attr]


def test_a_kafka_source_only_for_clusters_that_name_kafka() -> None:
    config = Config.model_validate(
        {
            "connect_clusters": [
                {"name": "a", "urls": ["http://a:8083"], "kafka": {"bootstrap_servers": "k:9092"}},
                {"name": "b", "urls": ["http://b:8083"]},
            ]
        }
    )
    kafka = [(s.name, s.kind, s.interval) for s in build_sources(config) if s.kind == "kafka"]
    assert kafka == [("kafka:a", "kafka", 60.0)]


def test_without_any_connect_poll_the_alert_is_held_not_resolved() -> None:
    cfg = RulesConfig.model_validate({"overrides": {"CdcSchemaHistoryTopicUnsafe": {"for": "0s"}}})
    good = KafkaSource(CLUSTER, admin_factory=lambda _s: FakeAdmin(RECORDED)).poll(_snapshot(_connect(TOPICS)))
    state, _ = rules.evaluate(AlertState(), _snapshot(_connect(TOPICS), good), 100.0, cfg)
    assert len([e for e in state.entries.values() if e.key.alert == "CdcSchemaHistoryTopicUnsafe"]) == 4
    # a restarted daemon whose Connect poll failed: the Kafka poll names no connector at all
    failed = SourceStatus("connect:prod", "connect").with_result(
        PollResult("connect:prod", "connect", 1.0, 0.1, error=SourceError(ErrorReason.CONNECT, "refused"))
    )
    empty = KafkaSource(CLUSTER, admin_factory=lambda _s: FakeAdmin(RECORDED)).poll(
        Snapshot(MappingProxyType({"connect:prod": failed}))
    )
    kafka = SourceStatus("kafka:prod", "kafka").with_result(PollResult("kafka:prod", "kafka", 1.0, 0.1, data=empty))
    blind = Snapshot(MappingProxyType({"connect:prod": failed, "kafka:prod": kafka}))
    state, transitions = rules.evaluate(state, blind, 100_000.0, cfg)  # long past vanished_after
    assert not [t for t in transitions if t.entry.key.alert == "CdcSchemaHistoryTopicUnsafe"]
    assert len([e for e in state.entries.values() if e.key.alert == "CdcSchemaHistoryTopicUnsafe"]) == 4


def test_a_failure_names_the_sasl_user_never_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDC_TEST_KAFKA_PW", "s3cret-kafka-pw")
    cluster = ConnectCluster.model_validate(
        {
            "name": "prod",
            "urls": ["http://w1:8083"],
            "kafka": {
                "bootstrap_servers": "k1:9092",
                "sasl": {"username": "cdc-watch", "password": "${CDC_TEST_KAFKA_PW}"},
            },
        }
    )
    error = KafkaError(KafkaError.SASL_AUTHENTICATION_FAILED, "Authentication failed during authentication")
    built: list[dict] = []
    source = KafkaSource(cluster, admin_factory=lambda s: built.append(s) or FakeAdmin(RECORDED, fail=error))
    with pytest.raises(SourceFailure) as raised:
        source.poll(_snapshot(_connect(TOPICS)))
    assert raised.value.reason is ErrorReason.AUTH
    assert "as cdc-watch" in raised.value.message and "s3cret" not in raised.value.message
    assert built[0]["sasl.password"] == "s3cret-kafka-pw"  # it goes to the client only
