"""Builds real Snapshot values from the scenario table's compact input states."""

from __future__ import annotations

from types import MappingProxyType

from cdc_watch.core.model import (
    ErrorReason,
    PollResult,
    SourceError,
    SourceStatus,
)
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
    TaskStatus,
)
from cdc_watch.sources.jolokia.model import (
    EndpointReading,
    Group,
    JolokiaClusterState,
    SnapshotMetrics,
    StreamingMetrics,
)
from cdc_watch.sources.kafka.canary import CanaryState, ProbeResult
from cdc_watch.sources.kafka.model import CHECKS, Check, CheckResult, HistoryTopic, KafkaClusterState
from cdc_watch.sources.mysql.model import DatabaseState, Endpoint, FileSeen, Identity
from cdc_watch.sources.mysql.parse import (
    BinlogFile,
    Flavour,
    HeadPosition,
    PrivilegeCheck,
    ServerInfo,
    SettingCheck,
)

TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: Error reading MySQL variables: Communications link failure\n"
    "\tat io.debezium.connector.binlog.jdbc.BinlogConnectorConnection.querySystemVariables(BinlogConnectorConnection.java:114)\n"
    "Caused by: com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure\n"
    "\tat com.mysql.cj.jdbc.exceptions.SQLError.createCommunicationsException(SQLError.java:175)\n"
    "Caused by: java.net.ConnectException: Connection refused\n"
)


def cluster_state(
    cluster: str, connectors: dict, trace: str | None = None, deleted: tuple[str, ...] = ()
) -> ConnectClusterState:
    """`trace`: the trace of every FAILED connector and task (default TRACE, read at call time)."""
    trace = TRACE if trace is None else trace
    statuses = {}
    for name, (state, tasks) in connectors.items():
        task_list = []
        for task_id, spec in tasks.items():
            task_state, _, worker = spec.partition("@")
            failed = task_state == "FAILED"
            task_list.append(
                TaskStatus(id=task_id, state=State.parse(task_state), worker_id=worker, trace=trace if failed else None)
            )
        statuses[name] = ConnectorStatus(
            name=name,
            type="source",
            state=State.parse(state),
            worker_id="w1:8083",
            tasks=tuple(task_list),
            settings=ConnectorSettings(
                connector_class="io.debezium.connector.mysql.MySqlConnector",
                topic_prefix=name,
                database_hostname="db1.example",
                database_port=3306,
            ),
            trace=trace if state == "FAILED" else None,
        )
    return ConnectClusterState(
        cluster, "http://w1:8083", "3.9.0", "abc", "kc", MappingProxyType(statuses), deleted=frozenset(deleted)
    )


def snapshot_for(step, sources, at: float, trace: str | None = None) -> Snapshot:
    out = {}
    for name, kind in sources:
        if kind == "connect":
            cluster = name.split(":", 1)[1]
            connectors = step.clusters.get(cluster)
            if connectors is None:
                result = PollResult(
                    name, kind, at, 0.1, error=SourceError(ErrorReason.CONNECT, "connection refused by 127.0.0.1:8083")
                )
            else:
                state = cluster_state(cluster, connectors, trace or getattr(step, "trace", None), step.deleted)
                result = PollResult(name, kind, at, 0.1, data=state)
        else:
            failing = name in step.down
            result = PollResult(
                name,
                kind,
                at,
                0.1,
                data=None if failing else object(),
                error=SourceError(ErrorReason.TIMEOUT, "timed out") if failing else None,
            )
        out[name] = SourceStatus(source=name, kind=kind).with_result(result)
    return Snapshot(MappingProxyType(out))


# ------------------------------------------------------------------ Jolokia and MySQL inputs

DB_HOST = "db1.example"


def canary_state(database: str, spec: dict, start: float, cluster: str = "prod") -> CanaryState:
    """A canary round: per connector, outcome and the scenario times of its last success and of
    the start of its run of probes (absent while skipped)."""
    probes = {}
    for connector, item in spec.items():
        outcome = item.get("outcome", "ok")
        last = item.get("last_success")
        since = item.get("since")
        probes[(cluster, connector)] = ProbeResult(
            cluster,
            connector,
            f"{connector}.cdc_watch.cdc_canary",
            outcome,
            "" if outcome == "ok" else "not on the topic within 30s" if outcome == "lost" else "connector PAUSED",
            item.get("latency", 0.4) if last is not None else None,
            None if last is None else start + last,
            None if outcome == "skipped" or since is None else start + since,
            MappingProxyType({outcome: 1}),
        )
    return CanaryState(database, "cdc_watch.cdc_canary", MappingProxyType(probes))


def database_state(name: str, spec: dict, at: float, start: float) -> DatabaseState:
    files = tuple(BinlogFile(f, spec.get("file_size", 10_000)) for f in spec.get("files", ("mysql-bin.000001",)))
    head_file, head_pos = spec.get("head", (files[-1].name, 500))
    settings = tuple(
        SettingCheck(k, v, f"{k} is {'right' if v else 'wrong'}")
        for k, v in spec.get("settings", {"binlog_format": True}).items()
    )
    privileges = {
        user: tuple(PrivilegeCheck(p, ok, f"{p} {'granted' if ok else 'missing'}") for p, ok in checks.items())
        for user, checks in spec.get("privileges", {"cdc": {"replication_slave": True}}).items()
    }
    seen = {f: FileSeen(start + offset, True) for f, offset in spec.get("seen", {}).items()}
    return DatabaseState(
        endpoint=Endpoint(name, DB_HOST, 3306),
        server=ServerInfo(Flavour.MARIADB, (10, 11, 6), "10.11.6-MariaDB"),
        polled_at=at,
        identity=Identity(spec.get("server_uuid", "uuid-1"), str(spec.get("server_id", 1)), False),
        head=HeadPosition(head_file, head_pos),
        files=files,
        retention_seconds=spec.get("retention", 0.0),
        gtid_mode=False,
        gtid_executed="",
        gtid_purged="",
        settings=settings,
        privileges=MappingProxyType(privileges),
        unknown_checks=MappingProxyType({}),
        failovers=spec.get("failovers", 0),
        written_bytes=spec.get("written", 0),
        write_rate=None,
        seen=MappingProxyType(seen),
    )


def jolokia_state(
    cluster: str, per_connector: dict, members: tuple[str, ...] = (), silent: tuple[str, ...] = ()
) -> JolokiaClusterState:
    streaming, snapshots, present, tasks = {}, {}, {}, {}
    for name, spec in per_connector.items():
        present[name] = MappingProxyType({0: spec.get("present", True)})
        if spec.get("present", True) and "position" in spec:
            file, pos = spec["position"]
            streaming[name] = StreamingMetrics(
                binlog_filename=file,
                binlog_position=pos,
                connected=spec.get("connected", True),
                ms_behind_source=spec.get("behind", 0.0) * 1000,
                ms_since_last_event=spec.get("since_event", 1.0) * 1000,
            )
        if "snapshot" in spec:
            snap = spec["snapshot"]
            snapshots[name] = SnapshotMetrics(
                running=snap.get("running"),
                completed=snap.get("completed"),
                aborted=snap.get("aborted"),
                remaining_tables=snap.get("remaining", 0),
                rows_scanned=MappingProxyType(snap.get("rows", {})),
            )
        if "commit_failure" in spec:
            tasks[(name, 0)] = MappingProxyType(
                {Group.CONNECTOR_TASK: MappingProxyType({"offset-commit-failure-percentage": spec["commit_failure"]})}
            )
    return JolokiaClusterState(
        cluster=cluster,
        endpoints=MappingProxyType(
            {w: EndpointReading(endpoint=w, worker_id=w, agent_version="2.1.0", protocol="7.2") for w in members}
            | {
                w: EndpointReading(
                    endpoint=w, worker_id=w, error=SourceError(ErrorReason.CONNECT, "connection refused")
                )
                for w in silent
            }
        ),
        tasks=MappingProxyType(tasks),
        streaming=MappingProxyType(streaming),
        snapshots=MappingProxyType(snapshots),
        streaming_present=MappingProxyType(present),
        joined=True,
    )


def history_state(cluster: str, per_connector: dict) -> KafkaClusterState:
    """{connector: {check: ok}} -> the Kafka source's state; unnamed checks pass, a missing
    topic ({"exists": False}) has only its exists check."""
    history = {}
    for name, spec in per_connector.items():
        if spec.get("exists", True) is False:
            checks: tuple[CheckResult, ...] = (CheckResult(Check.EXISTS, False, "not listed"),)
        else:
            checks = tuple(CheckResult(c, spec.get(c.value, True), f"{c.value} as given") for c in CHECKS)
        partitions = None if spec.get("exists", True) is False else (1 if spec.get("partitions", True) else 3)
        history[name] = HistoryTopic(name, f"schema-history.{name}", checks, partitions, 0.0)
    return KafkaClusterState(cluster, "kc", 1, len(history), MappingProxyType(history))


def full_snapshot(step, sources, at: float, start: float) -> Snapshot:
    """Like snapshot_for, plus connect_offsets, jolokia and mysql sources from the step."""
    out = dict(snapshot_for(step, [s for s in sources if s[1] == "connect"], at).sources)
    for name, kind in sources:
        if kind == "connect":
            continue
        failing = name in step.down
        if failing:
            result = PollResult(name, kind, at, 0.1, error=SourceError(ErrorReason.TIMEOUT, "timed out"))
        elif kind == "connect_offsets":
            data = MappingProxyType(
                {c: (({"server": c}, {"file": f, "pos": p}),) for c, (f, p) in step.offsets.items()}
            )
            result = PollResult(name, kind, at, 0.1, data=data)
        elif kind == "jolokia":
            state = jolokia_state(name.split(":", 1)[1], step.jolokia, step.members, step.silent)
            result = PollResult(name, kind, at, 0.1, data=state)
        elif kind == "kafka":
            result = PollResult(name, kind, at, 0.1, data=history_state(name.split(":", 1)[1], step.kafka))
        elif kind == "mysql":
            db = name.split(":", 1)[1]
            result = PollResult(name, kind, at, 0.1, data=database_state(db, step.databases.get(db, {}), at, start))
        elif kind == "canary":
            result = PollResult(name, kind, at, 0.1, data=canary_state(name.split(":", 1)[1], step.canary, start))
        else:
            result = PollResult(name, kind, at, 0.1, data=object())
        out[name] = SourceStatus(source=name, kind=kind).with_result(result)
    return Snapshot(MappingProxyType(out))
