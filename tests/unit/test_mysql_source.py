"""The MySQL source against a fake connection serving recorded replies: exact queries, unknown
checks, role resolution, reconnects, failover counting and first-seen persistence."""

from __future__ import annotations

import json
from types import MappingProxyType

import pymysql.err
import pytest

from cdc_watch.clock import FakeClock
from cdc_watch.config import parse_config
from cdc_watch.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    ErrorReason,
    PollResult,
    SourceFailure,
    State,
)
from cdc_watch.snapshot import SnapshotStore
from cdc_watch.sources import mysql_parse as parse
from cdc_watch.sources.mysql import MySQLSource, state_section
from cdc_watch.statefile import StateFile
from test_mysql_fakes import FakeConnector, key, load

MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"


def database(monkeypatch, **extra):
    monkeypatch.setenv("CDC_TEST_DB_PASSWORD", "s3cret-monitor-pw")
    raw = {
        "connect_clusters": [{"name": "prod", "url": "http://connect:8083"}],
        "databases": [{"name": "orders", "host": "db.example", "port": 3306, "user": "cdc_monitor", "password": "${CDC_TEST_DB_PASSWORD}", **extra}],
    }
    return parse_config(raw).databases[0]


def connect_snapshot(user: str = "debezium", host: str = "db.example", port: int = 3306):
    settings = ConnectorSettings(MYSQL_CLASS, "orders", host, port, user, 1)
    state = ConnectClusterState(
        "prod", "http://connect:8083", "3.9.0", "", "k",
        MappingProxyType({"orders-cdc": ConnectorStatus("orders-cdc", "source", State.RUNNING, "w:8083", (), settings)}),
    )
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    return store.record(PollResult("connect:prod", "connect", 0.0, 0.1, data=state))


def base_queries(status: str = "SHOW MASTER STATUS") -> list[str]:
    return [parse.VARIABLES_QUERY, status, "SHOW BINARY LOGS"]


def grants_queries(user: str = "debezium") -> list[str]:
    return [key(parse.ACCOUNTS_QUERY, (user,)), key("SHOW GRANTS FOR %s@%s", (user, "%"))]


def test_healthy_mariadb_exact_queries_and_state(monkeypatch):
    fake = FakeConnector(load("mariadb-10.11-healthy.json"))
    source = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake)
    state = source.poll(connect_snapshot())
    assert fake.executed == base_queries() + grants_queries()
    assert state.server.flavour is parse.Flavour.MARIADB
    assert state.head is not None and state.files and state.head.file == state.files[-1].name
    assert state.retention_seconds == 0.0
    assert all(c.ok for c in state.privileges["debezium"])
    assert dict(state.unknown_checks) == {}
    assert len(fake.connections) == 1


def test_kept_connection_is_reused_across_polls(monkeypatch):
    fake = FakeConnector(load("mariadb-10.11-healthy.json"))
    source = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake)
    source.poll(None)
    source.poll(None)
    assert len(fake.connections) == 1
    assert fake.executed == base_queries() * 2  # no connector users known: no grant queries


def test_monitor_without_grants_reports_unknown_checks(monkeypatch):
    fake = FakeConnector(load("mariadb-10.11-monitor-unprivileged.json"))
    source = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake)
    state = source.poll(connect_snapshot())
    assert dict(state.unknown_checks) == {
        "binlog_status": "BINLOG MONITOR",
        "binary_logs": "BINLOG MONITOR",
        "grants": "SELECT ON mysql.*",
    }
    assert state.head is None and state.files is None
    assert dict(state.privileges) == {}
    assert all(c.ok for c in state.settings if c.ok is not None)


def test_mysql_84_uses_only_the_new_status_statement(monkeypatch):
    fake = FakeConnector(load("mysql-8.4.json"))
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(connect_snapshot())
    assert fake.executed == base_queries("SHOW BINARY LOG STATUS") + grants_queries()
    assert state.head == parse.HeadPosition("binlog.1000000", 300, "")
    assert {c.privilege: c.ok for c in state.privileges["debezium"]}["replication_client"] is False


def test_mysql_80_role_expanded_with_using(monkeypatch):
    replies = load("mysql-8.0.json")
    replies[parse.VARIABLES_QUERY]["rows"].append(["activate_all_roles_on_login", "ON"])
    fake = FakeConnector(replies)
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(connect_snapshot())
    assert fake.executed[-1] == key("SHOW GRANTS FOR %s@%s USING %s@%s", ("debezium", "%", "cdc_role", "%"))
    assert all(c.ok for c in state.privileges["debezium"])


def test_mysql_80_inactive_role_does_not_count(monkeypatch):
    fake = FakeConnector(load("mysql-8.0.json"))  # activate_all_roles_on_login=OFF, no default role
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(connect_snapshot())
    assert fake.executed == base_queries() + grants_queries()
    assert {c.privilege: c.ok for c in state.privileges["debezium"]}["replication_slave"] is False


def test_mariadb_default_role_resolved(monkeypatch):
    replies = dict(load("mariadb-10.11-healthy.json"))
    replies.update(load("mariadb-10.11-role.json"))
    fake = FakeConnector(replies)
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(connect_snapshot(user="cdc_rec_user"))
    assert fake.executed[-1] == key("SHOW GRANTS FOR %s", ("cdc_rec_role",))
    assert all(c.ok for c in state.privileges["cdc_rec_user"])


def test_aurora_reads_retention_procedure(monkeypatch):
    fake = FakeConnector(load("aurora-mysql-3.json"))
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(None)
    assert fake.executed == base_queries() + ["CALL mysql.rds_show_configuration"]
    assert state.retention_seconds == 24 * 3600.0
    assert state.server.flavour is parse.Flavour.AURORA_MYSQL


def test_aurora_without_execute_grant_is_unknown_retention(monkeypatch):
    replies = load("aurora-mysql-3.json")
    replies["CALL mysql.rds_show_configuration"] = {"error": [1370, "execute command denied to user 'cdc_monitor'@'%' for routine 'mysql.rds_show_configuration'"]}
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=FakeConnector(replies)).poll(None)
    assert state.retention_seconds is None
    assert state.unknown_checks["retention"].startswith("EXECUTE")


def test_lost_connection_reconnects_once(monkeypatch):
    fake = FakeConnector(load("mariadb-10.11-healthy.json"))
    source = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake)
    source.poll(None)
    fake.connections[0].fail_next = pymysql.err.OperationalError(2006, "MySQL server has gone away")
    state = source.poll(None)
    assert state.head is not None
    assert len(fake.connections) == 2 and fake.connections[0].closed


def test_auth_and_connect_failures_are_typed_and_never_hold_the_password(monkeypatch):
    fake = FakeConnector(load("mariadb-10.11-healthy.json"))
    fake.refuse = pymysql.err.OperationalError(1045, "Access denied for user 'cdc_monitor'@'10.0.0.1' (using password: YES)")
    source = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake)
    with pytest.raises(SourceFailure) as caught:
        source.poll(None)
    assert caught.value.reason is ErrorReason.AUTH
    assert "s3cret-monitor-pw" not in caught.value.message
    fake.refuse = pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'db.example' ([Errno 111] Connection refused)")
    with pytest.raises(SourceFailure) as caught:
        source.poll(None)
    assert caught.value.reason is ErrorReason.CONNECT
    fake.refuse = pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'db.example' (timed out)")
    with pytest.raises(SourceFailure) as caught:
        source.poll(None)
    assert caught.value.reason is ErrorReason.TIMEOUT


def test_failover_counted_and_first_seen_persisted(monkeypatch, tmp_path):
    path = tmp_path / "state.json"
    replies = load("mysql-8.0.json")
    clock = FakeClock()
    fake = FakeConnector(replies)
    source = MySQLSource(database(monkeypatch), StateFile(path), clock, connect=fake)
    first = source.poll(None)
    assert first.failovers == 0
    assert {n: s.exact for n, s in first.seen.items()} == {"binlog.000041": False, "binlog.000042": False}
    # The server rotates: the new file is seen appearing, so its first-seen time is exact.
    clock.advance(30)
    replies["SHOW BINARY LOGS"]["rows"].append(["binlog.000043", 120, "No"])
    replies["SHOW MASTER STATUS"]["rows"][0][:2] = ["binlog.000043", 120]
    second = source.poll(None)
    assert second.seen["binlog.000043"].exact and second.seen["binlog.000043"].first_seen == clock.now()
    assert second.written_bytes == (1543 - 1543) + 120  # rest of 000042 (at its head) + 120
    saved = json.loads(path.read_text())["sections"][state_section("orders")]
    assert saved["files"]["binlog.000043"] == [clock.now(), True]
    # Same endpoint, different server: a failover.
    clock.advance(30)
    replies[parse.VARIABLES_QUERY]["rows"] = [
        r if r[0] != "server_uuid" else ["server_uuid", "11111111-2222-3333-4444-555555555555"] for r in replies[parse.VARIABLES_QUERY]["rows"]
    ]
    third = source.poll(None)
    assert third.failovers == 1
    assert not any(s.exact for s in third.seen.values())
    # A restarted daemon reads identity and first-seen times back from the state file.
    restarted = MySQLSource(database(monkeypatch), StateFile(path), clock, connect=FakeConnector(replies))
    again = restarted.poll(None)
    assert again.failovers == 0
    assert set(again.seen) == {"binlog.000041", "binlog.000042", "binlog.000043"}
