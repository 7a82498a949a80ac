"""Kafka source: the Kafka cluster a Connect cluster writes to, read with the AdminClient.

One source per Connect cluster whose config sets `kafka:` (name `kafka:<cluster>`, kind
`kafka`), polled every `kafka_interval`. Its `cdc_source_up` says whether the bootstrap
servers answer; its data are the schema history topics the Connect cluster's connectors name.

Per poll:
1. the connectors and their history topics from the Connect source's snapshot data (the last
   good one while Connect is unreadable); until Connect has polled once it is not ready;
2. one metadata request for *all* topics (a metadata request naming a topic may create it on
   brokers with auto-creation on, which would hide the very fault looked for), from which
   existence and partition counts come;
3. one DescribeConfigs request for at most MAX_TOPIC_CONFIGS_PER_POLL of the named topics that
   exist, those never read or read longest ago first, plus one broker's own settings for the
   defaults a topic does not report. Topics past the cap keep their last read verdicts and are
   counted stale.

Every request ends within the endpoint's `timeout`. A failed metadata request fails the poll
with a typed reason; a failed config read leaves the checks it feeds unknown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from cdc_watch.config import ConnectCluster, KafkaEndpoint
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.poller import NotReady
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.sources.connect.model import ConnectClusterState
from cdc_watch.sources.kafka.client import client_settings, describe
from cdc_watch.sources.kafka.history import BrokerView, judge
from cdc_watch.sources.kafka.model import Check, CheckResult, HistoryTopic, KafkaClusterState

log = logging.getLogger(__name__)

MAX_TOPIC_CONFIGS_PER_POLL = 100  # topics whose settings one poll reads; the rest wait their turn
MAX_TOPIC_NAME = 249  # Kafka's own limit: a longer name cannot exist
LIBRDKAFKA_LOG_LEVEL = 2  # syslog levels: critical and worse

_TIMEOUT = frozenset({KafkaError._TIMED_OUT, KafkaError._TIMED_OUT_QUEUE, KafkaError.REQUEST_TIMED_OUT})
_CONNECT = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.BROKER_NOT_AVAILABLE,
    }
)
_AUTH = frozenset(
    {
        KafkaError._AUTHENTICATION,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError.ILLEGAL_SASL_STATE,
        KafkaError.UNSUPPORTED_SASL_MECHANISM,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    }
)

AdminFactory = Callable[[dict[str, Any]], Any]


def reason_of(error: Any) -> ErrorReason:
    """The poll error reason of a librdkafka error (a KafkaError, or anything else: internal)."""
    if not isinstance(error, KafkaError):
        return ErrorReason.INTERNAL
    code = error.code()
    if code in _TIMEOUT:
        return ErrorReason.TIMEOUT
    if code in _CONNECT:
        return ErrorReason.CONNECT
    if code == KafkaError._SSL:
        return ErrorReason.TLS
    if code in _AUTH:
        return ErrorReason.AUTH
    return ErrorReason.QUERY  # the broker answered with an error


def failure(exc: BaseException, endpoint: KafkaEndpoint, what: str) -> SourceFailure:
    """A typed, safe failure of a Kafka request: librdkafka's error text names brokers and
    codes, never credentials; it is cut short all the same."""
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(error, KafkaError):
        detail = f"{error.name()}: {error.str()}"[:300]
        reason = reason_of(error)
    else:
        detail, reason = type(exc).__name__, ErrorReason.INTERNAL
    return SourceFailure(reason, f"{what} from {describe(endpoint)} failed: {detail}")


def history_topics(state: ConnectClusterState) -> dict[str, str]:
    """connector -> the Kafka topic it keeps its schema history in (only connectors naming one)."""
    named = {}
    for name, connector in state.connectors.items():
        topic = connector.settings.schema_history_topic if connector.settings is not None else ""
        if topic:
            named[name] = topic[: MAX_TOPIC_NAME + 1]  # one past the limit still reads as missing
    return named


def config_order(wanted: Mapping[str, str], previous: KafkaClusterState | None) -> list[str]:
    """Topics whose settings to read, those never read (or renamed) first, then the oldest read."""
    last_read: dict[str, float] = {}
    if previous is not None:
        for connector, topic in wanted.items():
            old = previous.history.get(connector)
            if old is not None and old.topic == topic and old.configs_read_at is not None:
                last_read[topic] = min(last_read.get(topic, old.configs_read_at), old.configs_read_at)
    topics = sorted(set(wanted.values()))
    return sorted(topics, key=lambda t: last_read.get(t, float("-inf")))


class KafkaSource:
    kind = "kafka"

    def __init__(self, cluster: ConnectCluster, admin_factory: AdminFactory | None = None):
        if cluster.kafka is None:
            raise ValueError(f"connect cluster {cluster.name} has no kafka section")
        self.cluster = cluster
        self.endpoint: KafkaEndpoint = cluster.kafka
        self.name = f"kafka:{cluster.name}"
        self.interval = cluster.kafka_interval
        self._factory: AdminFactory = admin_factory or AdminClient
        self._admin: Any = None

    def close(self) -> None:
        self._admin = None  # librdkafka's handle is destroyed with the object

    def _client(self) -> Any:
        if self._admin is None:
            # librdkafka logs every reconnect attempt at error level (about 10 a second at first
            # while a broker is down); the poll's own typed failure says it once, so only its
            # critical lines are kept.
            self._admin = self._factory(client_settings(self.endpoint, log_level=LIBRDKAFKA_LOG_LEVEL))
        return self._admin

    def poll(self, snapshot: Snapshot | None) -> KafkaClusterState:
        connect_source = f"connect:{self.cluster.name}"
        status = snapshot.sources.get(connect_source) if snapshot is not None else None
        if snapshot is None or status is None or status.last is None:
            raise NotReady()  # the Connect source has not polled yet: wait for it
        state = snapshot.data(connect_source) or snapshot.last_good(connect_source)
        # No Connect poll succeeded yet: nothing to check, but the broker is still tried.
        wanted = history_topics(state) if isinstance(state, ConnectClusterState) else {}
        previous = snapshot.last_good(self.name)
        previous = previous if isinstance(previous, KafkaClusterState) else None
        view, read_at = self.read(wanted, previous)
        return self.build(wanted, view, read_at, previous)

    def read(self, wanted: Mapping[str, str], previous: KafkaClusterState | None) -> tuple[BrokerView, float]:
        """What the broker says of the named topics (the I/O half of a poll)."""
        admin = self._client()
        try:
            return self._read(admin, wanted, previous)
        finally:
            # librdkafka queues its log lines (reconnect attempts while the broker is down)
            # until the client is polled: serve them every poll so the queue never grows.
            admin.poll(0)

    def _read(
        self, admin: Any, wanted: Mapping[str, str], previous: KafkaClusterState | None
    ) -> tuple[BrokerView, float]:
        timeout = self.endpoint.timeout
        try:
            metadata = admin.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise failure(exc, self.endpoint, "listing topics") from None
        partitions = {name: len(topic.partitions) for name, topic in metadata.topics.items()}
        order = [t for t in config_order(wanted, previous) if t in partitions][:MAX_TOPIC_CONFIGS_PER_POLL]
        read_at = time.time()
        configs: dict[str, Mapping[str, str]] = {}
        broker_configs: Mapping[str, str] | None = None
        if order and metadata.brokers:
            broker_id = metadata.controller_id if metadata.controller_id in metadata.brokers else min(metadata.brokers)
            configs, broker_configs = self._describe(admin, order, broker_id)
        view = BrokerView(
            cluster_id=metadata.cluster_id or "",
            brokers=len(metadata.brokers),
            partitions=partitions,
            configs=configs,
            broker_configs=broker_configs,
        )
        return view, read_at

    def _describe(
        self, admin: Any, topics: Sequence[str], broker_id: int
    ) -> tuple[dict[str, Mapping[str, str]], Mapping[str, str] | None]:
        timeout = self.endpoint.timeout
        broker = ConfigResource(ResourceType.BROKER, str(broker_id))
        resources = [ConfigResource(ResourceType.TOPIC, t) for t in topics] + [broker]
        try:
            futures = admin.describe_configs(resources, request_timeout=timeout)
        except KafkaException as exc:
            log.warning(
                "reading topic settings failed",
                extra=_log_extra(self.name, failure(exc, self.endpoint, "reading topic settings")),
            )
            return {}, None
        deadline = time.monotonic() + timeout + 1.0
        configs: dict[str, Mapping[str, str]] = {}
        broker_configs: Mapping[str, str] | None = None
        failed: list[SourceFailure] = []
        for resource, future in futures.items():
            try:
                entries = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # KafkaException, or the wait running out
                failed.append(failure(exc, self.endpoint, f"reading the settings of {resource.name}"))
                continue
            values = MappingProxyType(
                {k: e.value for k, e in entries.items() if isinstance(k, str) and isinstance(e.value, str)}
            )
            if resource.restype == ResourceType.BROKER:
                broker_configs = values
            else:
                configs[resource.name] = values
        if failed:
            log.warning(
                "reading topic settings failed",
                extra={"source": self.name, "failed": len(failed), "error": failed[0].message},
            )
        return configs, broker_configs

    def build(
        self,
        wanted: Mapping[str, str],
        view: BrokerView,
        read_at: float,
        previous: KafkaClusterState | None,
    ) -> KafkaClusterState:
        """The poll's result from what was read (pure): fresh existence and partitions for
        every connector; retention and cleanup from this read, else the last one."""
        history: dict[str, HistoryTopic] = {}
        stale = set()
        for connector, topic in sorted(wanted.items()):
            if topic in view.configs:
                history[connector] = judge(connector, topic, view, view.configs[topic], read_at)
                continue
            topic_now = judge(connector, topic, view, None)
            old = previous.history.get(connector) if previous is not None else None
            if topic_now.partitions is not None:
                stale.add(connector)
                if old is not None and old.topic == topic and old.configs_read_at is not None:
                    kept: dict[Check, CheckResult] = {
                        c.check: c for c in old.checks if c.check in (Check.RETENTION, Check.CLEANUP_POLICY)
                    }
                    checks = tuple(kept.get(c.check, c) for c in topic_now.checks)
                    topic_now = HistoryTopic(connector, topic, checks, topic_now.partitions, old.configs_read_at)
            history[connector] = topic_now
        return KafkaClusterState(
            cluster=self.cluster.name,
            kafka_cluster_id=view.cluster_id,
            brokers=view.brokers,
            topics=len(view.partitions),
            history=MappingProxyType(history),
            stale=frozenset(stale),
            broker_defaults=bool(view.broker_configs),
        )


def _log_extra(source: str, failed: SourceFailure) -> dict[str, str]:
    return {"source": source, "reason": str(failed.reason), "error": failed.message}
