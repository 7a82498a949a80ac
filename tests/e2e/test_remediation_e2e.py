"""Safe auto-restart on the real stack: the daemon restarts what a restart can fix, on schedule,
and never what it cannot."""

from __future__ import annotations

import itertools
import logging
import time

import pytest

from tests.e2e.conftest import stack_config_yaml

pytestmark = pytest.mark.stack


def remediation_yaml(**settings: object) -> str:
    body = {"enabled": "true", "backoff_base": "2s", "backoff_max": "1m", **settings}
    return "remediation:\n" + "".join(f"  {k}: {v}\n" for k, v in body.items())


ALERT_AT_ONCE = """
alerting:
  rules:
    overrides:
      CdcTaskFailed: {for: 0s}
"""


def task_state(stack, name: str) -> str | None:
    status = stack.connector_status_or_none(name)
    tasks = (status or {}).get("tasks") or []
    return tasks[0]["state"] if tasks else None


def firing_alert(daemon, alert: str, connector: str):
    """The daemon's firing alert of that name about that connector, or None."""
    for entry in daemon.app.alerting.alerts.firing():
        if entry.key.alert == alert and entry.key.label("connector") == connector:
            return entry
    return None


def assert_never_restarted(daemon, labels: dict[str, str], seconds: float = 6) -> None:
    """Several more polls (1 s apart): still no restart of any result."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert daemon.value("cdc_remediation_restarts_total", **labels) is None
        time.sleep(0.5)


def test_retriable_failure_is_restarted_once_the_database_is_back(stack, connector, daemon_factory, stack_env):
    stack.faults.task_failed_retriable(connector)  # database down, task FAILED: Communications link failure
    stack.faults.db_start()
    assert task_state(stack, connector.name) == "FAILED"  # Connect never restarts it by itself
    daemon = daemon_factory(stack_config_yaml(stack, poll_interval="1s", extra=remediation_yaml()))
    labels = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(
        lambda: daemon.value("cdc_remediation_restarts_total", result="restarted", **labels),
        60,
        "cdc_watch to restart the task",
    )
    stack.wait_streaming(connector, 120)
    assert daemon.value("cdc_remediation_restarts_total", result="restarted", **labels) == 1
    daemon.wait_for(lambda: task_state(stack, connector.name) == "RUNNING", 30, "task RUNNING")
    assert daemon.value("cdc_remediation_attempts", **labels) == 1


def test_non_retriable_failure_is_never_restarted_and_the_alert_says_why(
    stack, connector, daemon_factory, stack_env, caplog
):
    stack.faults.task_failed_non_retriable(connector)  # password changed: Access denied
    caplog.set_level(logging.INFO, logger="cdc_watch.remediation.runner")
    daemon = daemon_factory(stack_config_yaml(stack, poll_interval="1s", extra=remediation_yaml() + ALERT_AT_ONCE))
    labels = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(
        lambda: daemon.value("cdc_remediation_suppressed_total", reason="non_retriable", **labels),
        30,
        "the restart to be suppressed as non_retriable",
    )

    alert = daemon.wait_for(lambda: firing_alert(daemon, "CdcTaskFailed", connector.name), 30, "CdcTaskFailed to fire")
    assert alert.evidence.kind == "access_denied"
    assert "password" in (alert.evidence.hint or "")
    assert_never_restarted(daemon, labels)  # and still counted once:
    assert daemon.value("cdc_remediation_suppressed_total", reason="non_retriable", **labels) == 1
    assert task_state(stack, connector.name) == "FAILED"
    logged = [r for r in caplog.records if r.getMessage() == "not restarting: non_retriable"]
    assert logged and logged[0].kind == "access_denied" and logged[0].connector == connector.name
    password = stack.mariadb.debezium_password
    assert password not in daemon.metrics_text()
    assert all(password not in r.getMessage() and password not in str(r.__dict__) for r in caplog.records)


def test_a_task_failed_on_a_purged_binlog_is_never_restarted_and_the_alert_says_why(stack, daemon_factory, stack_env):
    # errors.max.retries=0: Debezium gives up at once instead of retrying in a loop under RUNNING.
    purged = stack.create_connector(extra_config={"errors.max.retries": "0"})
    try:
        failed = stack.faults.purge_binlog_past(purged, expect_failed=True)
        # Debezium 3.0 gives up in the binlog client; 3.4+ already at task start (same cause).
        assert (
            "Could not find first log file name" in failed["trace"]
            or "no longer available on the server" in failed["trace"]
        )
        daemon = daemon_factory(stack_config_yaml(stack, poll_interval="1s", extra=remediation_yaml() + ALERT_AT_ONCE))
        labels = {"connect_cluster": "devstack", "connector": purged.name}
        daemon.wait_for(
            lambda: daemon.value("cdc_remediation_suppressed_total", reason="non_retriable", **labels),
            30,
            "the restart to be suppressed as non_retriable",
        )

        alert = daemon.wait_for(lambda: firing_alert(daemon, "CdcTaskFailed", purged.name), 30, "CdcTaskFailed to fire")
        assert alert.evidence.kind == "binlog_purged"
        assert "snapshot" in (alert.evidence.hint or "")
        assert_never_restarted(daemon, labels)
        assert task_state(stack, purged.name) == "FAILED"
    finally:
        stack.faults.heal_all()
        stack.delete_connector(purged.name)


def test_failing_again_after_every_restart_follows_the_backoff_schedule(stack, connector, daemon_factory, stack_env):
    stack.faults.task_failed_retriable(connector)  # the database stays down: every restart fails again
    daemon = daemon_factory(stack_config_yaml(stack, poll_interval="1s", extra=remediation_yaml()))
    restarted_at: list[float] = []
    daemon.app.remediation.notify = lambda notice: restarted_at.append(time.monotonic())
    # Backoff with backoff_base=2s: 0, then 4 s, 12 s, 24 s after the previous restart.
    daemon.wait_for(lambda: len(restarted_at) >= 4, 90, "four restarts")
    gaps = [b - a for a, b in itertools.pairwise(restarted_at)]
    for gap, planned in zip(gaps, [4, 12, 24], strict=False):
        assert planned <= gap <= planned + 3.5, (gaps, planned)
    labels = {"connect_cluster": "devstack", "connector": connector.name}
    assert daemon.value("cdc_remediation_restarts_total", result="restarted", **labels) == 4
    assert daemon.value("cdc_remediation_suppressed_total", reason="backoff", **labels) >= 3
    next_allowed = daemon.value("cdc_remediation_next_allowed_timestamp_seconds", **labels)
    assert next_allowed is not None and next_allowed > time.time()
    assert task_state(stack, connector.name) in ("FAILED", "RESTARTING")
