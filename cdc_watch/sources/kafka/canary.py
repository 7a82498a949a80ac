"""The freshness canary: proves end to end that a connector's changes reach Kafka.

One source per database with a `canary` section (`canary:<database>`). Each poll is one probe
round, done within the canary's `timeout`:

1. plan: the connectors read from this database (matched as the binlog checks match them) whose
   cluster has a `kafka` section, that the canary's patterns select, at most `max_connectors`;
   a connector whose last Connect poll does not show it and every task RUNNING is skipped;
2. just before writing, each connector's status is read again from Connect REST, so a connector
   paused or stopped since the last Connect poll is not written for (the window left is one
   REST round trip);
3. the consumer of each Kafka cluster is assigned the probe topics at their current ends;
4. one row per connector is upserted into the canary table with a fresh random token (so the
   table never holds more than one row per probed connector);
5. the topics are read until every token was seen or the timeout passed: a token seen is a
   successful probe, with the time from the write's commit to the record's arrival as latency.

Nothing is committed to Kafka and no consumer group is joined (partitions are assigned by hand).
The messages read per round are bounded by time (the timeout) and librdkafka's prefetch queue
(`queued.max.messages.kbytes`). A round that cannot reach the database, Kafka or the table
fails as a whole with a typed error (the canary alert is then held and CdcSourceUnreadable
names the reason).
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import httpx
import pymysql

from cdc_watch.config import Canary, ConnectCluster, Database
from cdc_watch.core.clock import Clock, SystemClock
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.poller import NotReady
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.sources.connect.model import ConnectClusterState, ConnectorStatus, State
from cdc_watch.sources.http import build_client, request_json
from cdc_watch.sources.kafka.client import client_settings, describe
from cdc_watch.sources.mysql import parse as mysql_parse
from cdc_watch.sources.mysql.matching import DatabaseMatcher
from cdc_watch.sources.mysql.model import Endpoint
from cdc_watch.sources.mysql.poll import describe_error, endpoint_of, open_connection

log = logging.getLogger(__name__)

KIND = "canary"
OUTCOMES = ("ok", "lost", "skipped")
# librdkafka's prefetch queue per consumer, in KiB: what one round may hold of the probe topics
# before it looks at them.
QUEUE_KIB = 16 * 1024
METADATA_RETRY_SECONDS = 1.0  # a probe topic not there yet (the first row makes it) is looked up again
CONSUME_BATCH = 500
MAX_REASON = 120
MAX_ROWS_READ = 10_000  # rows of the canary table read at the first round, to clean up after an earlier run


@dataclass(frozen=True, slots=True)
class Target:
    """One connector to probe this round."""

    cluster: str
    connector: str
    topic: str
    worker_url: str


@dataclass(frozen=True, slots=True)
class Plan:
    targets: tuple[Target, ...]
    skipped: Mapping[tuple[str, str], str]  # (cluster, connector) -> why no probe
    blind_clusters: frozenset[str]  # clusters whose Connect poll failed: no verdict on their connectors


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One connector's canary after a round. `active_since`: when the current run of probes
    began (the reference for staleness before the first success)."""

    cluster: str
    connector: str
    topic: str
    outcome: str  # ok | lost | skipped
    reason: str = ""  # why skipped or lost
    latency: float | None = None  # seconds, of the last successful probe
    last_success_at: float | None = None  # wall clock
    active_since: float | None = None  # wall clock; None while skipped
    totals: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def active(self) -> bool:
        return self.outcome != "skipped"

    @property
    def fresh_since(self) -> float | None:
        """What staleness is measured from: the last success, or the start of the current run of
        probes when that is later (a connector resumed after a pause is judged from then)."""
        if not self.active:
            return None
        times = [t for t in (self.last_success_at, self.active_since) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True, slots=True)
class CanaryState:
    database: str
    table: str
    probes: Mapping[tuple[str, str], ProbeResult]
    blind: frozenset[tuple[str, str]] = frozenset()
    rows_deleted: int = 0


# --------------------------------------------------------------------------- planning (pure)


def selected(canary: Canary, cluster: str, connector: str) -> bool:
    return any(
        fnmatch.fnmatchcase(connector, p) or fnmatch.fnmatchcase(f"{cluster}/{connector}", p) for p in canary.connectors
    )


def topic_of(canary: Canary, topic_prefix: str) -> str:
    return canary.topic.format(topic_prefix=topic_prefix, schema=canary.schema_name, table=canary.table_name)


def not_running(connector: ConnectorStatus) -> str | None:
    """Why a connector is not probed, from its status; None when it and all its tasks run."""
    if connector.state is not State.RUNNING:
        return f"connector {connector.state.value}"
    if not connector.tasks:
        return "no tasks"
    for task in connector.tasks:
        if task.state is not State.RUNNING:
            return f"task {task.id} {task.state.value}"
    return None


def plan_round(
    canary: Canary,
    database: str,
    endpoints: Iterable[Endpoint],
    clusters: Iterable[ConnectCluster],
    snapshot: Snapshot,
) -> Plan:
    """Which connectors this round probes, which it skips and why, and which it cannot judge."""
    matcher = DatabaseMatcher(list(endpoints))
    targets: list[Target] = []
    skipped: dict[tuple[str, str], str] = {}
    blind: set[str] = set()
    for cluster in clusters:
        if cluster.kafka is None:
            continue
        state = snapshot.data(f"connect:{cluster.name}")
        if not isinstance(state, ConnectClusterState):
            # Connect unreadable: nothing is written, and the connectors of the last probe
            # round keep their verdicts (held by the rule).
            blind.add(cluster.name)
            continue
        for connector in state.connectors.values():
            key = (cluster.name, connector.name)
            if matcher.assign(cluster.name, connector.name, connector.settings) != database:
                continue
            if not selected(canary, cluster.name, connector.name):
                continue
            settings = connector.settings
            if settings is None or not settings.topic_prefix:
                skipped[key] = "no topic.prefix in its config"
                continue
            why = not_running(connector)
            if why is not None:
                skipped[key] = why
                continue
            if len(targets) >= canary.max_connectors:
                skipped[key] = f"over max_connectors ({canary.max_connectors})"
                continue
            targets.append(
                Target(cluster.name, connector.name, topic_of(canary, settings.topic_prefix), state.worker_url)
            )
    return Plan(tuple(targets), MappingProxyType(skipped), frozenset(blind))


def new_token() -> str:
    return f"cdcw-{secrets.token_hex(16)}"


def found_tokens(values: Iterable[bytes | None], pending: Mapping[bytes, Any]) -> list[bytes]:
    """The pending tokens that occur in any of the record values."""
    seen = []
    for value in values:
        if not value:
            continue
        for token in pending:
            if token in value and token not in seen:
                seen.append(token)
    return seen


# --------------------------------------------------------------------------- the source

StatusReader = Callable[[ConnectCluster, str, str, float], str | None]


class CanarySource:
    """Probes the connectors of one database (see the module docstring)."""

    kind = KIND

    def __init__(
        self,
        db: Database,
        clusters: Iterable[ConnectCluster],
        endpoints: Iterable[Endpoint] | None = None,
        clock: Clock | None = None,
        transport_for: Callable[[str], httpx.BaseTransport | None] | None = None,
    ):
        if db.canary is None:
            raise ValueError(f"database {db.name} has no canary section")
        self.db = db
        self.canary: Canary = db.canary
        self.name = f"{KIND}:{db.name}"
        self.interval = self.canary.interval
        self.clusters = tuple(clusters)
        self.endpoints = tuple(endpoints) if endpoints is not None else (endpoint_of(db),)
        self.clock = clock or SystemClock()
        self._transport_for = transport_for or (lambda _name: None)
        self._conn: Any = None
        self._consumers: dict[str, Any] = {}
        self._http: dict[str, httpx.Client] = {}
        self._active_since: dict[tuple[str, str], float] = {}
        self._last_success: dict[tuple[str, str], tuple[float, float]] = {}  # -> (at, latency)
        self._totals: dict[tuple[str, str], Counter[str]] = {}
        self._probed: set[tuple[str, str]] = set()  # keys that have a row in the table
        self._known_rows: set[str] | None = None  # probe keys in the table, read on the first round
        self._last: CanaryState | None = None

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        for consumer in self._consumers.values():
            with contextlib.suppress(Exception):
                consumer.close()
        self._consumers.clear()
        for client in self._http.values():
            with contextlib.suppress(Exception):
                client.close()
        self._http.clear()

    # ------------------------------------------------------------------ poll
    def poll(self, snapshot: Snapshot) -> CanaryState:
        polled = [snapshot.sources.get(f"connect:{c.name}") for c in self.clusters if c.kafka is not None]
        if not any(status is not None and status.last is not None for status in polled):
            raise NotReady("no Connect poll yet")
        deadline = time.monotonic() + self.canary.timeout
        plan = plan_round(self.canary, self.db.name, self.endpoints, self.clusters, snapshot)
        skipped = dict(plan.skipped)
        held: set[tuple[str, str]] = set()
        targets: list[Target] = []
        for target in plan.targets:
            key = (target.cluster, target.connector)
            why, readable = self._recheck(target, deadline)
            if not readable:
                held.add(key)  # not written, and no verdict: its status could not be read
            elif why is not None:
                skipped[key] = why
            else:
                targets.append(target)
        seen: dict[tuple[str, str], float] = {}
        lost: dict[tuple[str, str], str] = {}
        if targets:
            seen, lost = self._probe(targets, deadline)
        rows_deleted = self._forget_gone(snapshot)
        state = self._results(targets, skipped, seen, lost, plan.blind_clusters, held, rows_deleted)
        self._last = state
        return state

    def _results(
        self,
        targets: list[Target],
        skipped: Mapping[tuple[str, str], str],
        seen: Mapping[tuple[str, str], float],
        lost: Mapping[tuple[str, str], str],
        blind_clusters: frozenset[str],
        held: set[tuple[str, str]],
        rows_deleted: int,
    ) -> CanaryState:
        now = self.clock.now()
        probes: dict[tuple[str, str], ProbeResult] = {}
        blind: set[tuple[str, str]] = set()
        previous = self._last.probes if self._last is not None else {}
        for key, result in previous.items():
            if key[0] in blind_clusters or key in held:
                probes[key] = result  # Connect unreadable: the last verdict stands, held by the rule
                blind.add(key)
        for key in held - set(probes):
            blind.add(key)
        for target in targets:
            key = (target.cluster, target.connector)
            self._active_since.setdefault(key, now)
            totals = self._totals.setdefault(key, Counter())
            if key in seen:
                totals["ok"] += 1
                self._last_success[key] = (now, seen[key])
                outcome, reason = "ok", ""
            else:
                totals["lost"] += 1
                outcome, reason = "lost", lost.get(key, f"not on {target.topic} within {self.canary.timeout:g}s")
            at, latency = self._last_success.get(key, (None, None))
            probes[key] = ProbeResult(
                target.cluster,
                target.connector,
                target.topic,
                outcome,
                reason[:MAX_REASON],
                latency,
                at,
                self._active_since[key],
                MappingProxyType(dict(totals)),
            )
        for key, why in skipped.items():
            self._active_since.pop(key, None)
            totals = self._totals.setdefault(key, Counter())
            totals["skipped"] += 1
            at, latency = self._last_success.get(key, (None, None))
            topic = previous[key].topic if key in previous else ""
            probes[key] = ProbeResult(
                key[0], key[1], topic, "skipped", why[:MAX_REASON], latency, at, None, MappingProxyType(dict(totals))
            )
        for key in list(self._totals):
            if key not in probes and key not in blind:  # gone from Connect: forget it
                self._totals.pop(key, None)
                self._last_success.pop(key, None)
                self._active_since.pop(key, None)
        return CanaryState(self.db.name, self.canary.table, MappingProxyType(probes), frozenset(blind), rows_deleted)

    # ------------------------------------------------------------------ Connect REST
    def _recheck(self, target: Target, deadline: float) -> tuple[str | None, bool]:
        """The connector's state read again right before writing: (why not to probe or None,
        whether the status could be read at all)."""
        cluster = next(c for c in self.clusters if c.name == target.cluster)
        client = self._http.get(cluster.name)
        if client is None:
            client = self._http[cluster.name] = build_client(cluster, self._transport_for(f"canary:{cluster.name}"))
        where = f"connect {cluster.name} status of {target.connector}"
        request_deadline = min(deadline, time.monotonic() + cluster.timeout)
        try:
            reply = request_json(
                client,
                "GET",
                f"{target.worker_url.rstrip('/')}/connectors/{quote(target.connector, safe='')}/status",
                where,
                deadline=request_deadline,
                max_bytes=1 << 20,
            )
        except SourceFailure as exc:
            log.info(
                "canary: connector status not readable", extra={"connector": target.connector, "error": exc.message}
            )
            return None, False
        if reply.status_code == 404:
            return "connector deleted", True
        if reply.status_code != 200 or not isinstance(reply.body, dict):
            return None, False
        body: dict[str, Any] = reply.body
        connector = body["connector"] if isinstance(body.get("connector"), dict) else {}
        tasks = body["tasks"] if isinstance(body.get("tasks"), list) else []
        state = State.parse(connector.get("state"))
        if state is not State.RUNNING:
            return f"connector {state.value}", True
        if not tasks:
            return "no tasks", True
        for task in tasks:
            task_state = State.parse(task.get("state") if isinstance(task, dict) else None)
            if task_state is not State.RUNNING:
                task_id = task.get("id") if isinstance(task, dict) else "?"
                return f"task {task_id} {task_state.value}", True
        return None, True

    # ------------------------------------------------------------------ the probe
    def _probe(
        self, targets: list[Target], deadline: float
    ) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], str]]:
        from confluent_kafka import TopicPartition  # librdkafka loads only where a canary is set

        by_cluster: dict[str, list[Target]] = {}
        for target in targets:
            by_cluster.setdefault(target.cluster, []).append(target)
        missing: dict[str, set[str]] = {}  # cluster -> topics not there yet
        for cluster_name, cluster_targets in by_cluster.items():
            consumer = self._consumer(cluster_name)
            assignment = []
            with self._kafka_errors(cluster_name):
                for topic in sorted({t.topic for t in cluster_targets}):
                    partitions = self._partitions(consumer, topic, deadline)
                    if not partitions:
                        missing.setdefault(cluster_name, set()).add(topic)
                        continue
                    for partition in partitions:
                        _low, high = consumer.get_watermark_offsets(
                            TopicPartition(topic, partition), timeout=self._left(deadline), cached=False
                        )
                        assignment.append(TopicPartition(topic, partition, high))
                consumer.assign(assignment)
        written = self._write(targets)
        pending: dict[str, dict[bytes, tuple[tuple[str, str], float]]] = {}
        for target, (token, at) in zip(targets, written, strict=True):
            pending.setdefault(target.cluster, {})[token.encode()] = ((target.cluster, target.connector), at)
        seen: dict[tuple[str, str], float] = {}
        next_lookup = time.monotonic() + METADATA_RETRY_SECONDS
        while any(pending.values()) and time.monotonic() < deadline:
            wait = 0.2 / max(1, len(pending))
            for cluster_name, tokens in pending.items():
                if not tokens:
                    continue
                consumer = self._consumers[cluster_name]
                with self._kafka_errors(cluster_name):
                    messages = consumer.consume(CONSUME_BATCH, timeout=wait)
                arrived = time.monotonic()
                values = [m.value() for m in messages if m.error() is None]
                for found in found_tokens(values, tokens):
                    key, at = tokens.pop(found)
                    seen[key] = max(0.0, arrived - at)
            if missing and time.monotonic() >= next_lookup:
                next_lookup = time.monotonic() + METADATA_RETRY_SECONDS
                for cluster_name, topics in missing.items():
                    consumer = self._consumers[cluster_name]
                    with self._kafka_errors(cluster_name):
                        for topic in sorted(topics):
                            partitions = self._partitions(consumer, topic, deadline)
                            if partitions:
                                topics.discard(topic)
                                # The topic is new: everything in it came after the write.
                                consumer.incremental_assign([TopicPartition(topic, p, 0) for p in partitions])
                missing = {c: t for c, t in missing.items() if t}
        topic_of_key = {(t.cluster, t.connector): t.topic for t in targets}
        lost = {}
        for cluster_name, tokens in pending.items():
            for key, _at in tokens.values():
                topic = topic_of_key[key]
                lost[key] = (
                    f"topic {topic} does not exist"
                    if topic in missing.get(cluster_name, set())
                    else f"not on {topic} within {self.canary.timeout:g}s"
                )
        return seen, lost

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.1, deadline - time.monotonic())

    def _partitions(self, consumer: Any, topic: str, deadline: float) -> list[int]:
        metadata = consumer.list_topics(topic, timeout=self._left(deadline))
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            return []
        return sorted(found.partitions)

    @contextlib.contextmanager
    def _kafka_errors(self, cluster_name: str) -> Iterator[None]:
        """Broker calls inside fail the round with a typed error instead of a KafkaException."""
        from confluent_kafka import KafkaError, KafkaException

        try:
            yield
        except KafkaException as exc:
            # A fresh consumer next round: nothing of this one (its queued log lines, a broken
            # connection state) outlives a failed round.
            consumer = self._consumers.pop(cluster_name, None)
            if consumer is not None:
                with contextlib.suppress(Exception):
                    consumer.close()
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            code = error.code() if error is not None else None
            where = f"canary {self.db.name}: {describe(self._endpoint(cluster_name))}"
            if code in (KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT):
                raise SourceFailure(ErrorReason.TIMEOUT, f"{where}: timed out") from None
            if code in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE):
                raise SourceFailure(ErrorReason.CONNECT, f"{where}: broker not reachable") from None
            name = error.name() if error is not None else type(exc).__name__
            if code in (
                KafkaError.SASL_AUTHENTICATION_FAILED,
                KafkaError.TOPIC_AUTHORIZATION_FAILED,
                KafkaError._AUTHENTICATION,
            ):
                raise SourceFailure(ErrorReason.AUTH, f"{where}: {name}") from None
            raise SourceFailure(ErrorReason.INTERNAL, f"{where}: {name}") from None

    def _endpoint(self, cluster_name: str) -> Any:
        cluster = next(c for c in self.clusters if c.name == cluster_name)
        return cluster.kafka

    def _consumer(self, cluster_name: str) -> Any:
        consumer = self._consumers.get(cluster_name)
        if consumer is None:
            from confluent_kafka import Consumer

            settings = client_settings(
                self._endpoint(cluster_name),
                **{
                    # Required by librdkafka even for assigned partitions; never joined or committed.
                    "group.id": f"cdc-watch-canary-{self.db.name}",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "auto.offset.reset": "latest",
                    "queued.max.messages.kbytes": QUEUE_KIB,
                    "enable.partition.eof": False,
                    "allow.auto.create.topics": False,  # a probe topic is the connector's to create
                    # librdkafka's log lines wait in the consumer's queue until a consume call;
                    # only critical ones are kept (a round's failure is reported by the round).
                    "log_level": 2,
                },
            )
            consumer = self._consumers[cluster_name] = Consumer(settings)
        return consumer

    # ------------------------------------------------------------------ the database
    def _connect(self) -> Any:
        return open_connection(self.db, self.canary.user, self.canary.password, "cdc_watch_canary")

    def _table(self) -> str:
        return f"`{self.canary.schema_name}`.`{self.canary.table_name}`"

    def _sql(self, statement: str, args: Any = None) -> int:
        """Run one statement on the kept connection, reconnecting once if it was dropped."""
        return int(self._run(statement, args, fetch=False))

    def _sql_rows(self, statement: str) -> tuple[tuple[Any, ...], ...]:
        result: tuple[tuple[Any, ...], ...] = self._run(statement, None, fetch=True)
        return result

    def _run(self, statement: str, args: Any, fetch: bool) -> Any:
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = self._connect()
                with self._conn.cursor() as cursor:
                    count = cursor.execute(statement, args)
                    return tuple(cursor.fetchall()) if fetch else count
            except pymysql.err.MySQLError as exc:
                code = mysql_parse.mysql_error_code(exc)
                if attempt == 1 and (code in (2006, 2013, 2014, 2055) or self._conn is None):
                    self.close_database()
                    if code in (2006, 2013, 2014, 2055):
                        continue
                raise self._failure(exc, code) from None
            except OSError as exc:
                self.close_database()
                raise SourceFailure(ErrorReason.CONNECT, f"canary {self.db.name}: {type(exc).__name__}") from None
        raise SourceFailure(ErrorReason.CONNECT, f"canary {self.db.name}: connection lost")  # pragma: no cover

    def close_database(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _failure(self, exc: BaseException, code: int | None) -> SourceFailure:
        where = f"canary {self.db.name} ({self.canary.user}@{self.db.host or self.db.socket})"
        if code == 1146:
            return SourceFailure(
                ErrorReason.QUERY, f"{where}: table {self.canary.table} does not exist (docs/configuration.md#canary)"
            )
        if code in (1044, 1045, 1142, 1227):
            # MySQL and MariaDB answer 1142 before 1146 for a table the user has no grant on.
            return SourceFailure(
                ErrorReason.AUTH,
                f"{where}: access denied (error {code}) on {self.canary.table}: check that the table exists and"
                " that the canary user has SELECT, INSERT, UPDATE, DELETE on it (docs/configuration.md#canary)",
            )
        if code is not None and code >= 2000:
            return SourceFailure(ErrorReason.CONNECT, f"{where}: client error {code}")
        return SourceFailure(ErrorReason.QUERY, f"{where}: {describe_error(exc)}")

    def _write(self, targets: list[Target]) -> list[tuple[str, float]]:
        """Upsert one row per target; (token, monotonic time of the commit) for each."""
        written = []
        statement = (
            f"INSERT INTO {self._table()} (probe_key, token, written_at) VALUES (%s, %s, NOW(6)) "
            "ON DUPLICATE KEY UPDATE token = VALUES(token), written_at = VALUES(written_at)"
        )
        for target in targets:
            token = new_token()
            self._sql(statement, (probe_key(target.cluster, target.connector), token))
            written.append((token, time.monotonic()))
            self._probed.add((target.cluster, target.connector))
        return written

    def _forget_gone(self, snapshot: Snapshot) -> int:
        """Delete the canary rows of connectors no longer in a readable Connect cluster (and, on
        the first round, rows an earlier run left for such connectors); the count deleted."""
        if self._known_rows is None:
            rows = self._sql_rows(f"SELECT probe_key FROM {self._table()} LIMIT {MAX_ROWS_READ}")
            self._known_rows = {str(row[0]) for row in rows}
        present: dict[str, set[str]] = {}
        for cluster in self.clusters:
            state = snapshot.data(f"connect:{cluster.name}")
            if isinstance(state, ConnectClusterState):
                present[cluster.name] = set(state.connectors)
        self._known_rows |= {probe_key(*key) for key in self._probed}
        deleted = 0
        for key in sorted(self._known_rows):
            cluster_name, _, connector = key.partition("/")
            if cluster_name in present and connector not in present[cluster_name]:
                deleted += self._sql(f"DELETE FROM {self._table()} WHERE probe_key = %s", (key,))
                self._known_rows.discard(key)
                self._probed.discard((cluster_name, connector))
        return deleted


def probe_key(cluster: str, connector: str) -> str:
    """The canary row's key: `cluster/connector`, as the canary's patterns name connectors."""
    return f"{cluster}/{connector}"
