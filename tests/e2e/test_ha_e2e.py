"""High availability on the real devstack: two daemon processes share one lease on the stack's
broker. SIGKILL of the leader mid-incident: the follower takes over within the session timeout
and the alert is announced once and resolved once; with the broker gone for both, neither
pages and both say why in /metrics. Waits use deadlines, never fixed sleeps."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import E2E_POLL as POLL
from tests.e2e.conftest import RunningDaemon, alerting_yaml, stack_config_yaml

pytestmark = pytest.mark.stack

SESSION = 6.0  # session_timeout of the e2e replicas (tansu's smallest useful; takeover measured 9-10 s)


class ProcessDaemon(RunningDaemon):
    """A `cdc-watch run` subprocess, read through its /metrics like the in-process daemons."""

    def __init__(self, config: Path, log: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cdc_watch", "run", "--config.file", str(config),
                 "--web.listen-address", f"127.0.0.1:{port}"],
                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ),
            )  # fmt: skip

    def value(self, name: str, **labels: str) -> float | None:
        try:
            return super().value(name, **labels)
        except httpx.HTTPError:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def ha_yaml(bootstrap: str, group: str) -> str:
    return f"""
high_availability:
  bootstrap_servers: "{bootstrap}"
  group_id: {group}
  lease_topic: {group}-lease
  state_topic: {group}-state
  session_timeout: {SESSION:.0f}s
  heartbeat_interval: 1s
  step_down_margin: 2s
  timeout: 2s
"""


@pytest.fixture
def replicas(stack, stack_env, capture, tmp_path) -> Iterator:
    started: list[ProcessDaemon] = []

    def start(
        name: str, bootstrap: str | None = None, group: str | None = None, extra: str | None = None
    ) -> ProcessDaemon:
        config = tmp_path / f"{name}.yaml"
        text = stack_config_yaml(stack, poll_interval=f"{POLL:.0f}s", extra=alerting_yaml() if extra is None else extra)
        text += ha_yaml(bootstrap or stack.broker_bootstrap, group or start.group)  # type: ignore[attr-defined]
        text += f"\nstate_file: {tmp_path / name / 'state.json'}\n"
        config.write_text(text)
        daemon = ProcessDaemon(config, tmp_path / f"{name}.log")
        started.append(daemon)
        return daemon

    start.group = f"e2e-{uuid.uuid4().hex[:8]}"  # type: ignore[attr-defined]
    yield start
    for daemon in started:
        daemon.stop()


def _leader_and_follower(replicas) -> tuple[ProcessDaemon, ProcessDaemon]:
    a = replicas("a")
    a.wait_for(lambda: a.value("cdc_ha_leader") == 1, 40, "replica a leading")
    b = replicas("b")
    b.wait_for(lambda: b.value("cdc_ha_role", role="follower") == 1, 40, "replica b in the group, following")
    return a, b


def _messages(capture, connector: str, word: str) -> list[dict]:
    return [
        r.json()
        for r in capture.received("/slack/webhook/alerts")
        if connector in r.json()["text"] and word in r.json()["text"]
    ]


def test_sigkill_of_the_leader_mid_incident_pages_once_and_resolves_once(stack, replicas, capture):
    doomed = stack.create_connector()
    try:
        a, b = _leader_and_follower(replicas)
        for d in (a, b):
            d.wait_for(
                lambda d=d: d.value("cdc_task_state", connector=doomed.name, state="RUNNING") == 1, 60, "RUNNING"
            )
        stack.faults.task_failed_non_retriable(doomed)
        a.wait_for(lambda: _messages(capture, doomed.name, "FIRING"), 3 * POLL + 20, "the page from the leader")
        b.wait_for(
            lambda: b.value("cdc_alert_firing", alert="CdcTaskFailed", connector=doomed.name) == 1,
            3 * POLL + 10,
            "the follower judging the same alert",
        )
        a.kill()
        killed = time.monotonic()
        b.wait_for(lambda: b.value("cdc_ha_leader") == 1, SESSION + 15, "the follower taking over")
        took = time.monotonic() - killed
        print(f"\ntakeover {took:.1f}s after SIGKILL of the leader (session timeout {SESSION:.0f}s)")
        assert took <= SESSION + 3 * POLL + 2
        polls = b.value("cdc_source_polls_total", source="connect:devstack") or 0
        b.wait_for(
            lambda: (b.value("cdc_source_polls_total", source="connect:devstack") or 0) >= polls + 2,
            4 * POLL + 5,
            "two polls judged by the new leader",
        )
        assert len(_messages(capture, doomed.name, "FIRING")) == 1  # not announced again after the takeover
        stack.delete_connector(doomed.name)
        b.wait_for(
            lambda: _messages(capture, doomed.name, "RESOLVED"), 3 * POLL + 15, "the resolve from the new leader"
        )
        assert len(_messages(capture, doomed.name, "FIRING")) == 1
        assert len(_messages(capture, doomed.name, "RESOLVED")) == 1
        assert b.value("cdc_ha_leader_changes_total") == 1
    finally:
        stack.faults.restore_debezium_password()
        if doomed.name in stack.list_connectors():
            stack.delete_connector(doomed.name)


def test_with_no_broker_neither_replica_pages_and_both_say_why(stack, replicas, capture):
    doomed = stack.create_connector()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{sock.getsockname()[1]}"
    try:
        pair = [replicas("a", bootstrap=nowhere), replicas("b", bootstrap=nowhere)]
        for d in pair:
            d.wait_for(lambda d=d: d.value("cdc_ha_role", role="no_broker") == 1, 30, "no_broker role")
            d.wait_for(
                lambda d=d: d.value("cdc_task_state", connector=doomed.name, state="RUNNING") == 1, 60, "RUNNING"
            )
        stack.faults.task_failed_non_retriable(doomed)
        for d in pair:  # metrics yes
            d.wait_for(
                lambda d=d: d.value("cdc_alert_firing", alert="CdcTaskFailed", connector=doomed.name) == 1,
                3 * POLL + 10,
                "the alert judged",
            )
        polls = [d.value("cdc_source_polls_total", source="connect:devstack") or 0 for d in pair]
        for d, n in zip(pair, polls, strict=True):
            d.wait_for(
                lambda d=d, n=n: (d.value("cdc_source_polls_total", source="connect:devstack") or 0) >= n + 2,
                4 * POLL + 5,
                "two more polls",
            )
        assert _messages(capture, doomed.name, "FIRING") == []  # pages no
        for d in pair:
            assert d.value("cdc_ha_leader") == 0
            assert d.value("cdc_ha_role", role="no_broker") == 1
    finally:
        stack.faults.restore_debezium_password()
        if doomed.name in stack.list_connectors():
            stack.delete_connector(doomed.name)


def test_a_paused_leader_that_wakes_after_the_takeover_sends_nothing(stack, replicas, capture):
    """SIGSTOP is the harshest split: the leader misses everything, then runs on with stale
    state. The follower takes over and resolves; the woken replica must not page or resolve."""
    doomed = stack.create_connector()
    a = None
    try:
        a, b = _leader_and_follower(replicas)
        for d in (a, b):
            d.wait_for(
                lambda d=d: d.value("cdc_task_state", connector=doomed.name, state="RUNNING") == 1, 60, "RUNNING"
            )
        stack.faults.task_failed_non_retriable(doomed)
        a.wait_for(lambda: _messages(capture, doomed.name, "FIRING"), 3 * POLL + 20, "the page from the leader")
        os.kill(a.proc.pid, signal.SIGSTOP)
        b.wait_for(lambda: b.value("cdc_ha_leader") == 1, SESSION + 15, "the follower taking over")
        stack.delete_connector(doomed.name)
        b.wait_for(
            lambda: _messages(capture, doomed.name, "RESOLVED"), 3 * POLL + 15, "the resolve from the new leader"
        )
        os.kill(a.proc.pid, signal.SIGCONT)
        a.wait_for(lambda: a.value("cdc_ha_leader") == 0, 10, "the woken replica not leading")
        a.wait_for(lambda: a.value("cdc_ha_role", role="follower") == 1, SESSION + 20, "the woken replica following")
        polls = a.value("cdc_source_polls_total", source="connect:devstack") or 0
        a.wait_for(
            lambda: (a.value("cdc_source_polls_total", source="connect:devstack") or 0) >= polls + 2,
            4 * POLL + 5,
            "two polls of the woken replica",
        )
        assert len(_messages(capture, doomed.name, "FIRING")) == 1
        assert len(_messages(capture, doomed.name, "RESOLVED")) == 1
        assert b.value("cdc_ha_leader") == 1
    finally:
        if a is not None and a.proc.poll() is None:
            os.kill(a.proc.pid, signal.SIGCONT)
        stack.faults.restore_debezium_password()
        if doomed.name in stack.list_connectors():
            stack.delete_connector(doomed.name)


def test_the_restart_backoff_carries_on_across_a_failover(stack, replicas, connector):
    """Retriable failure, database left down: every restart fails again, backoff 0, 4 s, 12 s.
    Killed after its second restart, the leader's successor waits out the published backoff
    and makes the third restart, not a first one."""
    remediation = "remediation:\n  enabled: true\n  backoff_base: 2s\n  backoff_max: 1m\n"
    stack.faults.task_failed_retriable(connector)
    a = replicas("a", extra=remediation)
    a.wait_for(lambda: a.value("cdc_ha_leader") == 1, 40, "replica a leading")
    b = replicas("b", extra=remediation)
    b.wait_for(lambda: b.value("cdc_ha_role", role="follower") == 1, 40, "replica b following")
    labels = {"connect_cluster": "devstack", "connector": connector.name}
    a.wait_for(lambda: a.value("cdc_remediation_attempts", **labels) == 2, 60, "two restarts by the leader")
    next_allowed = a.value("cdc_remediation_next_allowed_timestamp_seconds", **labels)
    assert (
        b.value("cdc_remediation_restarts_total", result="restarted", **labels) is None
    )  # the follower restarts nothing
    a.kill()
    b.wait_for(lambda: b.value("cdc_ha_leader") == 1, SESSION + 15, "the follower taking over")
    b.wait_for(
        lambda: b.value("cdc_remediation_restarts_total", result="restarted", **labels) == 1, 60, "a restart by b"
    )
    restarted = time.time()
    assert b.value("cdc_remediation_attempts", **labels) == 3  # the streak went on; a reset would say 1
    assert next_allowed is not None and restarted >= next_allowed - 1.0  # the backoff was waited out
