"""End to end on the real devstack: real Connect + Debezium + MariaDB, the real daemon, Slack
through slack_sdk to the local capturing endpoint. Waits use deadlines, never fixed sleeps.

The "healthy under load" test runs 75 s by default (CDC_E2E_HEALTHY_SECONDS; the issue's full
variant is 600 s) with every source configured and every `for` shortened to 10 s, so it is a
stricter check than production defaults.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.e2e.conftest import E2E_FOR as FOR
from tests.e2e.conftest import E2E_POLL as POLL
from tests.e2e.conftest import alerting_yaml, full_config, purged_task_state, stack_config_yaml
from tests.support.capture import CaptureServer

pytestmark = pytest.mark.stack


def _messages_about(capture: CaptureServer, connector: str) -> list[dict]:
    return [r.json() for r in capture.received("/slack/webhook/alerts") if connector in r.json()["text"]]


def test_failed_task_pages_once_then_resolves(stack, stack_env, connector, daemon_factory, capture):

    daemon = daemon_factory(stack_config_yaml(stack, poll_interval=f"{POLL:.0f}s", extra=alerting_yaml()))
    daemon.wait_for(
        lambda: daemon.value("cdc_task_state", connector=connector.name, state="RUNNING") == 1,
        60,
        "task RUNNING in /metrics",
    )
    stack.faults.task_failed_non_retriable(connector)
    failed_at = time.monotonic()
    deadline = FOR + POLL + 2.0
    daemon.wait_for(
        lambda: _messages_about(capture, connector.name), deadline + 2.0, "a Slack message for the failed task"
    )
    took = time.monotonic() - failed_at
    print(f"\nSlack message {took:.1f}s after the task was seen FAILED (for={FOR:.0f}s, poll={POLL:.0f}s)")
    assert took <= deadline, f"message after {took:.1f}s, budget {deadline:.1f}s"
    (message,) = _messages_about(capture, connector.name)
    assert message["text"].startswith(":red_circle: FIRING: CdcTaskFailed on " + connector.name)
    body = str(message["blocks"])
    assert "Access denied" in body and "#cdctaskfailed" in body
    assert daemon.value("cdc_alert_firing", alert="CdcTaskFailed", connector=connector.name) == 1
    for key, value in stack.env().items():
        if "PASSWORD" in key:
            assert value not in str(message)

    stack.faults.restore_debezium_password()
    assert stack.rest("POST", f"/connectors/{connector.name}/tasks/0/restart").status_code in (200, 202, 204)
    stack.wait_task_state(connector.name, "RUNNING", 90)
    daemon.wait_for(lambda: len(_messages_about(capture, connector.name)) >= 2, 30, "the resolved message")
    resolved = _messages_about(capture, connector.name)[1]
    assert resolved["text"].startswith(":white_check_mark: RESOLVED: CdcTaskFailed on " + connector.name)
    assert len(_messages_about(capture, connector.name)) == 2


def test_healthy_stack_under_write_load_raises_no_alert(stack, stack_env, connector, daemon_factory, capture):
    duration = float(os.environ.get("CDC_E2E_HEALTHY_SECONDS", "75"))
    daemon = daemon_factory(full_config(stack))
    c = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(lambda: daemon.value("cdc_connector_binlog_available", **c) == 1, 60, "the binlog join to be up")
    load = stack.faults.write_load(rows_per_second=20, duration=duration)
    pending: set[str] = set()  # not even pending: a pending alert is one `for` away from a page
    try:
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            assert capture.requests == [], [r.json()["text"] for r in capture.requests]
            assert daemon.samples("cdc_alert_firing") == []
            pending |= {
                e.key.to_json() for e in daemon.app.alerting.alerts.entries.values() if e.phase.value == "pending"
            }
            time.sleep(POLL)
    finally:
        load.stop()
    assert load.rows > 0 and load.errors == 0
    assert pending == set()
    assert daemon.value("cdc_alerts_pending") == 0
    assert capture.requests == []


def test_purged_binlog_raises_position_lost_while_connect_says_running(
    stack, stack_env, connector, daemon_factory, capture
):
    daemon = daemon_factory(full_config(stack))
    c = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(
        lambda: daemon.value("cdc_connector_binlog_available", **c) == 1, 60, "binlog available before the fault"
    )
    assert capture.requests == []
    stack.faults.purge_binlog_past(connector)
    daemon.wait_for(
        lambda: daemon.value("cdc_alert_firing", alert="CdcBinlogPositionLost", **c) == 1,
        FOR + 4 * POLL + 30,
        "CdcBinlogPositionLost firing",
    )
    assert (
        daemon.value("cdc_alert_firing", alert="CdcBinlogPositionLost", severity="critical", database="devdb", **c) == 1
    )
    # Debezium 3.0: Connect still says RUNNING, only the join shows the position is lost (3.4+: FAILED).
    assert stack.connector_status(connector.name)["tasks"][0]["state"] == purged_task_state(stack)
    messages = daemon.wait_for(
        lambda: [m for m in _messages_about(capture, connector.name) if "CdcBinlogPositionLost" in str(m)],
        10,
        "the Slack message",
    )
    text = str(messages[0])
    assert ":red_circle:" in messages[0]["text"] and "purged" in text and "#cdcbinlogpositionlost" in text
    bodies = b"".join(r.body for r in capture.requests)
    for key, value in stack.env().items():
        if "PASSWORD" in key:
            assert value.encode() not in bodies
