"""Paging policy on the real devstack: a connector deleted while its alert fires resolves at the
next poll with reason "deleted" and leaves /metrics; waits use deadlines, never fixed sleeps."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import E2E_POLL as POLL
from tests.e2e.conftest import alerting_yaml, stack_config_yaml

pytestmark = pytest.mark.stack


def test_a_deleted_connector_resolves_at_the_next_poll_with_reason_deleted(stack, stack_env, daemon_factory, capture):
    doomed = stack.create_connector()
    try:
        daemon = daemon_factory(stack_config_yaml(stack, poll_interval=f"{POLL:.0f}s", extra=alerting_yaml()))
        daemon.wait_for(
            lambda: daemon.value("cdc_task_state", connector=doomed.name, state="RUNNING") == 1, 60, "task RUNNING"
        )
        stack.faults.task_failed_non_retriable(doomed)
        daemon.wait_for(
            lambda: daemon.value("cdc_alert_firing", alert="CdcTaskFailed", connector=doomed.name) == 1,
            3 * POLL + 5,
            "CdcTaskFailed firing at the first poll that sees the non-retriable failure",
        )
        stack.delete_connector(doomed.name)
        deleted_at = time.monotonic()
        daemon.wait_for(
            lambda: daemon.value("cdc_alert_firing", alert="CdcTaskFailed", connector=doomed.name) is None,
            3 * POLL + 5,
            "the alert resolved after the deletion",
        )
        took = time.monotonic() - deleted_at
        print(f"\nresolved {took:.1f}s after the deletion (poll {POLL:.0f}s; vanished_after is 5m)")
        assert daemon.value("cdc_task_state", connector=doomed.name, state="FAILED") is None  # left /metrics
        assert daemon.value("cdc_connector_info", connector=doomed.name) is None
        messages = daemon.wait_for(
            lambda: [
                r.json()
                for r in capture.received("/slack/webhook/alerts")
                if doomed.name in r.json()["text"] and "RESOLVED" in r.json()["text"]
            ],
            10,
            "the resolved message",
        )
        assert "*Resolved:* deleted" in str(messages[0]["blocks"])
    finally:
        stack.faults.restore_debezium_password()
        if doomed.name in stack.list_connectors():
            stack.delete_connector(doomed.name)
