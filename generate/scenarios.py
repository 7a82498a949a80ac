"""The alert scenarios: one table that drives the tests of the daemon's own rules
(tests/unit/test_rules.py) and, later, the promtool tests of the shipped Prometheus rules.

Each scenario is a timeline of input states, one per step, and the exact set of alerts that
must be firing after that step. Inputs are stated in terms of what cdc_watch observes, which
maps one-to-one onto exported metrics:

- `clusters[name]` is None when the Connect REST poll fails (cdc_connect_up == 0), else a map
  connector -> (connector state, {task id: "STATE@worker"}) (cdc_connector_state,
  cdc_task_state, cdc_task_worker_info);
- `down` lists other sources whose poll fails (cdc_source_up == 0).

Defaults: `for` CdcTaskFailed/CdcConnectorFailed 1m, CdcTaskUnassigned 6m,
CdcConnectUnreachable 2m, CdcSourceUnreadable 2m, CdcWorkerLost 1m; keep_firing_for 1m;
vanished_after 5m (see docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Connectors = dict[str, tuple[str, dict[int, str]]]
Firing = frozenset[tuple[str, tuple[tuple[str, str], ...]]]


def key(alert: str, **labels: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    return alert, tuple(sorted((k, str(v)) for k, v in labels.items()))


@dataclass(frozen=True)
class Step:
    at: float  # seconds since the scenario started
    clusters: Mapping[str, Connectors | None]
    firing: Firing = frozenset()
    down: tuple[str, ...] = ()  # other failing sources, e.g. "jolokia:prod"
    # Database state per configured database (mysql:<name>): files, head, written bytes,
    # retention, settings, privileges, failovers (see generate/snapshots.py).
    databases: dict[str, dict[str, Any]] = field(default_factory=dict)
    offsets: dict[str, tuple[str, int]] = field(default_factory=dict)  # committed offsets (connect_offsets:prod)
    jolokia: dict[str, dict[str, Any]] = field(default_factory=dict)  # per connector: Debezium MBeans (jolokia:prod)
    deleted: tuple[str, ...] = ()  # connectors Connect confirmed deleted in this poll
    trace: str | None = None  # the trace of every FAILED connector and task (default: a retriable one)
    members: tuple[str, ...] = ()  # workers whose Jolokia endpoint answered (jolokia:prod)
    silent: tuple[str, ...] = ()  # workers whose Jolokia endpoint failed in a poll others answered
    # The freshness canary round (canary:db1), per connector: outcome ok|lost|skipped, and the
    # scenario times of the last success and of the start of the run of probes.
    canary: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Schema history topic checks per connector (kafka:prod): {check: ok}, unnamed checks pass;
    # {"exists": False} is a missing topic (see generate/snapshots.py history_state).
    kafka: dict[str, dict[str, bool | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    sources: tuple[tuple[str, str], ...] = (("connect:prod", "connect"),)  # (name, kind)
    config: dict[str, Any] = field(default_factory=dict)  # alerting.rules overrides


ACCESS_DENIED = (
    "org.apache.kafka.connect.errors.ConnectException: Error while connecting: Access denied for user 'cdc'@'10.0.0.1' (using password: YES)\n"
    "Caused by: java.sql.SQLException: Access denied for user 'cdc'@'10.0.0.1' (using password: YES)\n"
)


def _ok(
    task_state: str = "RUNNING", connector_state: str = "RUNNING", worker: str = "w1:8083"
) -> dict[str, Connectors]:
    return {"prod": {"orders": (connector_state, {0: f"{task_state}@{worker}"})}}


TASK_ORDERS = key("CdcTaskFailed", connect_cluster="prod", connector="orders", task=0)
CONNECTOR_ORDERS = key("CdcConnectorFailed", connect_cluster="prod", connector="orders")
UNREACHABLE = key("CdcConnectUnreachable", connect_cluster="prod")
HISTORY_ORDERS = frozenset({key("CdcSchemaHistoryTopicUnsafe", connect_cluster="prod", connector="orders")})
KAFKA_DOWN = key("CdcSourceUnreadable", source="kafka:prod")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "task_failed_both_sides_of_for_then_resolves",
        (
            Step(0, _ok()),
            Step(15, _ok("FAILED")),
            Step(74, _ok("FAILED")),  # 59 s into `for`: still pending
            Step(75, _ok("FAILED"), frozenset({TASK_ORDERS})),  # `for` elapsed
            Step(90, _ok(), frozenset({TASK_ORDERS})),  # recovered, kept for keep_firing_for
            Step(149, _ok(), frozenset({TASK_ORDERS})),
            Step(150, _ok()),  # resolved
        ),
    ),
    Scenario(
        "task_failed_non_retriable_pages_at_the_first_poll",
        (
            Step(0, _ok()),
            Step(15, _ok("FAILED"), frozenset({TASK_ORDERS}), trace=ACCESS_DENIED),  # no `for`: a restart cannot help
            Step(30, _ok(), frozenset({TASK_ORDERS})),
            Step(90, _ok()),
        ),
    ),
    Scenario(
        "connector_deleted_while_firing_resolves_at_the_next_poll",
        (
            Step(0, _ok("FAILED")),
            Step(60, _ok("FAILED"), frozenset({TASK_ORDERS})),
            Step(75, {"prod": {}}, deleted=("orders",)),  # confirmed deleted: resolved at once
            Step(90, {"prod": {}}),
        ),
    ),
    Scenario(
        "task_failed_flapping_never_fires",
        tuple(Step(t, _ok("FAILED" if (t // 15) % 2 else "RUNNING")) for t in range(0, 301, 15)),
    ),
    Scenario(
        "task_failed_refires_within_keep_firing_for_without_resolving",
        (
            Step(0, _ok("FAILED")),
            Step(60, _ok("FAILED"), frozenset({TASK_ORDERS})),
            Step(75, _ok(), frozenset({TASK_ORDERS})),
            Step(90, _ok("FAILED"), frozenset({TASK_ORDERS})),
            Step(180, _ok("FAILED"), frozenset({TASK_ORDERS})),
        ),
    ),
    Scenario(
        "connector_failed",
        (
            Step(0, _ok(connector_state="FAILED")),
            Step(59, _ok(connector_state="FAILED")),
            Step(60, _ok(connector_state="FAILED"), frozenset({CONNECTOR_ORDERS})),
            Step(120, _ok(), frozenset({CONNECTOR_ORDERS})),
            Step(180, _ok()),
        ),
    ),
    Scenario(
        "task_unassigned_longer_than_rebalance_delay",
        (
            Step(0, _ok("UNASSIGNED", worker="")),
            Step(359, _ok("UNASSIGNED", worker="")),
            Step(
                360,
                _ok("UNASSIGNED", worker=""),
                frozenset({key("CdcTaskUnassigned", connect_cluster="prod", connector="orders", task=0)}),
            ),
        ),
    ),
    Scenario(
        "task_unassigned_during_a_normal_rebalance_is_quiet",
        (
            Step(0, _ok()),
            Step(15, _ok("UNASSIGNED", worker="")),
            Step(300, _ok("UNASSIGNED", worker="")),
            Step(315, _ok(worker="w2:8083")),
        ),
    ),
    Scenario(
        "connect_unreachable_both_sides_of_for",
        (
            Step(0, _ok()),
            Step(15, {"prod": None}),
            Step(134, {"prod": None}),
            Step(135, {"prod": None}, frozenset({UNREACHABLE})),
            Step(150, _ok(), frozenset({UNREACHABLE})),
            Step(210, _ok()),
        ),
    ),
    Scenario(
        "unreadable_cluster_holds_alerts_instead_of_resolving_them",
        (
            Step(0, _ok("FAILED")),
            Step(60, _ok("FAILED"), frozenset({TASK_ORDERS})),
            Step(75, {"prod": None}, frozenset({TASK_ORDERS})),  # cannot see: hold
            Step(400, {"prod": None}, frozenset({TASK_ORDERS, UNREACHABLE})),
            Step(415, _ok(), frozenset({TASK_ORDERS, UNREACHABLE})),
            Step(475, _ok()),
        ),
    ),
    Scenario(
        "unreadable_cluster_does_not_fire_new_alerts",
        (
            Step(0, _ok()),
            Step(15, {"prod": None}),
            Step(100, {"prod": None}),
            Step(200, {"prod": None}, frozenset({UNREACHABLE})),
        ),
    ),
    Scenario(
        "connector_missing_from_one_reply_is_not_resolved_at_once",
        (
            Step(0, _ok("FAILED")),
            Step(60, _ok("FAILED"), frozenset({TASK_ORDERS})),
            Step(75, {"prod": {}}, frozenset({TASK_ORDERS})),
            Step(90, _ok("FAILED"), frozenset({TASK_ORDERS})),
            Step(105, {"prod": {}}, frozenset({TASK_ORDERS})),
            Step(404, {"prod": {}}, frozenset({TASK_ORDERS})),
            Step(405, {"prod": {}}),  # gone for vanished_after (5m): resolved
        ),
    ),
    Scenario(
        "worker_lost_when_its_tasks_move",
        (
            Step(0, {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w2:8083"})}}),
            Step(15, {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w1:8083"})}}),
            Step(74, {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w1:8083"})}}),
            Step(
                75,
                {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w1:8083"})}},
                frozenset({key("CdcWorkerLost", connect_cluster="prod", worker="w2:8083")}),
            ),
            Step(
                90,
                {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w2:8083"})}},
                frozenset({key("CdcWorkerLost", connect_cluster="prod", worker="w2:8083")}),
            ),
            Step(150, {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w2:8083"})}}),
        ),
    ),
    Scenario(
        "worker_lost_resolves_when_it_rejoins_without_tasks",
        (
            Step(
                0,
                {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w2:8083"})}},
                members=("w1:8083", "w2:8083"),
            ),
            Step(
                15,
                {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w1:8083"})}},
                members=("w1:8083",),
            ),
            Step(
                75,
                {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w1:8083"})}},
                frozenset({key("CdcWorkerLost", connect_cluster="prod", worker="w2:8083")}),
                members=("w1:8083",),
            ),
            # w2 rejoined: a member again, though it runs nothing yet
            Step(
                90,
                {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w1:8083"})}},
                frozenset({key("CdcWorkerLost", connect_cluster="prod", worker="w2:8083")}),
                members=("w1:8083", "w2:8083"),
            ),
            Step(
                150,
                {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w1:8083"})}},
                members=("w1:8083", "w2:8083"),
            ),
            Step(
                1200,
                {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w1:8083"})}},
                members=("w1:8083", "w2:8083"),
            ),
        ),
        sources=(("connect:prod", "connect"), ("jolokia:prod", "jolokia")),
    ),
    Scenario(
        "deleting_a_connector_is_not_a_lost_worker",
        (
            Step(0, {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"}), "b": ("RUNNING", {0: "RUNNING@w2:8083"})}}),
            Step(15, {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"})}}),
            Step(300, {"prod": {"a": ("RUNNING", {0: "RUNNING@w1:8083"})}}),
        ),
    ),
    Scenario(
        "source_unreadable_both_sides_of_for",
        (
            Step(0, _ok()),
            Step(15, _ok(), down=("jolokia:prod",)),
            Step(134, _ok(), down=("jolokia:prod",)),
            Step(135, _ok(), frozenset({key("CdcSourceUnreadable", source="jolokia:prod")}), down=("jolokia:prod",)),
            Step(150, _ok(), frozenset({key("CdcSourceUnreadable", source="jolokia:prod")})),
            Step(210, _ok()),
        ),
        sources=(("connect:prod", "connect"), ("jolokia:prod", "jolokia")),
    ),
    Scenario(
        # one worker's Jolokia fails while the other answers: the tasks there are unseen
        "source_unreadable_when_one_jolokia_endpoint_fails",
        (
            Step(0, _ok(), members=("w1:8083", "w2:8083")),
            Step(15, _ok(), members=("w1:8083",), silent=("w2:8083",)),
            Step(134, _ok(), members=("w1:8083",), silent=("w2:8083",)),
            Step(
                135,
                _ok(),
                frozenset({key("CdcSourceUnreadable", source="jolokia:prod")}),
                members=("w1:8083",),
                silent=("w2:8083",),
            ),
            Step(
                150,
                _ok(),
                frozenset({key("CdcSourceUnreadable", source="jolokia:prod")}),
                members=("w1:8083", "w2:8083"),
            ),
            Step(210, _ok(), members=("w1:8083", "w2:8083")),
        ),
        sources=(("connect:prod", "connect"), ("jolokia:prod", "jolokia")),
    ),
    Scenario(
        "for_override_from_config",
        (
            Step(0, _ok("FAILED"), frozenset({TASK_ORDERS})),
            Step(15, _ok(), frozenset()),
        ),
        config={"keep_firing_for": "0s", "overrides": {"CdcTaskFailed": {"for": "0s"}}},
    ),
    Scenario(
        "disabled_rule_never_fires",
        (Step(0, _ok("FAILED")), Step(600, _ok("FAILED"))),
        config={"overrides": {"CdcTaskFailed": {"enabled": False}}},
    ),
)


# ------------------------------------------------------------------ Jolokia- and MySQL-based rules
# Sources: Connect REST, committed offsets, Jolokia and one database ("db1"), which the
# connector "orders" reads (matched by host and port).
ALL_SOURCES = (
    ("connect:prod", "connect"),
    ("connect_offsets:prod", "connect_offsets"),
    ("jolokia:prod", "jolokia"),
    ("mysql:db1", "mysql"),
)
DB_SOURCES = (("connect:prod", "connect"), ("connect_offsets:prod", "connect_offsets"), ("mysql:db1", "mysql"))
FILES = ("mysql-bin.000003", "mysql-bin.000004", "mysql-bin.000005")
HEAD = ("mysql-bin.000005", 5000)
DB_OK: dict[str, Any] = {"files": FILES, "head": HEAD}
STREAMING: dict[str, Any] = {"orders": {"position": HEAD}}
ORDERS_DB: dict[str, Any] = {"connect_cluster": "prod", "connector": "orders", "database": "db1"}
ORDERS: dict[str, Any] = {"connect_cluster": "prod", "connector": "orders"}


def db_step(
    at: float,
    firing: frozenset = frozenset(),
    db: dict | None = None,
    offsets: dict | None = None,
    jolokia: dict | None = None,
    connectors=None,
    down=(),
) -> Step:
    return Step(
        at,
        {"prod": connectors if connectors is not None else {"orders": ("RUNNING", {0: "RUNNING@w1:8083"})}},
        firing,
        down=tuple(down),
        databases={"db1": db if db is not None else DB_OK},
        offsets=offsets if offsets is not None else {"orders": HEAD},
        jolokia=jolokia if jolokia is not None else STREAMING,
    )


LOST = key("CdcBinlogPositionLost", **ORDERS_DB)
AHEAD = {**DB_OK, "head": ("mysql-bin.000005", 9000)}  # the head 4000 bytes past the connector
_FAILED_TASK = {"orders": ("RUNNING", {0: "FAILED@w1:8083"})}
NOT_STREAMING = key("CdcNotStreaming", **ORDERS)
PURGED: dict[str, Any] = {"offsets": {"orders": ("mysql-bin.000002", 1681)}, "jolokia": {"orders": {"present": False}}}

SCENARIOS += (
    Scenario(
        "binlog_position_lost_while_connect_says_running",
        (
            db_step(0),
            db_step(15, **PURGED),
            db_step(74, **PURGED),
            db_step(75, frozenset({LOST}), **PURGED),
            db_step(135, frozenset({LOST, NOT_STREAMING}), **PURGED),  # MBean gone for 2m too
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "binlog_position_unknown_holds_instead_of_resolving",
        (
            db_step(0, **PURGED),
            db_step(60, frozenset({LOST}), **PURGED),
            db_step(75, frozenset({LOST}), offsets={}, jolokia={"orders": {"present": False}}),  # no position known
            db_step(400, frozenset({LOST}), offsets={}, jolokia={"orders": {"present": False}}),
        ),
        sources=DB_SOURCES,
    ),
    Scenario(
        "database_unreadable_holds_binlog_alerts",
        (
            db_step(0, **PURGED),
            db_step(60, frozenset({LOST}), **PURGED),
            db_step(75, frozenset({LOST}), down=("mysql:db1",), **PURGED),
            db_step(
                195, frozenset({LOST, key("CdcSourceUnreadable", source="mysql:db1")}), down=("mysql:db1",), **PURGED
            ),
        ),
        sources=DB_SOURCES,
    ),
    Scenario(
        "failover_detected_and_failover_lost_binlog",
        (
            db_step(0, offsets={"orders": ("mysql-bin.000004", 100)}),
            db_step(
                15,
                frozenset({key("CdcFailoverDetected", database="db1")}),
                db={"files": ("db2-bin.000001",), "head": ("db2-bin.000001", 300), "failovers": 1, "server_id": 2},
                offsets={"orders": ("mysql-bin.000004", 100)},
            ),
            db_step(
                74,
                frozenset({key("CdcFailoverDetected", database="db1")}),
                db={"files": ("db2-bin.000001",), "head": ("db2-bin.000001", 300), "failovers": 1, "server_id": 2},
                offsets={"orders": ("mysql-bin.000004", 100)},
            ),
            db_step(
                75,
                frozenset({key("CdcFailoverDetected", database="db1"), key("CdcFailoverLostBinlog", **ORDERS_DB)}),
                db={"files": ("db2-bin.000001",), "head": ("db2-bin.000001", 300), "failovers": 1, "server_id": 2},
                offsets={"orders": ("mysql-bin.000004", 100)},
            ),
            db_step(
                615,
                frozenset({key("CdcFailoverLostBinlog", **ORDERS_DB)}),
                db={"files": ("db2-bin.000001",), "head": ("db2-bin.000001", 300), "failovers": 1, "server_id": 2},
                offsets={"orders": ("mysql-bin.000004", 100)},
            ),
        ),
        sources=DB_SOURCES,
        config={"keep_firing_for": "0s"},
    ),
    Scenario(
        "binlog_purge_risk_both_sides_of_for",
        (
            db_step(
                0,
                db={**DB_OK, "retention": 3600.0, "seen": {"mysql-bin.000005": 0.0}},
                offsets={"orders": ("mysql-bin.000004", 100)},
            ),
            db_step(
                299,
                db={**DB_OK, "retention": 3600.0, "seen": {"mysql-bin.000005": 0.0}},
                offsets={"orders": ("mysql-bin.000004", 100)},
            ),
            db_step(
                300,
                frozenset({key("CdcBinlogPurgeRisk", **ORDERS_DB)}),
                db={**DB_OK, "retention": 3600.0, "seen": {"mysql-bin.000005": 0.0}},
                offsets={"orders": ("mysql-bin.000004", 100)},
            ),
            # the connector moved on to the head file: ETA is the full retention (1h) -> still < 6h
            db_step(315, frozenset({key("CdcBinlogPurgeRisk", **ORDERS_DB)}), db={**DB_OK, "retention": 3600.0}),
            db_step(
                375, frozenset({key("CdcBinlogPurgeRisk", **ORDERS_DB)}), db={**DB_OK, "retention": 86400.0}
            ),  # retention raised to 1d
            db_step(435, db={**DB_OK, "retention": 86400.0}),  # resolved after keep_firing_for
        ),
        sources=DB_SOURCES,
    ),
    Scenario(
        "binlog_lag_high",
        (
            db_step(0, offsets={"orders": ("mysql-bin.000005", 100)}),
            db_step(299, offsets={"orders": ("mysql-bin.000005", 100)}),
            db_step(
                300, frozenset({key("CdcBinlogLagHigh", **ORDERS_DB)}), offsets={"orders": ("mysql-bin.000005", 100)}
            ),
        ),
        sources=DB_SOURCES,
        config={"binlog_lag_bytes": 1000},
    ),
    Scenario(
        "streaming_lag_high_only_while_events_flow",
        (
            db_step(0, jolokia={"orders": {"position": HEAD, "behind": 600, "since_event": 1}}),
            db_step(299, jolokia={"orders": {"position": HEAD, "behind": 600, "since_event": 1}}),
            db_step(
                300,
                frozenset({key("CdcStreamingLagHigh", **ORDERS)}),
                jolokia={"orders": {"position": HEAD, "behind": 600, "since_event": 1}},
            ),
            # idle: MilliSecondsBehindSource is frozen at the last event; not judged
            db_step(
                360,
                frozenset({key("CdcStreamingLagHigh", **ORDERS)}),
                jolokia={"orders": {"position": HEAD, "behind": 600, "since_event": 3600}},
            ),
            db_step(420, jolokia={"orders": {"position": HEAD, "behind": 600, "since_event": 3600}}),
            db_step(1000, jolokia={"orders": {"position": HEAD, "behind": 600, "since_event": 3600}}),
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "not_streaming_binlog_client_disconnected",
        (
            db_step(0, jolokia={"orders": {"position": HEAD, "connected": False}}),
            db_step(119, jolokia={"orders": {"position": HEAD, "connected": False}}),
            db_step(120, frozenset({NOT_STREAMING}), jolokia={"orders": {"position": HEAD, "connected": False}}),
            db_step(135, frozenset({NOT_STREAMING})),
            db_step(195),
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "not_streaming_position_still_while_head_moves",
        (
            db_step(0, db={**DB_OK, "written": 0}),
            db_step(15, db={**DB_OK, "written": 0}),  # idle database: position still, head still: fine
            db_step(30, db=AHEAD),  # head moved past the position: read after the position was
            db_step(45, db=AHEAD),  # a Jolokia poll after that head reading: still there
            db_step(164, db=AHEAD),
            db_step(165, frozenset({NOT_STREAMING}), db=AHEAD),
            db_step(180, frozenset({NOT_STREAMING}), db=AHEAD, jolokia={"orders": {"position": AHEAD["head"]}}),
            db_step(240, db=AHEAD, jolokia={"orders": {"position": AHEAD["head"]}}),  # caught up: resolved
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "not_streaming_never_at_the_head_of_an_idle_database",
        (
            # a write burst Debezium read between the database poll and the Jolokia poll
            db_step(0, db=DB_OK),
            db_step(15, db=DB_OK, jolokia={"orders": {"position": AHEAD["head"]}}),
            *(db_step(t, db=AHEAD, jolokia={"orders": {"position": AHEAD["head"]}}) for t in range(30, 601, 15)),
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "not_streaming_is_folded_into_task_failed",
        (
            db_step(0, jolokia={"orders": {"position": HEAD, "connected": False}}),
            db_step(120, frozenset({NOT_STREAMING}), jolokia={"orders": {"position": HEAD, "connected": False}}),
            # the task turns FAILED (retriable): CdcNotStreaming is held, not resolved nor re-sent
            db_step(135, frozenset({NOT_STREAMING}), connectors=_FAILED_TASK, jolokia={}),
            # CdcTaskFailed fires: CdcNotStreaming is folded into it at once
            db_step(195, frozenset({TASK_ORDERS}), connectors=_FAILED_TASK, jolokia={}),
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "jolokia_unreadable_holds_not_streaming",
        (
            db_step(0, jolokia={"orders": {"present": False}}),
            db_step(120, frozenset({NOT_STREAMING}), jolokia={"orders": {"present": False}}),
            db_step(135, frozenset({NOT_STREAMING}), down=("jolokia:prod",)),
            db_step(
                255,
                frozenset({NOT_STREAMING, key("CdcSourceUnreadable", source="jolokia:prod")}),
                down=("jolokia:prod",),
            ),
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "snapshot_aborted",
        (
            db_step(0, jolokia={"orders": {"position": HEAD, "snapshot": {"running": True, "rows": {"t": 10}}}}),
            db_step(
                15,
                frozenset({key("CdcSnapshotAborted", **ORDERS)}),
                jolokia={"orders": {"position": HEAD, "snapshot": {"running": False, "aborted": True}}},
            ),
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "snapshot_stalled_both_sides_of_the_window",
        (
            db_step(0, jolokia={"orders": {"snapshot": {"running": True, "rows": {"t": 10}, "remaining": 3}}}),
            db_step(
                600, jolokia={"orders": {"snapshot": {"running": True, "rows": {"t": 5000}, "remaining": 3}}}
            ),  # progress
            db_step(2399, jolokia={"orders": {"snapshot": {"running": True, "rows": {"t": 5000}, "remaining": 3}}}),
            db_step(
                2400,
                frozenset({key("CdcSnapshotStalled", **ORDERS)}),
                jolokia={"orders": {"snapshot": {"running": True, "rows": {"t": 5000}, "remaining": 3}}},
            ),
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "offset_commits_failing",
        (
            db_step(0, jolokia={"orders": {"position": HEAD, "commit_failure": 0.5}}),
            db_step(299, jolokia={"orders": {"position": HEAD, "commit_failure": 0.5}}),
            db_step(
                300,
                frozenset({key("CdcOffsetCommitsFailing", task=0, **ORDERS)}),
                jolokia={"orders": {"position": HEAD, "commit_failure": 0.5}},
            ),
            db_step(
                315,
                frozenset({key("CdcOffsetCommitsFailing", task=0, **ORDERS)}),
                jolokia={"orders": {"position": HEAD, "commit_failure": 0.0}},
            ),
            db_step(375, jolokia={"orders": {"position": HEAD, "commit_failure": 0.0}}),
        ),
        sources=ALL_SOURCES,
    ),
    Scenario(
        "prerequisite_drift_binlog_format",
        (
            db_step(0, db={**DB_OK, "settings": {"binlog_format": False}}),
            db_step(59, db={**DB_OK, "settings": {"binlog_format": False}}),
            db_step(
                60,
                frozenset({key("CdcPrerequisiteDrift", database="db1", setting="binlog_format")}),
                db={**DB_OK, "settings": {"binlog_format": False}},
            ),
        ),
        sources=DB_SOURCES,
    ),
    Scenario(
        "privilege_missing",
        (
            db_step(0, db={**DB_OK, "privileges": {"cdc": {"replication_slave": False, "select": True}}}),
            db_step(
                60,
                frozenset({key("CdcPrivilegeMissing", database="db1", privilege="replication_slave")}),
                db={**DB_OK, "privileges": {"cdc": {"replication_slave": False, "select": True}}},
            ),
        ),
        sources=DB_SOURCES,
    ),
    Scenario(
        "canary_stale_while_running_then_fresh_again",
        (
            Step(0, _ok(), canary={"orders": {"outcome": "ok", "last_success": 0, "since": 0}}),
            Step(60, _ok(), canary={"orders": {"outcome": "lost", "last_success": 0, "since": 0}}),
            Step(300, _ok(), canary={"orders": {"outcome": "lost", "last_success": 0, "since": 0}}),  # 300 s: not yet
            Step(
                315,
                _ok(),
                frozenset({key("CdcCanaryStale", **ORDERS)}),
                canary={"orders": {"outcome": "lost", "last_success": 0, "since": 0}},
            ),
            Step(
                330,
                _ok(),
                frozenset({key("CdcCanaryStale", **ORDERS)}),  # fresh again: keep_firing_for
                canary={"orders": {"outcome": "ok", "last_success": 330, "since": 0}},
            ),
            Step(390, _ok(), canary={"orders": {"outcome": "ok", "last_success": 390, "since": 0}}),
        ),
        sources=(("connect:prod", "connect"), ("canary:db1", "canary")),
    ),
    Scenario(
        "canary_never_fires_for_a_paused_connector",
        (
            Step(0, _ok(), canary={"orders": {"outcome": "ok", "last_success": 0, "since": 0}}),
            Step(15, _ok(connector_state="PAUSED"), canary={"orders": {"outcome": "skipped", "last_success": 0}}),
            Step(900, _ok(connector_state="PAUSED"), canary={"orders": {"outcome": "skipped", "last_success": 0}}),
            # resumed: staleness counts from the start of the new run of probes, not the old success
            Step(915, _ok(), canary={"orders": {"outcome": "lost", "last_success": 0, "since": 915}}),
            Step(1215, _ok(), canary={"orders": {"outcome": "ok", "last_success": 1215, "since": 915}}),
        ),
        sources=(("connect:prod", "connect"), ("canary:db1", "canary")),
    ),
    Scenario(
        "schema_history_topic_unsafe_fires_then_holds_while_kafka_is_unreadable",
        (
            Step(0, _ok(), kafka={"orders": {}}),
            Step(15, _ok(), kafka={"orders": {"retention": False}}),  # e.g. retention.ms=7 days
            Step(614, _ok(), kafka={"orders": {"retention": False}}),  # last second of `for` (10m)
            Step(615, _ok(), HISTORY_ORDERS, kafka={"orders": {"retention": False}}),
            Step(630, _ok(), HISTORY_ORDERS, down=("kafka:prod",)),  # held, not resolved
            Step(749, _ok(), HISTORY_ORDERS, down=("kafka:prod",)),
            Step(750, _ok(), HISTORY_ORDERS | {KAFKA_DOWN}, down=("kafka:prod",)),
            Step(765, _ok(), HISTORY_ORDERS | {KAFKA_DOWN}, kafka={"orders": {"retention": False}}),
            Step(825, _ok(), HISTORY_ORDERS, kafka={"orders": {}}),  # altered to retention.ms=-1
            Step(885, _ok(), kafka={"orders": {}}),  # keep_firing_for (1m) later
        ),
        sources=(("connect:prod", "connect"), ("kafka:prod", "kafka")),
    ),
    Scenario(
        "schema_history_topic_unknown_setting_holds",
        (
            Step(0, _ok(), kafka={"orders": {"partitions": False}}),
            Step(600, _ok(), HISTORY_ORDERS, kafka={"orders": {"partitions": False}}),
            # recreated with one partition; its retention not reported (no broker default either)
            Step(615, _ok(), HISTORY_ORDERS, kafka={"orders": {"retention": None}}),
            Step(690, _ok(), HISTORY_ORDERS, kafka={"orders": {"retention": None}}),  # cannot tell: held
            Step(705, _ok(), HISTORY_ORDERS, kafka={"orders": {}}),
            Step(765, _ok(), kafka={"orders": {}}),
        ),
        sources=(("connect:prod", "connect"), ("kafka:prod", "kafka")),
    ),
    Scenario(
        "schema_history_topic_missing",
        (
            Step(0, _ok(), kafka={"orders": {"exists": False}}),
            Step(599, _ok(), kafka={"orders": {"exists": False}}),
            Step(600, _ok(), HISTORY_ORDERS, kafka={"orders": {"exists": False}}),
            Step(615, _ok(), HISTORY_ORDERS, kafka={"orders": {}}),
            Step(675, _ok(), kafka={"orders": {}}),
        ),
        sources=(("connect:prod", "connect"), ("kafka:prod", "kafka")),
    ),
    Scenario(
        "healthy_pipeline_with_every_source_raises_nothing",
        tuple(
            db_step(
                t,
                db={**DB_OK, "written": t * 100, "retention": 7 * 86400.0},
                jolokia={"orders": {"position": ("mysql-bin.000005", 5000 + t), "behind": 0.2}},
                offsets={"orders": ("mysql-bin.000005", 4900 + t)},
            )
            for t in range(0, 1801, 15)
        ),
        sources=ALL_SOURCES,
    ),
)
