"""The health rules: one table of rule definitions and the pure evaluation over it.

`evaluate(previous, snapshot, now, config) -> (AlertState, transitions)` decides which alerts
are pending, firing or resolved. No I/O, no clock: the caller passes `now`.

Every rule carries, next to its name, severity, `for`, summary, description template and
runbook anchor, the PromQL expression that says the same thing over cdc_watch's exported
metrics (catalogue names only), with the same thresholds substituted from the same config,
so the shipped Prometheus rules (issue 8) are generated from this table and cannot drift.

Never crying wolf:
- a rule whose input source cannot be read *holds* its alerts (neither fires nor resolves
  them); the unreadable source raises its own alert instead (CdcConnectUnreachable,
  CdcSourceUnreadable);
- a subject (connector, task) missing from one readable reply is not resolved at once: only
  after `vanished_after` of absence, unless Connect confirmed the connector deleted
  (`ConnectClusterState.deleted`): then its alerts resolve at once with reason "deleted";
- joined readings are compared in a known time order (docs/architecture.md): CdcNotStreaming
  judges "behind" on a head read after the position and a position read after that head;
- one failure, one page: an alert a more specific one supersedes (`Rule.supersedes`) is folded
  into it; a failure no restart can fix pages at once, a retriable one once a restart failed
  (`failure_hold`);
- a pending alert whose condition clears is dropped silently (flapping never pages); a firing
  one resolves only after its condition stayed false for `keep_firing_for`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from cdc_watch.analysis import failures
from cdc_watch.analysis.binlog import ConnectorBinlog, PositionStatus, join
from cdc_watch.config import RemediationConfig, RulesConfig
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.rules.model import (
    AlertEntry,
    AlertKey,
    AlertState,
    Change,
    Evidence,
    Labels,
    Phase,
    Resolution,
    Severity,
    Transition,
    make_labels,
)
from cdc_watch.sources.connect.model import ConnectClusterState, ConnectorStatus, State
from cdc_watch.sources.jolokia.model import Group, JolokiaClusterState
from cdc_watch.sources.kafka.canary import KIND as CANARY_KIND
from cdc_watch.sources.kafka.canary import CanaryState
from cdc_watch.sources.kafka.model import KafkaClusterState
from cdc_watch.sources.mysql.model import DatabaseState
from cdc_watch.sources.mysql.parse import binlog_base, binlog_seq
from cdc_watch.sources.mysql.tracking import byte_distance

MEMORY_REFRESH_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Observation:
    """What one rule saw in one snapshot.

    `verdicts`: every subject the rule could judge, with Evidence when its condition holds and
    None when it does not. `blind`: label subsets whose input could not be read; alerts whose
    labels contain one of them are held unchanged. Subjects neither judged nor blind have
    vanished from a readable reply. `memory`: the rule's new memory (None = unchanged).
    """

    verdicts: Mapping[Labels, Evidence | None] = field(default_factory=dict)
    blind: frozenset[Labels] = frozenset()
    memory: Any = None
    hold: Mapping[Labels, float] = field(default_factory=dict)  # per-subject `for`, overriding the rule's


Detector = Callable[[Snapshot, RulesConfig, Any, float], Observation]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # CdcXxx
    severity: Severity
    default_for: float  # seconds; config `alerting.rules.<name>.for` overrides
    summary: str  # static
    description: str  # str.format template over the alert's labels and the thresholds
    anchor: str  # docs/runbook.md#<anchor>
    labels: tuple[str, ...]  # the labels its alerts carry (besides alert and severity)
    promql: str  # same condition over exported metrics; {thresholds} substituted
    detect: Detector
    thresholds: tuple[str, ...] = ()  # RulesConfig fields used by promql/description
    # Alerts of the same connector this one is more specific than: while it fires they are
    # folded into it (resolved with reason "superseded", never announced separately).
    supersedes: tuple[str, ...] = ()
    # PromQL of the subjects that page at once (`for: 0s`), e.g. non-retriable failures; the
    # shipped rules carry it as a second rule of the same name.
    promql_now: str | None = None


@dataclass(frozen=True, slots=True)
class Remediation:
    """What the rules need to know of remediation: whether it restarts a connector's failures,
    and the restarts it made in the current failure streak: (cluster, connector) -> (attempts,
    time of the last restart)."""

    config: RemediationConfig
    restarts: Mapping[tuple[str, str], tuple[int, float | None]] = field(default_factory=dict)

    def restarts_failures_of(self, cluster: str, connector: str, category: failures.FailureCategory) -> bool:
        cfg = self.config
        if not cfg.enabled or cfg.dry_run or cfg.excludes(cluster, connector):
            return False
        if category is failures.FailureCategory.NON_RETRIABLE:
            return False
        return category is failures.FailureCategory.RETRIABLE or cfg.unknown_failures == "restart"


# --------------------------------------------------------------------------- helpers


def failure_evidence(facts: tuple[tuple[str, str], ...], failure: failures.Failure | None) -> Evidence:
    """Evidence of a failed connector or task from the failure its poll kept (classified at parse time)."""
    classification = failures.classify_failure(failure)
    excerpt = failure.excerpt if failure is not None else None
    return Evidence(
        facts=facts,
        trace=excerpt,
        why=classification.summary or None,
        hint=classification.hint,
        kind=classification.kind,
    )


def failure_hold(snapshot: Snapshot, cluster: str, connector: str, failure: failures.Failure | None) -> float | None:
    """The `for` of one FAILED connector or task (None: the rule's own).

    - non-retriable (a restart cannot fix it): 0, it pages at the first poll that sees it;
    - retriable, with remediation restarting this connector's failures: 0 once a Connect poll
      that started after a restart of the current streak still shows it FAILED (the restart did
      not bring it back); until then the rule's `for`, a safety net should no restart come;
    - otherwise the rule's `for`.
    """
    category = failures.classify_failure(failure).category
    if category is failures.FailureCategory.NON_RETRIABLE:
        return 0.0
    remediation = getattr(snapshot, "remediation", None)
    if not isinstance(remediation, Remediation) or not remediation.restarts_failures_of(cluster, connector, category):
        return None
    attempts, last = remediation.restarts.get((cluster, connector), (0, None))
    if attempts > 0 and last is not None and _polled_at(snapshot, f"connect:{cluster}", float("-inf")) > last:
        return 0.0
    return None


def _cluster_of(source: str) -> str:
    return source.split(":", 1)[1] if ":" in source else source


def _connect_states(snapshot: Snapshot) -> tuple[dict[str, ConnectClusterState], frozenset[Labels]]:
    """Readable Connect clusters by name, and the blind scopes of the unreadable ones."""
    readable: dict[str, ConnectClusterState] = {}
    blind = set()
    for status in snapshot.by_kind("connect"):
        cluster = _cluster_of(status.source)
        if isinstance(status.data, ConnectClusterState):
            readable[cluster] = status.data
        else:
            blind.add(make_labels(connect_cluster=cluster))
    return readable, frozenset(blind)


# --------------------------------------------------------------------------- detectors


def _connector_failed(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    readable, blind = _connect_states(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    hold: dict[Labels, float] = {}
    for cluster, state in readable.items():
        for connector in state.connectors.values():
            labels = make_labels(connect_cluster=cluster, connector=connector.name)
            if connector.state is State.FAILED:
                facts = (("state", "FAILED"), ("worker", connector.worker_id or "none"))
                verdicts[labels] = failure_evidence(facts, connector.failure)
                fast = failure_hold(snapshot, cluster, connector.name, connector.failure)
                if fast is not None:
                    hold[labels] = fast
            else:
                verdicts[labels] = None
    return Observation(verdicts, blind, hold=hold)


def _task_failed(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    readable, blind = _connect_states(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    hold: dict[Labels, float] = {}
    for cluster, state in readable.items():
        for connector in state.connectors.values():
            for task in connector.tasks:
                labels = make_labels(connect_cluster=cluster, connector=connector.name, task=task.id)
                if task.state is State.FAILED:
                    facts = (
                        ("task state", "FAILED"),
                        ("connector state", str(connector.state)),
                        ("worker", task.worker_id or "none"),
                    )
                    verdicts[labels] = failure_evidence(facts, task.failure)
                    fast = failure_hold(snapshot, cluster, connector.name, task.failure)
                    if fast is not None:
                        hold[labels] = fast
                else:
                    verdicts[labels] = None
    return Observation(verdicts, blind, hold=hold)


def _task_unassigned(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    readable, blind = _connect_states(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    for cluster, state in readable.items():
        for connector in state.connectors.values():
            for task in connector.tasks:
                labels = make_labels(connect_cluster=cluster, connector=connector.name, task=task.id)
                unassigned = task.state is State.UNASSIGNED
                verdicts[labels] = (
                    Evidence(facts=(("task state", "UNASSIGNED"), ("connector state", str(connector.state))))
                    if unassigned
                    else None
                )
    return Observation(verdicts, blind)


def _connect_unreachable(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    verdicts: dict[Labels, Evidence | None] = {}
    for status in snapshot.by_kind("connect"):
        if status.last is None:
            continue  # not polled yet: no verdict either way
        labels = make_labels(connect_cluster=_cluster_of(status.source))
        error = status.last.error
        verdicts[labels] = (
            None if error is None else Evidence(facts=(("reason", str(error.reason)), ("error", error.message)))
        )
    return Observation(verdicts)


def _source_unreadable(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    verdicts: dict[Labels, Evidence | None] = {}
    blind = set()
    for name, status in snapshot.sources.items():
        if status.kind == "connect" or status.last is None:
            continue  # Connect REST has its own alert; never-polled sources have no verdict
        connect = snapshot.sources.get(f"connect:{_cluster_of(name)}")
        if status.kind == "connect_offsets" and connect is not None and not connect.up:
            blind.add(make_labels(source=name))  # same REST API: CdcConnectUnreachable covers it
            continue
        error = status.last.error
        if error is not None:
            verdicts[make_labels(source=name)] = Evidence(
                facts=(("reason", str(error.reason)), ("error", error.message))
            )
        else:
            verdicts[make_labels(source=name)] = _endpoints_failed(status.last.data)
    return Observation(verdicts, frozenset(blind))


def _endpoints_failed(data: object) -> Evidence | None:
    """A Jolokia poll that some endpoints answered and others did not: the tasks on the silent
    workers are unseen, so the source counts as unreadable. Names at most
    FAILED_ENDPOINTS_NAMED endpoints (a page stays short on a large cluster)."""
    if not isinstance(data, JolokiaClusterState):
        return None
    failed = [(r.endpoint, r.error) for r in data.endpoints.values() if r.error is not None]
    if not failed:
        return None
    named = ", ".join(endpoint for endpoint, _ in failed[:FAILED_ENDPOINTS_NAMED])
    more = f" and {len(failed) - FAILED_ENDPOINTS_NAMED} more" if len(failed) > FAILED_ENDPOINTS_NAMED else ""
    first = failed[0][1]
    return Evidence(
        facts=(
            ("endpoints failed", f"{named}{more} ({len(failed)} of {len(data.endpoints)})"),
            ("reason", str(first.reason)),
            ("error", first.message),
        )
    )


FAILED_ENDPOINTS_NAMED = 5


def members(snapshot: Snapshot, cluster: str, state: ConnectClusterState) -> frozenset[str]:
    """The workers the cluster itself shows alive: every worker Connect REST names as running a
    connector or task, plus every worker whose Jolokia endpoint answered the last poll (a worker
    that rejoined and owns nothing yet is alive too)."""
    alive = set(state.workers)
    jolokia = snapshot.data(f"jolokia:{cluster}")
    if isinstance(jolokia, JolokiaClusterState):
        alive |= {r.worker_id for r in jolokia.endpoints.values() if r.up and r.worker_id}
    return frozenset(alive)


def _worker_lost(snapshot: Snapshot, cfg: RulesConfig, memory: Any, now: float) -> Observation:
    """A worker that ran tasks within `worker_memory` is no member of the cluster now, and its
    tasks still exist.

    Liveness is the cluster's membership (`members`), never whether a worker runs tasks.
    Memory: {cluster: {"connector|task|worker": last_seen}}. Tasks of a deleted connector do
    not count (they vanish rather than move), so deleting a connector never reads as a lost
    worker. A worker gone for longer than `worker_memory` is forgotten and its alert resolves.
    """
    readable, blind = _connect_states(snapshot)
    old: Mapping[str, Mapping[str, float]] = memory if isinstance(memory, Mapping) else {}
    new_memory: dict[str, dict[str, float]] = {  # items this version cannot read are dropped
        c: {i: t for i, t in v.items() if _worker_item_ok(i, t)} for c, v in old.items() if isinstance(v, Mapping)
    }
    verdicts: dict[Labels, Evidence | None] = {}
    for cluster, state in readable.items():
        seen = new_memory.setdefault(cluster, {})
        before = {item.split("|", 2)[2] for item in seen}  # includes workers forgotten below: they resolve
        live_tasks = {(c.name, t.id) for c in state.connectors.values() for t in c.tasks}
        workers_now = members(snapshot, cluster, state)
        lost: dict[str, list[str]] = {}
        remembered: set[str] = set()
        for item, last_seen in list(seen.items()):
            connector_name, task_id, worker = item.split("|", 2)
            if now - float(last_seen) > cfg.worker_memory:
                del seen[item]
                continue
            remembered.add(worker)
            if worker not in workers_now and (connector_name, int(task_id)) in live_tasks:
                lost.setdefault(worker, []).append(f"{connector_name}/{task_id}")
        for worker in sorted(remembered | before):
            labels = make_labels(connect_cluster=cluster, worker=worker)
            if worker in lost:
                tasks = sorted(lost[worker])
                shown = ", ".join(tasks[:5]) + (f" (+{len(tasks) - 5} more)" if len(tasks) > 5 else "")
                verdicts[labels] = Evidence(
                    facts=(("worker", worker), ("tasks it ran", shown), ("workers now", str(len(workers_now))))
                )
            else:
                verdicts[labels] = None
        for connector in state.connectors.values():
            for task in connector.tasks:
                item = f"{connector.name}|{task.id}|{task.worker_id}"
                if (
                    task.worker_id
                    and task.state is not State.UNASSIGNED
                    and now - seen.get(item, float("-inf")) >= MEMORY_REFRESH_SECONDS
                ):
                    seen[item] = now  # refreshed coarsely so the state file is not rewritten on every poll
    return Observation(verdicts, blind, memory=new_memory)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _worker_item_ok(item: Any, last_seen: Any) -> bool:
    """A CdcWorkerLost memory item: "connector|task|worker" -> last seen time."""
    parts = item.split("|", 2) if isinstance(item, str) else ()
    return len(parts) == 3 and parts[1].isdigit() and _number(last_seen)


# --------------------------------------------------------------------------- Jolokia and MySQL inputs
# These read `jolokia:<cluster>` (JolokiaClusterState) and `mysql:<database>` (DatabaseState)
# joined per connector by `binlog.join`, exactly as the mysql exporter does.

_LOST = frozenset({PositionStatus.PURGED, PositionStatus.GTIDS_PURGED})
_ELSEWHERE = frozenset(
    {
        PositionStatus.UNKNOWN_FILE,
        PositionStatus.BASENAME_CHANGED,
        PositionStatus.GTIDS_UNKNOWN,
        PositionStatus.OTHER_SERVER,
    }
)


def _databases(snapshot: Snapshot) -> tuple[dict[str, DatabaseState], set[Labels]]:
    readable: dict[str, DatabaseState] = {}
    blind: set[Labels] = set()
    for status in snapshot.by_kind("mysql"):
        name = _cluster_of(status.source)
        if isinstance(status.data, DatabaseState):
            readable[name] = status.data
        else:
            blind.add(make_labels(database=name))
    return readable, blind


def _binlog_rows(snapshot: Snapshot) -> tuple[list[ConnectorBinlog], set[Labels], dict[str, DatabaseState]]:
    """Per-connector binlog join rows, and the blind scopes (unreadable Connect or database).

    Several rules need the join; it is computed once per evaluation (see `_Inputs`).
    """
    cache = getattr(snapshot, "cache", None)
    if cache is not None:
        if "binlog_rows" not in cache:
            cache["binlog_rows"] = _compute_binlog_rows(snapshot)
        rows, blind, databases = cache["binlog_rows"]
        return list(rows), set(blind), dict(databases)
    return _compute_binlog_rows(snapshot)


def _compute_binlog_rows(snapshot: Snapshot) -> tuple[list[ConnectorBinlog], set[Labels], dict[str, DatabaseState]]:
    clusters, connect_blind = _connect_states(snapshot)
    databases, blind = _databases(snapshot)
    blind |= set(connect_blind)
    if not databases:
        return [], blind, databases
    joined = [
        (c, state, snapshot.data(f"jolokia:{c}"), snapshot.data(f"connect_offsets:{c}"))
        for c, state in clusters.items()
    ]
    return join(databases, joined), blind, databases


def _row_labels(row: ConnectorBinlog) -> Labels:
    return make_labels(connect_cluster=row.cluster, connector=row.connector, database=row.database)


def _position_facts(row: ConnectorBinlog) -> tuple[tuple[str, str], ...]:
    facts: list[tuple[str, str]] = [("position status", str(row.status))]
    if row.restart is not None:
        facts.append(("restart position", f"{row.restart.file}:{row.restart.position} ({row.restart.origin})"))
    return tuple(facts)


def _head_facts(db: DatabaseState | None) -> tuple[tuple[str, str], ...]:
    if db is None:
        return ()
    facts = []
    if db.files:
        facts.append(("oldest binlog on server", db.files[0].name))
    if db.head is not None:
        facts.append(("server head", f"{db.head.file}:{db.head.position}"))
    return tuple(facts)


def _position_rule(statuses: frozenset[PositionStatus]) -> Detector:
    def detect(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
        rows, blind, databases = _binlog_rows(snapshot)
        verdicts: dict[Labels, Evidence | None] = {}
        for row in rows:
            labels = _row_labels(row)
            if row.status is PositionStatus.UNKNOWN:
                blind.add(labels)  # not enough data to judge: hold
                continue
            if row.status in statuses:
                verdicts[labels] = Evidence(facts=_position_facts(row) + _head_facts(databases.get(row.database)))
            else:
                verdicts[labels] = None
        return Observation(verdicts, frozenset(blind))

    return detect


def _purge_risk(snapshot: Snapshot, cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    rows, blind, databases = _binlog_rows(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    for row in rows:
        labels = _row_labels(row)
        if row.status is PositionStatus.UNKNOWN:
            blind.add(labels)
            continue
        at_risk = row.purge_eta is not None and 0 < row.purge_eta < cfg.purge_eta  # +Inf (never) is not
        if not at_risk:
            verdicts[labels] = None
            continue
        facts = (
            *_position_facts(row),
            ("purge in", format_duration(row.purge_eta or 0)),
            *_head_facts(databases.get(row.database)),
        )
        verdicts[labels] = Evidence(facts=facts)
    return Observation(verdicts, frozenset(blind))


def _binlog_lag(snapshot: Snapshot, cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    rows, blind, databases = _binlog_rows(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    for row in rows:
        labels = _row_labels(row)
        if row.lag_bytes is None:
            blind.add(labels)
            continue
        high = row.lag_bytes > cfg.binlog_lag_bytes
        facts = (
            (("lag", f"{row.lag_bytes} bytes"),)
            + ((("connector position", f"{row.current.file}:{row.current.position}"),) if row.current else ())
            + _head_facts(databases.get(row.database))
        )
        verdicts[labels] = Evidence(facts=facts) if high else None
    return Observation(verdicts, frozenset(blind))


def _jolokia_states(
    snapshot: Snapshot,
) -> tuple[dict[str, tuple[ConnectClusterState, JolokiaClusterState]], set[Labels]]:
    """Clusters whose Connect and Jolokia polls both succeeded; blind scopes for the others."""
    clusters, connect_blind = _connect_states(snapshot)
    blind = set(connect_blind)
    both = {}
    for status in snapshot.by_kind("jolokia"):
        cluster = _cluster_of(status.source)
        data = status.data
        if isinstance(data, JolokiaClusterState) and cluster in clusters and data.joined:
            both[cluster] = (clusters[cluster], data)
        else:
            blind.add(make_labels(connect_cluster=cluster))
    return both, blind


def _running_debezium(state: ConnectClusterState) -> list[ConnectorStatus]:
    return [
        c
        for c in state.connectors.values()
        if c.settings is not None
        and c.settings.is_debezium_mysql
        and c.state is State.RUNNING
        and c.tasks
        and all(t.state is State.RUNNING for t in c.tasks)
    ]


def _polled_at(snapshot: Snapshot, source: str, default: float) -> float:
    """Start of the source's last poll (wall clock), or `default` when it has none."""
    status = snapshot.sources.get(source)
    return status.last.started_at if status is not None and status.last is not None else default


def _reading_times(snapshot: Snapshot, source: str) -> tuple[float, float] | None:
    """(start, end) wall-clock times of the source's last successful poll, or None."""
    status = snapshot.sources.get(source)
    if status is None or not status.up or status.last is None:
        return None
    return status.last.started_at, status.last.started_at + max(0.0, status.last.duration)


def head_ahead(db: DatabaseState, file: str, position: int) -> int | None:
    """Bytes the database's head is past (file, position), 0 if not past it, None if unknown."""
    if db.head is None:
        return None
    if db.files:
        distance = byte_distance(db.files, file, position, db.head)
        if distance is not None:
            return distance
    seq, head_seq = binlog_seq(file), binlog_seq(db.head.file)
    if seq is None or head_seq is None or binlog_base(file) != binlog_base(db.head.file):
        return None
    return 0 if (seq, position) >= (head_seq, db.head.position) else 1


def _not_streaming(snapshot: Snapshot, _cfg: RulesConfig, memory: Any, now: float) -> Observation:
    """RUNNING but not streaming: MBean missing, Connected=false, or behind the head and still.

    "Behind and still" is judged on readings in a known time order (docs/architecture.md,
    "Time order of joined readings"): a Jolokia reading R1 shows position P; a database
    reading D that *started after R1 ended* shows the head past P; a Jolokia reading R2 that
    *started after D ended* still shows P. Then Debezium had events to read at D and had not
    read them by R2. A head read before the position (a write burst Debezium read between
    the two polls) never counts, so a connector sitting at the head of an idle database is
    never judged behind.

    Memory: {"cluster|connector": [file, position, end of R1, end of D or -1, 0]}.
    A connector whose task is FAILED is held (CdcTaskFailed supersedes this alert); one
    paused or stopped is not streaming by choice (condition false).
    """
    both, blind = _jolokia_states(snapshot)
    databases, db_blind = _databases(snapshot)
    rows = {(r.cluster, r.connector): r for r in _binlog_rows(snapshot)[0]} if databases else {}
    old = memory if isinstance(memory, Mapping) else {}
    new_memory: dict[str, list[Any]] = {}
    verdicts: dict[Labels, Evidence | None] = {}
    for cluster, (connect, jolokia) in both.items():
        running = {c.name for c in _running_debezium(connect)}
        for connector in connect.connectors.values():
            if connector.name in running or connector.settings is None or not connector.settings.is_debezium_mysql:
                continue
            labels = make_labels(connect_cluster=cluster, connector=connector.name)
            if connector.state is State.FAILED or any(t.state is State.FAILED for t in connector.tasks):
                blind.add(labels)  # hold: folded into CdcTaskFailed / CdcConnectorFailed
            else:
                verdicts[labels] = None
        read = _reading_times(snapshot, f"jolokia:{cluster}")
        for connector in _running_debezium(connect):
            labels = make_labels(connect_cluster=cluster, connector=connector.name)
            present = jolokia.streaming_mbean_present(connector.name)
            streaming = jolokia.streaming.get(connector.name)
            problem: tuple[tuple[str, str], ...] = ()
            if present is False:
                problem = (("streaming MBean", "missing on the worker running the task"),)
            elif streaming is not None and streaming.connected is False:
                problem = (("binlog client connected", "false"),)
            elif streaming is not None and streaming.binlog_filename and streaming.binlog_position is not None:
                item = f"{cluster}|{connector.name}"
                file, position = streaming.binlog_filename, streaming.binlog_position
                row = rows.get((cluster, connector.name))
                db = databases.get(row.database) if row is not None else None
                db_read = _reading_times(snapshot, f"mysql:{row.database}") if row is not None else None
                prior = old.get(item)
                if isinstance(prior, list) and len(prior) == 5 and prior[:2] == [file, position]:
                    shown_end, ahead_end = float(prior[2]), float(prior[3])
                else:
                    shown_end, ahead_end = (read[1] if read else now), -1.0
                if (
                    ahead_end < 0
                    and db is not None
                    and db_read is not None
                    and db_read[0] >= shown_end
                    and (head_ahead(db, file, position) or 0) > 0
                ):
                    ahead_end = db_read[1]  # D: a head read after the position was, and past it
                new_memory[item] = [file, position, shown_end, ahead_end, 0]
                if ahead_end >= 0 and read is not None and read[0] >= ahead_end and db is not None:
                    behind = head_ahead(db, file, position)
                    problem = (
                        ("position", f"{file}:{position}, unchanged since {format_duration(now - shown_end)} ago"),
                        ("server head", f"{db.head.file}:{db.head.position}" if db.head else "unknown"),
                        ("behind by", f"{behind} bytes" if behind is not None else "unknown"),
                    )
            elif present is None and streaming is None:
                blind.add(labels)  # cannot tell (endpoint failed, no data)
                continue
            verdicts[labels] = Evidence(facts=(("connector state", "RUNNING"), *problem)) if problem else None
    for item, value in old.items():  # keep memory of clusters we could not read
        if item.split("|", 1)[0] not in both and item not in new_memory:
            new_memory[item] = value
    return Observation(verdicts, frozenset(blind | db_blind), memory=new_memory)


def _streaming_lag(snapshot: Snapshot, cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    both, blind = _jolokia_states(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    for cluster, (connect, jolokia) in both.items():
        for connector in _running_debezium(connect):
            labels = make_labels(connect_cluster=cluster, connector=connector.name)
            streaming = jolokia.streaming.get(connector.name)
            if streaming is None or streaming.ms_behind_source is None:
                verdicts[labels] = None
                continue
            behind = streaming.ms_behind_source / 1000.0
            # MilliSecondsBehindSource is frozen at the last event: only judge it while events flow.
            flowing = (
                streaming.ms_since_last_event is not None
                and streaming.ms_since_last_event / 1000.0 < STREAMING_FRESH_SECONDS
            )
            high = behind > cfg.streaming_lag and flowing
            verdicts[labels] = Evidence(facts=(("behind source", format_duration(behind)),)) if high else None
    return Observation(verdicts, frozenset(blind))


STREAMING_FRESH_SECONDS = 60.0


def _snapshot_aborted(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    both, blind = _jolokia_states(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    for cluster, (connect, jolokia) in both.items():
        for name in connect.connectors:
            metrics = jolokia.snapshots.get(name)
            if metrics is None:
                continue
            labels = make_labels(connect_cluster=cluster, connector=name)
            aborted = metrics.aborted is True and metrics.running is not True
            verdicts[labels] = (
                Evidence(facts=(("snapshot", "aborted"), ("remaining tables", f"{metrics.remaining_tables or 0:g}")))
                if aborted
                else None
            )
    return Observation(verdicts, frozenset(blind))


def _snapshot_stalled(snapshot: Snapshot, cfg: RulesConfig, memory: Any, now: float) -> Observation:
    """A running snapshot whose rows scanned and remaining tables did not change for snapshot_stall.

    Memory: {"cluster|connector": [progress fingerprint, since]}.
    """
    both, blind = _jolokia_states(snapshot)
    old = memory if isinstance(memory, Mapping) else {}
    new_memory: dict[str, list[Any]] = {}
    verdicts: dict[Labels, Evidence | None] = {}
    for cluster, (connect, jolokia) in both.items():
        for name in connect.connectors:
            metrics = jolokia.snapshots.get(name)
            if metrics is None:
                continue
            labels = make_labels(connect_cluster=cluster, connector=name)
            if metrics.running is not True:
                verdicts[labels] = None
                continue
            item = f"{cluster}|{name}"
            progress = f"{sum(v or 0 for v in metrics.rows_scanned.values()):g}/{metrics.remaining_tables}"
            prior = old.get(item)
            since = prior[1] if isinstance(prior, list) and len(prior) == 2 and prior[0] == progress else now
            new_memory[item] = [progress, since]
            stalled = now - since >= cfg.snapshot_stall
            facts = (
                ("no progress for", format_duration(now - since)),
                ("remaining tables", f"{metrics.remaining_tables or 0:g}"),
            )
            verdicts[labels] = Evidence(facts=facts) if stalled else None
    for item, value in old.items():
        if item.split("|", 1)[0] not in both:
            new_memory[item] = value
    return Observation(verdicts, frozenset(blind), memory=new_memory)


OFFSET_COMMIT_FAILURE = "offset-commit-failure-percentage"


def _offset_commits(snapshot: Snapshot, cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    both, blind = _jolokia_states(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    for cluster, (connect, jolokia) in both.items():
        for connector in connect.connectors.values():
            for task in connector.tasks:
                values = jolokia.tasks.get((connector.name, task.id), {}).get(Group.CONNECTOR_TASK)
                ratio = values.get(OFFSET_COMMIT_FAILURE) if values else None
                if ratio is None:
                    continue
                labels = make_labels(connect_cluster=cluster, connector=connector.name, task=task.id)
                verdicts[labels] = (
                    Evidence(facts=(("failed commits", f"{ratio:.0%}"),))
                    if ratio > cfg.offset_commit_failure_ratio
                    else None
                )
    return Observation(verdicts, frozenset(blind))


def _settings(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    databases, blind = _databases(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    for name, db in databases.items():
        for check in db.settings:
            labels = make_labels(database=name, setting=check.setting)
            if check.ok is None:
                blind.add(labels)
                continue
            verdicts[labels] = (
                None if check.ok else Evidence(facts=(("setting", check.setting), ("found", check.detail)))
            )
    return Observation(verdicts, frozenset(blind))


def _privileges(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    databases, blind = _databases(snapshot)
    verdicts: dict[Labels, Evidence | None] = {}
    for name, db in databases.items():
        if "grants" in db.unknown_checks:
            blind.add(make_labels(database=name))
            continue
        # Per privilege over every connector user, as cdc_mysql_privilege_ok{database,privilege}.
        for privilege, ok in db.privilege_summary().items():
            labels = make_labels(database=name, privilege=privilege)
            if ok is None:
                blind.add(labels)
                continue
            lacking = sorted(
                u for u, checks in db.privileges.items() if any(c.privilege == privilege and not c.ok for c in checks)
            )
            verdicts[labels] = (
                None if ok else Evidence(facts=(("users lacking it", ", ".join(lacking)), ("missing", privilege)))
            )
    return Observation(verdicts, frozenset(blind))


def _failover_detected(snapshot: Snapshot, cfg: RulesConfig, memory: Any, now: float) -> Observation:
    """Memory: {database: [failovers count, when it last increased]}."""
    databases, blind = _databases(snapshot)
    old = memory if isinstance(memory, Mapping) else {}
    new_memory = {k: v for k, v in old.items() if k not in databases}
    verdicts: dict[Labels, Evidence | None] = {}
    for name, db in databases.items():
        prior = old.get(name)
        if isinstance(prior, list) and len(prior) == 2:
            count, changed = prior
            if db.failovers > count:
                changed = now
        else:
            count, changed = db.failovers, None  # first sight: no baseline to compare with
        new_memory[name] = [db.failovers, changed]
        recent = changed is not None and now - changed < cfg.failover_window
        facts = (
            ("failovers seen", str(db.failovers)),
            ("server_id", db.identity.server_id),
            ("read_only", str(db.identity.read_only).lower()),
        )
        verdicts[make_labels(database=name)] = Evidence(facts=facts) if recent else None
    return Observation(verdicts, frozenset(blind), memory=new_memory)


def _schema_history_topic(snapshot: Snapshot, _cfg: RulesConfig, _memory: Any, _now: float) -> Observation:
    """A connector's schema history topic is missing, has several partitions, a finite retention
    or compaction (`kafka:<cluster>`). Held while Kafka is unreadable, and per connector while
    no check failed and some could not be judged (the broker did not report a setting)."""
    verdicts: dict[Labels, Evidence | None] = {}
    blind: set[Labels] = set()
    for status in snapshot.by_kind("kafka"):
        cluster = _cluster_of(status.source)
        state = status.data
        # Without any Connect poll the connectors (and so their topics) are unknown, not gone.
        if not isinstance(state, KafkaClusterState) or snapshot.last_good(f"connect:{cluster}") is None:
            blind.add(make_labels(connect_cluster=cluster))
            continue
        for connector, topic in state.history.items():
            labels = make_labels(connect_cluster=cluster, connector=connector)
            ok = topic.ok
            if ok is None:
                blind.add(labels)
            elif ok:
                verdicts[labels] = None
            else:
                failed = tuple((str(c.check), c.found) for c in topic.checks if c.ok is False)
                verdicts[labels] = Evidence(
                    facts=(("topic", topic.topic), *failed),
                    hint="fix the topic before the connector restarts (runbook: retention and cleanup can be altered in place, partitions cannot)",
                )
    return Observation(verdicts, frozenset(blind))


# --------------------------------------------------------------------------- the table

_M = 60.0

# The database each connector reads, one series per (cluster, connector): two cdc_watch replicas
# scraped by one Prometheus would otherwise make every join to it many-to-many.
_DATABASE_OF = "max by (connect_cluster, connector, database) (cdc_connector_database_info)"


def _canary_stale(snapshot: Snapshot, cfg: RulesConfig, _memory: Any, now: float) -> Observation:
    """Stale: a probed connector whose last canary success (or, before one, the start of its run
    of probes) is older than `canary_stale`. A failed round holds the connectors it probed last."""
    verdicts: dict[Labels, Evidence | None] = {}
    blind: set[Labels] = set()
    for status in snapshot.by_kind(CANARY_KIND):
        state = status.data
        if not isinstance(state, CanaryState):
            last = status.last_success.data if status.last_success is not None else None
            if isinstance(last, CanaryState):
                blind.update(make_labels(connect_cluster=c, connector=n) for c, n in last.probes)
            continue
        for key, probe in state.probes.items():
            labels = make_labels(connect_cluster=key[0], connector=key[1])
            if key in state.blind:
                blind.add(labels)
                continue
            since = probe.fresh_since
            if since is None or now - since <= cfg.canary_stale:
                verdicts[labels] = None
                continue
            seen = "never" if probe.last_success_at is None else format_duration(now - probe.last_success_at) + " ago"
            verdicts[labels] = Evidence(
                facts=(
                    ("last canary on the topic", seen),
                    ("last probe", f"{probe.outcome}: {probe.reason}" if probe.reason else probe.outcome),
                    ("topic", probe.topic),
                ),
                hint="Check the connector's producer, its transforms and topic routing (docs/runbook.md#cdccanarystale).",
            )
    return Observation(verdicts, frozenset(blind))


RULES: tuple[Rule, ...] = (
    Rule(
        name="CdcConnectorFailed",
        severity=Severity.CRITICAL,
        default_for=1 * _M,
        summary="A Kafka Connect connector is FAILED.",
        description="Connector {connector} on Connect cluster {connect_cluster} has been FAILED for {for}.",
        anchor="cdcconnectorfailed",
        labels=("connect_cluster", "connector"),
        promql='cdc_connector_state{{state="FAILED"}} == 1',
        promql_now='cdc_connector_state{{state="FAILED"}} == 1 and on (connect_cluster, connector) cdc_connector_failure_retriable == 0',
        detect=_connector_failed,
        supersedes=("CdcNotStreaming", "CdcCanaryStale"),
    ),
    Rule(
        name="CdcTaskFailed",
        severity=Severity.CRITICAL,
        default_for=1 * _M,
        summary="A Kafka Connect task is FAILED.",
        description="Task {task} of connector {connector} on Connect cluster {connect_cluster} has been FAILED for {for}.",
        anchor="cdctaskfailed",
        labels=("connect_cluster", "connector", "task"),
        promql='cdc_task_state{{state="FAILED"}} == 1',
        promql_now='cdc_task_state{{state="FAILED"}} == 1 and on (connect_cluster, connector, task) cdc_task_failure_retriable == 0',
        detect=_task_failed,
        supersedes=("CdcNotStreaming", "CdcCanaryStale"),
    ),
    Rule(
        name="CdcTaskUnassigned",
        severity=Severity.WARNING,
        # Connect's scheduled.rebalance.max.delay.ms defaults to 5 minutes: a task may wait
        # that long for a returning worker before it is reassigned. 6m leaves a margin.
        default_for=6 * _M,
        summary="A Kafka Connect task stayed UNASSIGNED longer than a rebalance allows.",
        description="Task {task} of connector {connector} on Connect cluster {connect_cluster} has been UNASSIGNED for {for}, longer than the rebalance delay.",
        anchor="cdctaskunassigned",
        labels=("connect_cluster", "connector", "task"),
        promql='cdc_task_state{{state="UNASSIGNED"}} == 1',
        detect=_task_unassigned,
    ),
    Rule(
        name="CdcConnectUnreachable",
        severity=Severity.CRITICAL,
        default_for=2 * _M,
        summary="cdc_watch cannot read the Kafka Connect REST API.",
        description="The REST API of Connect cluster {connect_cluster} has not answered for {for}; alerts of its connectors are held at their last state.",
        anchor="cdcconnectunreachable",
        labels=("connect_cluster",),
        promql="cdc_connect_up == 0",
        detect=_connect_unreachable,
    ),
    Rule(
        name="CdcWorkerLost",
        severity=Severity.WARNING,
        default_for=1 * _M,
        summary="A Kafka Connect worker left the cluster while its tasks still exist.",
        description="Worker {worker} of Connect cluster {connect_cluster} ran tasks in the last {worker_memory} and is no longer a member of the cluster; its tasks moved or wait for reassignment.",
        anchor="cdcworkerlost",
        labels=("connect_cluster", "worker"),
        promql=(
            "count by (connect_cluster, worker) ("
            "(max_over_time(cdc_task_worker_info[{worker_memory}]) "
            "unless on (connect_cluster, connector, task, worker) cdc_task_worker_info) "
            "and on (connect_cluster, connector, task) (max by (connect_cluster, connector, task) (cdc_task_state) == 1)"
            ") unless on (connect_cluster, worker) (cdc_connect_worker_tasks"
            " or max by (connect_cluster, worker) (cdc_jolokia_info))"
        ),
        detect=_worker_lost,
        thresholds=("worker_memory",),
    ),
    Rule(
        name="CdcSourceUnreadable",
        severity=Severity.WARNING,
        default_for=2 * _M,
        summary="cdc_watch cannot read one of its sources.",
        description="cdc_watch has not been able to read source {source}, or some of its endpoints, for {for}; alerts that depend on it are held at their last state.",
        anchor="cdcsourceunreadable",
        labels=("source",),
        # a Jolokia source is also unreadable while one of its endpoints fails (cdc_jolokia_up)
        promql=(
            'cdc_source_up{{source!~"connect:.*"}} == 0 or label_replace('
            'max by (connect_cluster) (cdc_jolokia_up == 0), "source", "jolokia:$1", "connect_cluster", "(.*)")'
        ),
        detect=_source_unreadable,
    ),
    Rule(
        name="CdcBinlogPositionLost",
        severity=Severity.CRITICAL,
        default_for=1 * _M,
        summary="The binlog position a connector needs was purged from the database.",
        description="Connector {connector} on Connect cluster {connect_cluster} needs a binlog position that database {database} no longer has; it cannot resume, whatever Connect's status says.",
        anchor="cdcbinlogpositionlost",
        labels=("connect_cluster", "connector", "database"),
        promql=(
            'max without (status) (cdc_connector_binlog_status{{status=~"purged|gtids_purged"}} == 1) '
            "* on (connect_cluster, connector) group_left (database) " + _DATABASE_OF
        ),
        detect=_position_rule(_LOST),
    ),
    Rule(
        name="CdcFailoverLostBinlog",
        severity=Severity.CRITICAL,
        default_for=1 * _M,
        summary="After a database failover the connector's binlog position does not exist on the new server.",
        description="Connector {connector} on Connect cluster {connect_cluster} has a binlog position that database {database} does not know (another server's file or GTIDs): a failover lost its binlog.",
        anchor="cdcfailoverlostbinlog",
        labels=("connect_cluster", "connector", "database"),
        promql=(
            'max without (status) (cdc_connector_binlog_status{{status=~"unknown_file|basename_changed|gtids_unknown|other_server"}} == 1) '
            "* on (connect_cluster, connector) group_left (database) " + _DATABASE_OF
        ),
        detect=_position_rule(_ELSEWHERE),
    ),
    Rule(
        name="CdcBinlogPurgeRisk",
        severity=Severity.WARNING,
        default_for=5 * _M,
        summary="The database will purge a binlog file a connector still needs soon.",
        description="Database {database} will purge the binlog file connector {connector} (Connect cluster {connect_cluster}) needs to restart in less than {purge_eta}.",
        anchor="cdcbinlogpurgerisk",
        labels=("connect_cluster", "connector", "database"),
        promql=(
            "(cdc_connector_binlog_purge_eta_seconds < {purge_eta_seconds} > 0) "
            "* on (connect_cluster, connector) group_left (database) " + _DATABASE_OF
        ),
        detect=_purge_risk,
        thresholds=("purge_eta",),
    ),
    Rule(
        name="CdcBinlogLagHigh",
        severity=Severity.WARNING,
        default_for=5 * _M,
        summary="A connector is far behind the database's binlog head.",
        description="Connector {connector} on Connect cluster {connect_cluster} is more than {binlog_lag_bytes} binlog bytes behind database {database}.",
        anchor="cdcbinloglaghigh",
        labels=("connect_cluster", "connector", "database"),
        promql="(cdc_connector_binlog_lag_bytes > {binlog_lag_bytes}) * on (connect_cluster, connector) group_left (database) "
        + _DATABASE_OF,
        detect=_binlog_lag,
        thresholds=("binlog_lag_bytes",),
    ),
    Rule(
        name="CdcStreamingLagHigh",
        severity=Severity.WARNING,
        default_for=5 * _M,
        summary="Debezium reads binlog events long after they were committed.",
        description="Connector {connector} on Connect cluster {connect_cluster} reads changes more than {streaming_lag} after they were committed.",
        anchor="cdcstreaminglaghigh",
        labels=("connect_cluster", "connector"),
        promql=(
            "cdc_debezium_streaming_behind_source_seconds > {streaming_lag_seconds} "
            "and on (connect_cluster, connector) (time() - cdc_debezium_streaming_last_event_timestamp_seconds < 60)"
        ),
        detect=_streaming_lag,
        thresholds=("streaming_lag",),
    ),
    Rule(
        name="CdcNotStreaming",
        severity=Severity.CRITICAL,
        default_for=2 * _M,
        summary="A RUNNING connector is not streaming the binlog.",
        description="Connector {connector} on Connect cluster {connect_cluster} is RUNNING but not streaming: its streaming MBean is missing, its binlog client is disconnected, or it stands still behind the database's binlog head.",
        anchor="cdcnotstreaming",
        labels=("connect_cluster", "connector"),
        # "Behind and still": behind the head (the lag joins the newest head reading with the
        # newest position; a scrape is a fresh pair) and the position unchanged over the last
        # minute, so a head read before a burst the connector read at once never counts.
        promql=(
            "((max by (connect_cluster, connector) (cdc_debezium_streaming_mbean_present) == 0)"
            " or (cdc_debezium_streaming_connected == 0)"
            " or ((changes(cdc_debezium_streaming_binlog_position_bytes[1m]) == 0 and changes(cdc_debezium_streaming_binlog_file_number[1m]) == 0)"
            " and on (connect_cluster, connector) (cdc_connector_binlog_lag_bytes > 0)))"
            ' and on (connect_cluster, connector) (cdc_connector_state{{state="RUNNING"}} == 1)'
            ' unless on (connect_cluster, connector) (max by (connect_cluster, connector) (cdc_task_state{{state="FAILED"}}) == 1)'
        ),
        detect=_not_streaming,
        supersedes=("CdcCanaryStale",),
    ),
    Rule(
        name="CdcSnapshotAborted",
        severity=Severity.WARNING,
        default_for=0.0,
        summary="A Debezium snapshot was aborted.",
        description="The snapshot of connector {connector} on Connect cluster {connect_cluster} was aborted before it completed.",
        anchor="cdcsnapshotaborted",
        labels=("connect_cluster", "connector"),
        promql="cdc_debezium_snapshot_aborted == 1 unless on (connect_cluster, connector) cdc_debezium_snapshot_running == 1",
        detect=_snapshot_aborted,
    ),
    Rule(
        name="CdcSnapshotStalled",
        severity=Severity.WARNING,
        default_for=0.0,  # the stall window is the wait
        summary="A running Debezium snapshot makes no progress.",
        description="The snapshot of connector {connector} on Connect cluster {connect_cluster} has scanned no rows and finished no table for {snapshot_stall}.",
        anchor="cdcsnapshotstalled",
        labels=("connect_cluster", "connector"),
        promql=(
            # `offset`: the snapshot ran a full window ago too, so a snapshot (or a Prometheus)
            # that just started is not "stalled" on a window holding a single sample.
            "((cdc_debezium_snapshot_running == 1) and on (connect_cluster, connector) (cdc_debezium_snapshot_running offset {snapshot_stall} == 1)) "
            "unless on (connect_cluster, connector) "
            "(changes(cdc_debezium_snapshot_remaining_tables[{snapshot_stall}]) > 0 "
            "or sum by (connect_cluster, connector) (changes(cdc_debezium_snapshot_rows_scanned[{snapshot_stall}])) > 0)"
        ),
        detect=_snapshot_stalled,
        thresholds=("snapshot_stall",),
    ),
    Rule(
        name="CdcOffsetCommitsFailing",
        severity=Severity.WARNING,
        default_for=5 * _M,
        summary="A task fails to commit its source offsets.",
        description="Task {task} of connector {connector} on Connect cluster {connect_cluster} fails more than {offset_commit_failure_ratio} of its offset commits; after a restart it would re-read changes.",
        anchor="cdcoffsetcommitsfailing",
        labels=("connect_cluster", "connector", "task"),
        promql="cdc_task_offset_commit_failure_ratio > {offset_commit_failure_ratio}",
        detect=_offset_commits,
        thresholds=("offset_commit_failure_ratio",),
    ),
    Rule(
        name="CdcPrerequisiteDrift",
        severity=Severity.CRITICAL,
        default_for=1 * _M,
        summary="A database setting Debezium needs has changed.",
        description="Database {database} no longer has the {setting} Debezium needs.",
        anchor="cdcprerequisitedrift",
        labels=("database", "setting"),
        promql="cdc_mysql_setting_ok == 0",
        detect=_settings,
    ),
    Rule(
        name="CdcPrivilegeMissing",
        severity=Severity.CRITICAL,
        default_for=1 * _M,
        summary="A connector's database user lacks a privilege Debezium needs.",
        description="A connector database user on database {database} lacks the {privilege} privilege Debezium needs (cdc_mysql_user_privilege_ok names the user).",
        anchor="cdcprivilegemissing",
        labels=("database", "privilege"),
        promql="cdc_mysql_privilege_ok == 0",
        detect=_privileges,
    ),
    Rule(
        name="CdcSchemaHistoryTopicUnsafe",
        severity=Severity.WARNING,
        # Debezium creates its history topic at a connector's first start: a new connector's
        # topic may be missing for a snapshot's first moments. A truncation takes days to bite.
        default_for=10 * _M,
        summary="A Debezium connector's schema history topic can lose history.",
        description="The schema history topic of connector {connector} on Connect cluster {connect_cluster} is missing, has more than one partition, a finite retention or compaction: once history is lost the connector cannot restart.",
        anchor="cdcschemahistorytopicunsafe",
        labels=("connect_cluster", "connector"),
        promql="min by (connect_cluster, connector) (cdc_schema_history_topic_ok) == 0",
        detect=_schema_history_topic,
    ),
    Rule(
        name="CdcFailoverDetected",
        severity=Severity.INFO,
        default_for=0.0,
        summary="The database behind a configured endpoint changed (failover).",
        description="Database {database} failed over (server identity or read_only changed) within the last {failover_window}.",
        anchor="cdcfailoverdetected",
        labels=("database",),
        promql="increase(cdc_mysql_failovers_total[{failover_window}]) > 0",
        detect=_failover_detected,
        thresholds=("failover_window",),
    ),
    Rule(
        name="CdcCanaryStale",
        severity=Severity.CRITICAL,
        default_for=0.0,  # canary_stale is the hold: no probe reached the topic for that long
        summary="No canary change has reached the connector's topic for too long.",
        description="No freshness canary row written to the source database has reached the topic of connector {connector} on Connect cluster {connect_cluster} for {canary_stale}, while Connect reports it and its tasks RUNNING.",
        anchor="cdccanarystale",
        labels=("connect_cluster", "connector"),
        promql=(
            "(time() - cdc_canary_last_success_timestamp_seconds > {canary_stale_seconds})"
            " and on (connect_cluster, connector) (cdc_canary_active == 1)"
        ),
        detect=_canary_stale,
        thresholds=("canary_stale",),
    ),
)

BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


# --------------------------------------------------------------------------- settings and text


def format_duration(seconds: float) -> str:
    """Prometheus-style duration: 90 -> "1m30s", 3600 -> "1h", 0 -> "0s"."""
    total = round(seconds)
    if total == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            out += f"{total // size}{unit}"
            total %= size
    return out


def for_of(rule: Rule, cfg: RulesConfig) -> float:
    override = cfg.overrides.get(rule.name)
    return override.for_ if override is not None and override.for_ is not None else rule.default_for


def severity_of(rule: Rule, cfg: RulesConfig) -> Severity:
    override = cfg.overrides.get(rule.name)
    return Severity(override.severity) if override is not None and override.severity is not None else rule.severity


def enabled(rule: Rule, cfg: RulesConfig) -> bool:
    override = cfg.overrides.get(rule.name)
    return override is None or override.enabled


def _thresholds(rule: Rule, cfg: RulesConfig) -> dict[str, str]:
    values: dict[str, str] = {"for": format_duration(for_of(rule, cfg))}
    for name in rule.thresholds:
        value = getattr(cfg, name)
        values[name] = format_duration(value) if name in DURATION_THRESHOLDS else f"{value:g}"
        values[f"{name}_seconds"] = f"{value:g}"
    return values


DURATION_THRESHOLDS = frozenset(
    {"worker_memory", "streaming_lag", "purge_eta", "snapshot_stall", "failover_window", "canary_stale"}
)


def promql(rule: Rule, cfg: RulesConfig) -> str:
    """The rule's PromQL with this config's thresholds substituted."""
    return rule.promql.format(**_thresholds(rule, cfg))


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def describe(rule: Rule, key: AlertKey, cfg: RulesConfig) -> str:
    values = _Blank(_thresholds(rule, cfg))
    values.update(dict(key.labels))
    return rule.description.format_map(values)


def runbook_url(rule: Rule, base: str) -> str:
    return f"{base}#{rule.anchor}"


def prometheus_rule(rule: Rule, cfg: RulesConfig, runbook_base: str) -> dict[str, Any]:
    """The rule as a Prometheus alerting rule (for the issue-8 generator and its tests)."""
    labelled = {label: f"{{{{ $labels.{label} }}}}" for label in rule.labels}
    description = rule.description.format_map(_Blank({**_thresholds(rule, cfg), **labelled}))
    expr = promql(rule, cfg)
    now_expr = promql_now(rule, cfg)
    if now_expr is not None:  # those page at once through the rule's fast twin (`prometheus_rule_now`)
        expr = f"({expr}) unless on ({', '.join(rule.labels)}) ({now_expr})"
    body: dict[str, Any] = {
        "alert": rule.name,
        "expr": expr,
        "for": format_duration(for_of(rule, cfg)),
        "labels": {"severity": str(severity_of(rule, cfg))},
        "annotations": {
            "summary": rule.summary,
            "description": description,
            "runbook_url": runbook_url(rule, runbook_base),
        },
    }
    if cfg.keep_firing_for > 0:
        body["keep_firing_for"] = format_duration(cfg.keep_firing_for)
    return body


def promql_now(rule: Rule, cfg: RulesConfig) -> str | None:
    """The PromQL of the rule's subjects that page at once, or None (no such subjects, or the
    rule's `for` is 0 anyway)."""
    if rule.promql_now is None or for_of(rule, cfg) == 0:
        return None
    return rule.promql_now.format(**_thresholds(rule, cfg))


def prometheus_rule_now(rule: Rule, cfg: RulesConfig, runbook_base: str) -> dict[str, Any] | None:
    """The rule's fast twin for Prometheus (same alert, `for: 0s`), e.g. non-retriable failures."""
    expr = promql_now(rule, cfg)
    if expr is None:
        return None
    body = prometheus_rule(rule, cfg, runbook_base)
    return {**body, "expr": expr, "for": "0s"}


# --------------------------------------------------------------------------- evaluation


class _Inputs:
    """The snapshot plus a cache of joins several rules share, for one evaluation only, and
    what remediation is doing (read by the failure rules)."""

    def __init__(self, snapshot: Snapshot, remediation: Remediation | None = None):
        self.snapshot = snapshot
        self.cache: dict[str, Any] = {}
        self.remediation = remediation

    def __getattr__(self, name: str) -> Any:
        return getattr(self.snapshot, name)


# Shape of one memory item (key, value) of each rule that keeps memory.
_MEMORY_ITEM_OK: dict[str, Callable[[Any, Any], bool]] = {
    "CdcWorkerLost": lambda _cluster, items: (
        isinstance(items, Mapping) and all(_worker_item_ok(i, t) for i, t in items.items())
    ),
    "CdcNotStreaming": lambda _k, v: (  # 4 items: the form before time-ordered readings, ignored
        isinstance(v, list) and len(v) in (4, 5) and isinstance(v[0], str) and all(_number(x) for x in v[1:])
    ),
    "CdcSnapshotStalled": lambda _k, v: isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and _number(v[1]),
    "CdcFailoverDetected": lambda _k, v: (
        isinstance(v, list) and len(v) == 2 and _number(v[0]) and (v[1] is None or _number(v[1]))
    ),
}


def check_memory(memory: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Persisted rule memory with every item of the wrong shape dropped, and the rules that had
    some (so a hand-edited or older state file can never make every evaluation raise)."""
    clean: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in memory.items():
        if name not in BY_NAME:
            continue  # a rule this version no longer has
        item_ok = _MEMORY_ITEM_OK.get(name)
        if item_ok is None:
            clean[name] = value
            continue
        if not isinstance(value, Mapping):
            problems.append(name)
            continue
        kept = {k: v for k, v in value.items() if isinstance(k, str) and item_ok(k, v)}
        if len(kept) != len(value):
            problems.append(name)
        clean[name] = kept
    return clean, problems


def _blind_for(labels: Labels, blind: frozenset[Labels]) -> bool:
    have = set(labels)
    return any(set(scope) <= have for scope in blind)


def _deleted(snapshot: Snapshot) -> frozenset[Labels]:
    """(connect_cluster, connector) scopes Connect confirmed deleted in its latest poll."""
    readable, _blind = _connect_states(snapshot)
    return frozenset(
        make_labels(connect_cluster=cluster, connector=name)
        for cluster, state in readable.items()
        for name in state.deleted
    )


def _connector_scope(key: AlertKey) -> Labels | None:
    connector = key.label("connector")
    return None if connector is None else make_labels(connect_cluster=key.label("connect_cluster"), connector=connector)


def _fold_superseded(entries: dict[AlertKey, AlertEntry], transitions: list[Transition], now: float) -> None:
    """One failure, one page: while an alert fires, the alerts it supersedes on the same
    connector are folded into it. A superseded alert still pending is dropped; one firing is
    resolved with reason "superseded" (the notifier sends no separate resolve for it), one that
    would fire in this very evaluation never fires. A superseding alert still pending leaves a
    firing one alone (its restart may yet heal the failure) but stops pending ones."""
    by_scope: dict[Labels, list[AlertEntry]] = {}
    for entry in entries.values():
        scope = _connector_scope(entry.key)
        if scope is not None:
            by_scope.setdefault(scope, []).append(entry)
    fired_now = {t.entry.key: t for t in transitions if t.change is Change.FIRED}
    for group in by_scope.values():
        for winner in sorted(group, key=lambda e: e.phase is not Phase.FIRING):
            rule = BY_NAME.get(winner.key.alert)
            if rule is None or not rule.supersedes or winner.key not in entries:
                continue
            for victim in group:
                if victim.key.alert not in rule.supersedes or victim.key not in entries:
                    continue
                just_fired = fired_now.get(victim.key)
                if victim.phase is Phase.PENDING or just_fired is not None:
                    if winner.phase is Phase.FIRING or victim.phase is Phase.PENDING:
                        del entries[victim.key]
                        if just_fired is not None:
                            transitions.remove(just_fired)
                    continue
                if winner.phase is Phase.FIRING:
                    del entries[victim.key]
                    transitions.append(
                        Transition(Change.RESOLVED, victim, now, Resolution.SUPERSEDED, winner.key.alert)
                    )
                    _note_folded(entries, transitions, winner.key, victim.key.alert)


def _note_folded(entries: dict[AlertKey, AlertEntry], transitions: list[Transition], key: AlertKey, alert: str) -> None:
    """The superseding alert's evidence says what it took over (on its FIRED transition too)."""
    entry = entries[key]
    fact = ("supersedes", alert)
    if fact in entry.evidence.facts:
        return
    updated = replace(entry, evidence=replace(entry.evidence, facts=(*entry.evidence.facts, fact)))
    entries[key] = updated
    for i, t in enumerate(transitions):
        if t.change is Change.FIRED and t.entry.key == key:
            transitions[i] = replace(t, entry=updated)


def evaluate(
    previous: AlertState,
    snapshot: Snapshot,
    now: float,
    cfg: RulesConfig,
    remediation: Remediation | None = None,
) -> tuple[AlertState, list[Transition]]:
    """`remediation`: what the remediation runner does (None: it is off), which decides how soon
    a retriable failure pages (see `failure_hold`)."""
    entries: dict[AlertKey, AlertEntry] = {}
    memory = dict(previous.memory)
    transitions: list[Transition] = []
    inputs: Any = _Inputs(snapshot, remediation)
    deleted = _deleted(snapshot)
    by_rule: dict[str, list[AlertEntry]] = {}
    for previous_entry in previous.entries.values():
        by_rule.setdefault(previous_entry.key.alert, []).append(previous_entry)

    for rule in RULES:
        old_entries = by_rule.pop(rule.name, [])
        if not enabled(rule, cfg):
            transitions += [
                Transition(Change.RESOLVED, e, now, Resolution.DISABLED) for e in old_entries if e.phase is Phase.FIRING
            ]
            continue
        observation = rule.detect(inputs, cfg, previous.memory.get(rule.name), now)
        if observation.memory is not None:
            memory[rule.name] = observation.memory
        rule_for = for_of(rule, cfg)
        severity = severity_of(rule, cfg)
        old = {e.key: e for e in old_entries}
        for labels, evidence in observation.verdicts.items():
            if deleted and _blind_for(labels, deleted):
                continue  # its connector is gone: resolved below
            key = AlertKey(rule.name, labels)
            entry: AlertEntry | None = old.pop(key) if key in old else None
            if evidence is not None:
                if entry is None:
                    entry = AlertEntry(
                        key=key, severity=severity, phase=Phase.PENDING, active_since=now, evidence=evidence
                    )
                else:
                    entry = replace(entry, evidence=evidence, severity=severity, cleared_since=None, unseen_since=None)
                hold_for = min(rule_for, observation.hold.get(labels, rule_for))
                if entry.phase is Phase.PENDING and now - entry.active_since >= hold_for:
                    entry = replace(entry, phase=Phase.FIRING, fired_at=now)
                    transitions.append(Transition(Change.FIRED, entry, now))
                entries[key] = entry
            elif entry is not None and entry.phase is Phase.FIRING:
                cleared = entry.cleared_since if entry.cleared_since is not None else now
                if now - cleared >= cfg.keep_firing_for:
                    transitions.append(Transition(Change.RESOLVED, entry, now, Resolution.CLEARED))
                else:
                    entries[key] = replace(entry, cleared_since=cleared, unseen_since=None)
            # a pending entry whose condition cleared is dropped without a word
        for key, entry in old.items():  # not judged this time
            if deleted and _blind_for(key.labels, deleted):
                if entry.phase is Phase.FIRING:  # confirmed deleted: no need to wait vanished_after
                    transitions.append(Transition(Change.RESOLVED, entry, now, Resolution.DELETED))
                continue
            if _blind_for(key.labels, observation.blind):
                entries[key] = entry  # its input is unreadable: hold
                continue
            unseen = entry.unseen_since if entry.unseen_since is not None else now
            if now - unseen >= cfg.vanished_after:
                if entry.phase is Phase.FIRING:
                    transitions.append(Transition(Change.RESOLVED, entry, now, Resolution.VANISHED))
            else:
                entries[key] = replace(entry, unseen_since=unseen)

    for leftovers in by_rule.values():  # rules this version no longer has
        transitions += [
            Transition(Change.RESOLVED, e, now, Resolution.REMOVED) for e in leftovers if e.phase is Phase.FIRING
        ]
    _fold_superseded(entries, transitions, now)
    return AlertState(MappingProxyType(entries), MappingProxyType(memory)), transitions


ALERT_NAMES: frozenset[str] = frozenset(BY_NAME)  # what `alerting.rules.overrides` may name
