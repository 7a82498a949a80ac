"""The Jolokia source end to end: the real daemon against the real devstack (Connect + Jolokia 1.7)."""

from __future__ import annotations

import socket

import pytest

from cdc_watch.config import parse_config
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.sources.jolokia.poll import JolokiaSource
from tests.e2e.conftest import alerting_yaml, purged_task_state, stack_config_yaml

pytestmark = pytest.mark.stack


def jolokia_config(stack) -> str:
    urls = ", ".join(stack.jolokia_urls())
    extra = f"""    jolokia:
      urls: [{urls}]
      poll_interval: 2s
      timeout: 3s
"""
    return stack_config_yaml(stack, extra_cluster=extra)


def test_debezium_metrics_appear_under_the_connector_name(stack, stack_env, connector, daemon_factory):
    daemon = daemon_factory(jolokia_config(stack))
    c = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(
        lambda: daemon.value("cdc_debezium_streaming_connected", **c) == 1,
        60,
        "streaming connected under the connector name",
    )
    assert daemon.value("cdc_debezium_streaming_mbean_present", task="0", **c) == 1
    assert daemon.value("cdc_debezium_streaming_binlog_position_bytes", **c) > 0
    assert daemon.value("cdc_debezium_streaming_binlog_file_number", **c) >= 1
    assert daemon.value("cdc_debezium_snapshot_completed", **c) == 1
    assert daemon.value("cdc_debezium_snapshot_rows_scanned", table="inventory.customers", **c) >= 1
    assert daemon.value("cdc_debezium_schema_history_status", status="RUNNING", **c) == 1
    assert daemon.value("cdc_task_running_ratio", task="0", **c) is not None
    assert daemon.value("cdc_jolokia_up", connect_cluster="devstack", endpoint=stack.jolokia_url) == 1
    # the contract the MySQL source codes against
    state = daemon.app.snapshot().data("jolokia:devstack")
    streaming = state.streaming[connector.name]
    assert streaming.binlog_filename and streaming.binlog_filename.startswith("mysql-bin.")
    assert streaming.connected is True
    assert state.streaming_mbean_present(connector.name) is True
    # no secret leaks into the exposition
    text = daemon.metrics_text()
    for key, value in stack.env().items():
        if "PASSWORD" in key and value:
            assert value not in text


def test_purge_loop_shows_as_missing_streaming_mbean_under_a_running_task(stack, stack_env, connector, daemon_factory):
    daemon = daemon_factory(jolokia_config(stack))
    c = {"connect_cluster": "devstack", "connector": connector.name, "task": "0"}
    daemon.wait_for(
        lambda: daemon.value("cdc_debezium_streaming_mbean_present", **c) == 1, 60, "streaming MBean present"
    )
    stack.faults.purge_binlog_past(connector)
    state = purged_task_state(stack)
    daemon.wait_for(lambda: daemon.value("cdc_task_state", state=state, **c) == 1, 60, f"task {state} in /metrics")
    assert stack.connector_status(connector.name)["tasks"][0]["state"] == state
    if state == "RUNNING":
        # Debezium 3.0: Connect's REST still says RUNNING; only the missing MBean tells the truth.
        daemon.wait_for(
            lambda: daemon.value("cdc_debezium_streaming_mbean_present", **c) == 0, 60, "streaming MBean absent"
        )
    else:
        # Debezium 3.4+: a FAILED task, no RUNNING task left to judge by its MBean.
        assert daemon.value("cdc_debezium_streaming_mbean_present", **c) in (None, 0)


def test_jolokia_unreachable_keeps_rest_metrics_and_reports_down(stack, stack_env, connector, daemon_factory):
    daemon = daemon_factory(jolokia_config(stack))
    ep = {"connect_cluster": "devstack", "endpoint": stack.jolokia_url}
    daemon.wait_for(lambda: daemon.value("cdc_jolokia_up", **ep) == 1, 30, "Jolokia up")
    stack.faults.jolokia_unreachable(1)
    daemon.wait_for(lambda: daemon.value("cdc_jolokia_up", **ep) == 0, 30, "cdc_jolokia_up 0")
    assert daemon.value("cdc_connect_up", connect_cluster="devstack") == 1
    assert (
        daemon.value("cdc_task_state", connect_cluster="devstack", connector=connector.name, task="0", state="RUNNING")
        == 1
    )
    stack.faults.jolokia_reachable(1)
    daemon.wait_for(lambda: daemon.value("cdc_jolokia_up", **ep) == 1, 30, "Jolokia back up")


def test_one_silent_endpoint_of_two_makes_the_source_unreadable(stack, stack_env, daemon_factory, capture):
    """A second worker whose Jolokia refuses connections: the poll still succeeds on the first,
    but the tasks on the silent one are unseen, and CdcSourceUnreadable names that endpoint."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        silent = f"http://127.0.0.1:{probe.getsockname()[1]}/jolokia"
    extra = f"""    jolokia:
      urls: [{stack.jolokia_url}, {silent}]
      poll_interval: 2s
      timeout: 3s
"""
    daemon = daemon_factory(stack_config_yaml(stack, extra_cluster=extra, extra=alerting_yaml()))
    source = {"source": "jolokia:devstack"}
    daemon.wait_for(
        lambda: daemon.value("cdc_alert_firing", alert="CdcSourceUnreadable", **source) == 1,
        45,
        "CdcSourceUnreadable for the Jolokia source",
    )
    assert daemon.value("cdc_source_up", **source) == 1
    assert daemon.value("cdc_jolokia_up", connect_cluster="devstack", endpoint=stack.jolokia_url) == 1
    assert daemon.value("cdc_jolokia_up", connect_cluster="devstack", endpoint=silent) == 0
    [entry] = [e for e in daemon.app.alerting.alerts.firing() if e.key.alert == "CdcSourceUnreadable"]
    facts = dict(entry.evidence.facts)
    assert facts["endpoints failed"] == f"{silent} (1 of 2)" and facts["reason"] == "connect"
    [page] = capture.wait_for("/slack/webhook/alerts", 1, 15)
    assert "CdcSourceUnreadable" in page.json()["text"]


def test_the_reply_cap_holds_on_the_real_agent(stack, stack_env, connector):
    # Jolokia 1.7 answers the bulk read chunked, without Content-Length: the cap is met while reading.
    def source(cap: str) -> JolokiaSource:
        raw = {"url": stack.connect_url, "jolokia": {"url": stack.jolokia_url, "max_reply_size": cap}}
        return JolokiaSource(parse_config({"connect_clusters": [{"name": "devstack", **raw}]}).connect_clusters[0])

    small, default = source("4KiB"), source("16MiB")
    try:
        with pytest.raises(SourceFailure) as caught:
            small.poll(None)
        assert caught.value.reason is ErrorReason.TOO_LARGE
        reading = default.poll(None).endpoints[stack.jolokia_url]
        assert reading.up and reading.skipped_values == 0
    finally:
        small.close()
        default.close()


def test_database_stopped_under_a_running_task_shows_not_streaming(stack, stack_env, connector, daemon_factory):
    daemon = daemon_factory(jolokia_config(stack))
    c = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(lambda: daemon.value("cdc_debezium_streaming_connected", **c) == 1, 60, "streaming connected")
    stack.faults.not_streaming(connector)  # MariaDB stopped: Debezium keeps the task RUNNING
    daemon.wait_for(lambda: daemon.value("cdc_debezium_streaming_connected", **c) == 0, 60, "streaming disconnected")
    assert daemon.value("cdc_task_state", state="RUNNING", task="0", **c) == 1
    assert daemon.value("cdc_debezium_streaming_mbean_present", task="0", **c) == 1
