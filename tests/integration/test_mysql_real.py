"""The MySQL source against the real devstack MariaDB: rotate and purge, settings changed at
runtime, a revoked grant, the database stopped and started again."""

from __future__ import annotations

import time

import pytest

from cdc_watch.config import parse_config
from cdc_watch.core.clock import SystemClock
from cdc_watch.core.model import ErrorReason, PollResult, SourceFailure
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
)
from cdc_watch.sources.mysql.parse import Flavour, binlog_seq
from cdc_watch.sources.mysql.poll import MySQLSource

pytestmark = pytest.mark.stack

MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"


@pytest.fixture
def source(stack, stack_env):
    config = parse_config(
        {
            "connect_clusters": [{"name": "dev", "url": stack.connect_url}],
            "databases": [
                {
                    "name": "devdb",
                    "host": "127.0.0.1",
                    "port": stack.ports.mariadb,
                    "user": stack_env["CDC_DEVSTACK_MONITOR_USER"],
                    "password": "${CDC_DEVSTACK_MONITOR_PASSWORD}",
                    "connect_timeout": "2s",
                    "read_timeout": "5s",
                }
            ],
        }
    )
    src = MySQLSource(config.databases[0], clock=SystemClock())
    yield src
    src.close()
    stack.faults.heal_all()


@pytest.fixture
def stack_env(stack, monkeypatch):
    for key, value in stack.env().items():
        monkeypatch.setenv(key, value)
    return stack.env()


def snapshot_with_connector(stack):
    settings = ConnectorSettings(
        MYSQL_CLASS, "dbserver1", "127.0.0.1", stack.ports.mariadb, stack.mariadb.debezium_user, 1
    )
    state = ConnectClusterState(
        "dev",
        stack.connect_url,
        "3.9.0",
        "",
        "",
        {"c": ConnectorStatus("c", "source", State.RUNNING, "w", (), settings)},
    )
    store = SnapshotStore()
    store.register([("connect:dev", "connect")])
    return store.record(PollResult("connect:dev", "connect", 0, 0, data=state))


def test_healthy_mariadb(stack, source):
    state = source.poll(snapshot_with_connector(stack))
    assert state.server.flavour is Flavour.MARIADB
    assert state.head is not None and state.files
    assert state.head.file == state.files[-1].name
    assert {c.setting: c.ok for c in state.settings}["binlog_format"] is True
    assert all(c.ok for c in state.privileges[stack.mariadb.debezium_user])
    assert dict(state.unknown_checks) == {}


def committed_files(stack) -> set[str]:
    """Binlog files named by any connector's committed offset (a restart needs them)."""
    files = set()
    for name in stack.list_connectors():
        for entry in stack.connector_offsets(name).get("offsets", []):
            if entry.get("offset", {}).get("file"):
                files.add(entry["offset"]["file"])
    return files


def test_flush_and_purge_are_seen(stack, source):
    before = source.poll(None)
    stack.sql("FLUSH BINARY LOGS")
    after_flush = source.poll(None)
    new_file = after_flush.head.file
    assert binlog_seq(new_file) == binlog_seq(before.head.file) + 1
    assert after_flush.seen[new_file].exact  # appeared while watching
    # Purge only what no connector needs: write a row so every connector's committed offset
    # moves to the new file (offset.flush.interval.ms=5000), then purge up to the oldest
    # file still named by an offset. Never purge under a connector here. A group still
    # rebalancing commits nothing (seen on Connect 4.3 right after an earlier test deleted its
    # connector: a rebalance every 5 s for over 30 s), so wait for it to settle first.
    stack.wait_group_settled(quiet=8)
    stack.wait_streaming(stack.sample_connector)
    stack.sql("INSERT INTO inventory.customers (first_name, last_name, email) VALUES ('Purge', 'Probe', UUID())")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        needed = committed_files(stack)
        if needed and all(binlog_seq(f) >= binlog_seq(new_file) for f in needed):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"committed offsets did not reach {new_file}: {committed_files(stack)}")
    oldest_needed = min(needed, key=binlog_seq)
    stack.sql(f"PURGE BINARY LOGS TO '{oldest_needed}'")
    after_purge = source.poll(None)
    assert after_purge.files[0].name == oldest_needed
    assert before.head.file not in {f.name for f in after_purge.files}
    assert set(after_purge.seen) == {f.name for f in after_purge.files}


def test_settings_changed_at_runtime(stack, source):
    stack.faults.set_binlog_format("MIXED")
    stack.faults.set_binlog_row_image("MINIMAL")
    checks = {c.setting: c.ok for c in source.poll(None).settings}
    assert checks["binlog_format"] is False and checks["binlog_row_image"] is False
    stack.faults.restore_settings()
    checks = {c.setting: c.ok for c in source.poll(None).settings}
    assert checks["binlog_format"] is True and checks["binlog_row_image"] is True


def test_revoked_grant_of_the_connector_user(stack, source):
    snap = snapshot_with_connector(stack)
    stack.faults.revoke_grant("REPLICATION SLAVE")
    checks = {c.privilege: c.ok for c in source.poll(snap).privileges[stack.mariadb.debezium_user]}
    assert checks["replication_slave"] is False and checks["reload"] is True
    stack.faults.restore_grants()
    checks = {c.privilege: c.ok for c in source.poll(snap).privileges[stack.mariadb.debezium_user]}
    assert checks["replication_slave"] is True


def test_monitoring_user_without_binlog_monitor_reports_unknown(stack, source):
    stack.faults.revoke_grant("BINLOG MONITOR", user=stack.mariadb.monitor_user)
    source.close()  # privileges apply to new sessions
    state = source.poll(None)
    assert state.unknown_checks.get("binary_logs") == "BINLOG MONITOR"
    assert state.files is None
    stack.faults.restore_grants()


def test_database_stopped_then_started(stack, source):
    assert source.poll(None).head is not None
    stack.faults.db_stop()
    with pytest.raises(SourceFailure) as caught:
        source.poll(None)
    assert caught.value.reason in (ErrorReason.CONNECT, ErrorReason.TIMEOUT)
    assert stack.mariadb.monitor_password not in caught.value.message
    stack.faults.db_start()
    assert source.poll(None).head is not None  # reconnects on its own
