"""Every recorded version's replies through the parsers and the health rules.

Each Kafka Connect version the devstack runs has its own recorded set (tests/support/recorded.py).
The same checks run on each; where the versions really differ, the difference is named here:

- purged binlog position: Debezium 3.0 (Connect 3.9) keeps the task RUNNING in a restart loop;
  Debezium 3.4 and 3.6 (Connect 4.1, 4.3) fail the task at start ("...no longer available on
  the server"), which the failure classifier reads as `binlog_purged` (never auto-restarted);
- Connect 4.x puts the plugin `version` into connector and task status;
- Jolokia runs as a servlet in the 3.9 recordings and from the JDK HTTP server in the others.

That every recorded `GET /` is inside the tested range is checked in test_connect_versions.py.
"""

from __future__ import annotations

import re
from types import MappingProxyType

import pytest

from cdc_watch.config import RulesConfig
from cdc_watch.core.model import PollResult, SourceStatus
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertState
from cdc_watch.sources.connect import parse
from cdc_watch.sources.connect.failures import FailureCategory, classify_failure
from cdc_watch.sources.connect.model import ConnectClusterState, ConnectorStatus, State
from cdc_watch.sources.jolokia import parse as jolokia_parse
from cdc_watch.sources.jolokia.model import EndpointReading, HistoryStatus
from devstack import CONNECT_VERSIONS
from devstack.faults import PURGE_RUNNING_LOOP
from tests.support.recorded import body, recorded, recorded_versions, version_root

VERSIONS = recorded_versions()
MYSQL = "io.debezium.connector.mysql.MySqlConnector"


def test_every_devstack_version_has_a_recorded_set():
    assert list(CONNECT_VERSIONS) == VERSIONS


@pytest.fixture(params=VERSIONS, ids=lambda v: f"connect-{v}")
def version(request) -> str:
    return request.param


def expanded(version: str, name: str) -> dict[str, ConnectorStatus]:
    connectors, _excluded, problems = parse.parse_expanded(body("connect", name, version))
    assert problems == [], problems  # no unknown state, no odd entry, on any version
    return connectors


def cluster_state(version: str, name: str) -> ConnectClusterState:
    root = parse.parse_root(body("connect", "root", version))
    return parse.build_cluster_state("dev", "http://w1", root, expanded(version, name), 0, [])


def recorder_connector(connectors: dict[str, ConnectorStatus], prefix: str) -> ConnectorStatus:
    """The one connector of a recording run named `<prefix>-<run id>`."""
    (found,) = [c for c in connectors.values() if c.name.startswith(prefix)]
    return found


# ---------------------------------------------------------------------- Connect REST


def test_root_reports_the_recorded_version(version):
    reply = recorded("connect", "root", version)
    connect_version, _commit, cluster_id = parse.parse_root(reply["body"])
    assert connect_version == CONNECT_VERSIONS[version].connect == reply["_recorded"]["versions"]["kafka_connect"]
    assert cluster_id == "tansu_cluster"


def test_healthy_connector_and_its_settings(version):
    sample = expanded(version, "connectors_expand_healthy")["inventory-connector"]
    assert sample.state is State.RUNNING and [t.state for t in sample.tasks] == [State.RUNNING]
    assert sample.settings is not None
    assert sample.settings.connector_class == MYSQL and sample.settings.is_debezium_mysql
    assert sample.settings.topic_prefix == "dbserver1"


@pytest.mark.parametrize(
    ("fixture", "kind", "category"),
    [
        ("connectors_expand_failed_task_non_retriable", "access_denied", FailureCategory.NON_RETRIABLE),
        ("connectors_expand_failed_task_retriable", None, FailureCategory.RETRIABLE),
    ],
)
def test_failed_task_and_its_classification(version, fixture, kind, category):
    failed = [c for c in expanded(version, fixture).values() if any(t.state is State.FAILED for t in c.tasks)]
    assert len(failed) == 1 and failed[0].state is State.RUNNING  # connector RUNNING, task FAILED
    verdict = classify_failure(failed[0].tasks[0].failure)
    assert verdict.category is category
    if kind:
        assert verdict.kind == kind


def test_database_down_under_running_tasks_is_still_running(version):
    connectors = expanded(version, "connectors_expand_db_down_still_running")
    assert all(t.state is State.RUNNING for c in connectors.values() for t in c.tasks)


def test_paused_and_stopped(version):
    # the recorder's two connectors of that run (rec-<what>-<run id>)
    states = {
        c.state: c
        for c in expanded(version, "connectors_expand_paused_and_stopped").values()
        if re.fullmatch(r"rec-.*-[0-9a-f]{4}", c.name)
    }
    assert set(states) == {State.PAUSED, State.STOPPED}
    assert [t.state for t in states[State.PAUSED].tasks] == [State.PAUSED]
    assert states[State.STOPPED].tasks == ()


def test_restarting_keeps_the_old_trace(version):
    reply = body("connect", "restart_202_restarting_retriable", version)
    _state, _kind, _worker, _trace, tasks, problems = parse.parse_status("rec", reply)
    assert tasks[0].state is State.RESTARTING and tasks[0].trace and not problems


def test_two_workers_and_unassigned(version):
    workers = {t.worker_id for c in expanded(version, "connectors_expand_two_workers").values() for t in c.tasks}
    assert len(workers) == 2
    if (version_root(version) / "connect" / "connectors_expand_unassigned.json").exists():
        unassigned = expanded(version, "connectors_expand_unassigned")
        assert any(
            c.state is State.UNASSIGNED or any(t.state is State.UNASSIGNED for t in c.tasks)
            for c in unassigned.values()
        )


def test_plugin_version_in_status_only_on_connect_4(version):
    status = body("connect", "connector_status_running", version)
    has_version = "version" in status["connector"] and all("version" in t for t in status["tasks"])
    assert has_version is CONNECT_VERSIONS[version].connect.startswith("4.")
    if has_version:
        assert status["connector"]["version"] == CONNECT_VERSIONS[version].debezium
    # either way the parser reads the same states
    assert parse.parse_status("inventory-connector", status)[0] is State.RUNNING


def test_offsets_name_a_binlog_file_and_position(version):
    ((partition, offset),) = parse.parse_offsets(body("connect", "connector_offsets_running", version))
    assert partition == {"server": "dbserver1"}
    assert offset["file"].startswith("mysql-bin.") and offset["pos"] > 0


def test_purged_binlog_outcome_per_version(version):
    files = [r["Log_name"] for r in recorded("mariadb", "show_binary_logs_after_purge", version)["rows"]]
    ((_partition, offset),) = parse.parse_offsets(body("connect", "connector_offsets_purged", version))
    assert offset["file"] not in files  # the join sees the position lost on every version
    if CONNECT_VERSIONS[version].purge_outcome == PURGE_RUNNING_LOOP:
        purged = recorder_connector(expanded(version, "connectors_expand_purged_still_running"), "rec-purged")
        assert [t.state for t in purged.tasks] == [State.RUNNING]  # Debezium 3.0: hidden behind RUNNING
    else:
        purged = recorder_connector(expanded(version, "connectors_expand_purged_task_failed"), "rec-purged")
        (task,) = purged.tasks
        assert task.state is State.FAILED  # Debezium 3.4+: fails at start
        verdict = classify_failure(task.failure)
        assert verdict.kind == "binlog_purged" and verdict.category is FailureCategory.NON_RETRIABLE


# ---------------------------------------------------------------------- Jolokia


def reading(version: str, fixture: str) -> EndpointReading:
    reply = recorded("jolokia", fixture, version)
    return jolokia_parse.parse_bulk_reply(jolokia_parse.Endpoint("ep1", "http://x/jolokia", None), reply["reply"])


def test_jolokia_bulk_reply_of_the_daemons_own_request(version):
    r = reading(version, "bulk_worker_with_debezium")
    assert r.up and r.agent_version == "1.7.1" and r.protocol == "7.2"
    assert r.failed_reads == ()
    assert r.worker is not None and (r.worker["connector-count"] or 0) >= 1
    contexts = {(m.context, m.server) for m in r.debezium}
    assert {("streaming", "dbserver1"), ("snapshot", "dbserver1"), ("schema-history", "dbserver1")} <= contexts
    state = jolokia_parse.join("dev", [r], cluster_state(version, "connectors_expand_healthy"))
    s = state.streaming["inventory-connector"]
    assert s.connected is True and s.binlog_filename is not None and s.binlog_filename.startswith("mysql-bin.")
    assert (s.binlog_position or 0) > 0
    assert state.schema_history["inventory-connector"].status is HistoryStatus.RUNNING
    assert state.streaming_mbean_present("inventory-connector") is True


def test_jolokia_agent_type(version):
    config = recorded("jolokia", "version", version)["reply"]["value"]["config"]
    assert config["agentType"] == ("servlet" if version == "3.9" else "jvm")


def test_jolokia_missing_mbean_is_a_404_on_every_version(version):
    reply = recorded("jolokia", "read_exact_not_found", version)["body"]
    assert reply["status"] == 404 and reply["error_type"] == "javax.management.InstanceNotFoundException"


# ---------------------------------------------------------------------- health rules


def test_task_failed_rule_on_each_versions_failed_task(version):
    state = cluster_state(version, "connectors_expand_failed_task_non_retriable")
    status = SourceStatus("connect:dev", "connect").with_result(
        PollResult("connect:dev", "connect", 0, 0.1, data=state)
    )
    cfg = RulesConfig.model_validate({"overrides": {"CdcTaskFailed": {"for": "0s"}}})
    _new, transitions = rules.evaluate(AlertState(), Snapshot(MappingProxyType({"connect:dev": status})), 100.0, cfg)
    fired = [t for t in transitions if t.entry.key.alert == "CdcTaskFailed"]
    assert len(fired) == 1 and fired[0].entry.evidence.kind == "access_denied"


def test_debezium_3_6_refuses_mariadb_without_the_relay():
    """Why the devstack's 4.3 connectors reach MariaDB through devstack/dbproxy.py (named difference)."""
    reply = recorded("connect", "error_400_mariadb_direct_binary_log_status", "4.3")
    assert reply["status_code"] == 400
    assert "should support SHOW BINARY LOG STATUS but it failed" in reply["body"]["message"]
    assert "MariaDB" in reply["body"]["message"]


# ---------------------------------------------------------------------- MBean attributes that moved


def _attributes(version: str, mbean: str) -> set[str]:
    """Attribute names of every MBean a pattern read of `mbean` (as Jolokia echoes it, keys in
    canonical order) returned in bulk_healthy."""
    names: set[str] = set()
    for element in recorded("jolokia", "bulk_healthy", version)["body"]:
        if element.get("request", {}).get("mbean") == mbean and isinstance(element.get("value"), dict):
            for value in element["value"].values():
                if isinstance(value, dict):
                    names |= set(value)
    return names


def test_connect_4_drops_the_io_time_totals_and_keeps_the_ratios_cdc_watch_reads(version):
    names = _attributes(version, "kafka.connect:type=connect-metrics,*")
    assert {"io-ratio", "io-wait-ratio"} <= names  # what the exporter reads, on every version
    totals = {"io-waittime-total", "iotime-total"} & names
    assert bool(totals) is CONNECT_VERSIONS[version].connect.startswith("3.")  # gone in Connect 4


def test_connect_4_task_metrics_name_the_plugin_classes_and_versions(version):
    names = _attributes(version, "kafka.connect:connector=*,task=*,type=connector-task-metrics")
    assert {"status", "running-ratio", "offset-commit-success-percentage"} <= names
    plugin = {"connector-class", "connector-version", "task-class", "task-version"}
    assert (plugin <= names) is CONNECT_VERSIONS[version].connect.startswith("4.")


def test_debezium_3_6_adds_lag_statistics_and_the_parser_reads_the_same_fields(version):
    names = _attributes(version, "debezium.mysql:context=streaming,type=connector-metrics,*")
    assert {"Connected", "MilliSecondsBehindSource", "BinlogFilename", "BinlogPosition"} <= names
    added = {"MilliSecondsBehindSourceP95", "MilliSecondsBehindSourceMaxValue", "NumberOfUnchangedEventsSkipped"}
    assert (added <= names) is (CONNECT_VERSIONS[version].debezium >= "3.6")
    snapshot = _attributes(version, "debezium.mysql:context=snapshot,type=connector-metrics,*")
    assert ("SnapshotSkipped" in snapshot) is (CONNECT_VERSIONS[version].debezium >= "3.4")
