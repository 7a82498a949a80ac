"""The binlog join end to end: the real daemon against the real devstack (Connect + Debezium +
Jolokia + MariaDB). The purge fault must show as cdc_connector_binlog_available 0 while Connect
still reports the task RUNNING; under write load the byte lag grows while the connector is
paused and returns to about zero after it resumes."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import full_config, purged_task_state

pytestmark = pytest.mark.stack


def test_purged_binlog_is_unavailable_while_connect_says_running(stack, stack_env, connector, daemon_factory):
    daemon = daemon_factory(full_config(stack, alerting="", poll=1))
    c = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(
        lambda: daemon.value("cdc_connector_binlog_available", **c) == 1, 60, "binlog available before the fault"
    )
    assert daemon.value("cdc_mysql_up", database="devdb") == 1
    assert daemon.value("cdc_connector_database_info", database="devdb", **c) == 1
    stack.faults.purge_binlog_past(connector)
    daemon.wait_for(
        lambda: daemon.value("cdc_connector_binlog_available", **c) == 0, 60, "binlog unavailable after the purge"
    )
    assert daemon.value("cdc_connector_binlog_status", status="purged", **c) == 1
    assert daemon.value("cdc_connector_binlog_purge_eta_seconds", **c) == 0
    # Debezium 3.0: Connect still says RUNNING, only the join shows the position is lost;
    # Debezium 3.4+: the task FAILED, and the join says why.
    state = purged_task_state(stack)
    daemon.wait_for(lambda: daemon.value("cdc_task_state", state=state, task="0", **c) == 1, 30, f"task {state}")
    assert stack.connector_status(connector.name)["tasks"][0]["state"] == state
    text = daemon.metrics_text()
    for key, value in stack.env().items():
        if "PASSWORD" in key and value:
            assert value not in text


def test_lag_grows_while_paused_and_recovers_after_resume(stack, stack_env, connector, daemon_factory):
    daemon = daemon_factory(full_config(stack, alerting="", poll=1))
    c = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(
        lambda: daemon.value("cdc_connector_binlog_position_live", **c) == 1, 60, "a live position from the MBean"
    )
    load = stack.faults.write_load(rows_per_second=20)
    stack.faults.pause_connector(connector)
    first = daemon.wait_for(
        lambda: (
            (daemon.value("cdc_connector_binlog_lag_bytes", **c) or 0) > 2000
            and daemon.value("cdc_connector_binlog_lag_bytes", **c)
        ),
        60,
        "lag to grow while paused",
    )
    daemon.wait_for(
        lambda: (daemon.value("cdc_connector_binlog_lag_bytes", **c) or 0) > first + 2000,
        60,
        "lag to keep growing while paused",
    )
    peak = daemon.value("cdc_connector_binlog_lag_bytes", **c)
    assert daemon.value("cdc_binlog_written_bytes_total", database="devdb") > 0
    stack.faults.resume_connector(connector)
    # Writes continue: "about zero" is a few events behind, far below the paused peak.
    daemon.wait_for(
        lambda: (
            (lag := daemon.value("cdc_connector_binlog_lag_bytes", **c)) is not None and lag < max(4096, peak * 0.1)
        ),
        90,
        f"lag to return to about zero from {peak} bytes",
    )
    load.stop()
    assert load.rows > 0
