"""The MySQL source against a fake connection serving recorded replies: exact queries, unknown
checks, role resolution, reconnects, failover counting and first-seen persistence."""

from __future__ import annotations

import json
from types import MappingProxyType

import pymysql.err
import pytest
from test_mysql_fakes import FakeConnector, key, load

from cdc_watch.config import parse_config
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.model import ErrorReason, PollResult, SourceFailure
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.core.statefile import StateFile
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
)
from cdc_watch.sources.mysql import parse
from cdc_watch.sources.mysql.model import FileSeen
from cdc_watch.sources.mysql.poll import MySQLSource, state_section

MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"


def database(monkeypatch, **extra):
    monkeypatch.setenv("CDC_TEST_DB_PASSWORD", "s3cret-monitor-pw")
    raw = {
        "connect_clusters": [{"name": "prod", "url": "http://connect:8083"}],
        "databases": [
            {
                "name": "orders",
                "host": "db.example",
                "port": 3306,
                "user": "cdc_monitor",
                "password": "${CDC_TEST_DB_PASSWORD}",
                **extra,
            }
        ],
    }
    return parse_config(raw).databases[0]


def connect_snapshot(user: str = "debezium", host: str = "db.example", port: int = 3306):
    settings = ConnectorSettings(MYSQL_CLASS, "orders", host, port, user, 1)
    state = ConnectClusterState(
        "prod",
        "http://connect:8083",
        "3.9.0",
        "",
        "k",
        MappingProxyType(
            {"orders-cdc": ConnectorStatus("orders-cdc", "source", State.RUNNING, "w:8083", (), settings)}
        ),
    )
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    return store.record(PollResult("connect:prod", "connect", 0.0, 0.1, data=state))


def base_queries(status: str = "SHOW MASTER STATUS") -> list[str]:
    return [parse.VARIABLES_QUERY, status, "SHOW BINARY LOGS"]


def grants_queries(user: str = "debezium", mysql8: bool = False) -> list[str]:
    if mysql8:  # default roles and mandatory roles are not in MySQL's SHOW GRANTS
        return [
            parse.ROLE_VARIABLES_QUERY,
            key(parse.ACCOUNTS_QUERY, (user,)),
            key(parse.DEFAULT_ROLES_QUERY, (user,)),
            key("SHOW GRANTS FOR %s@%s", (user, "%")),
        ]
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
    assert fake.executed == base_queries("SHOW BINARY LOG STATUS") + grants_queries(mysql8=True)
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
    assert fake.executed == base_queries() + grants_queries(mysql8=True)
    assert {c.privilege: c.ok for c in state.privileges["debezium"]}["replication_slave"] is False


def test_mariadb_default_role_resolved(monkeypatch):
    replies = dict(load("mariadb-10.11-healthy.json"))
    replies.update(load("mariadb-10.11-role.json"))
    fake = FakeConnector(replies)
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(
        connect_snapshot(user="cdc_rec_user")
    )
    assert fake.executed[-1] == key("SHOW GRANTS FOR %s", ("cdc_rec_role",))
    assert all(c.ok for c in state.privileges["cdc_rec_user"])


def test_aurora_reads_retention_procedure(monkeypatch):
    fake = FakeConnector(load("aurora-mysql-3.json"))
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(None)
    assert fake.executed == [*base_queries(), "CALL mysql.rds_show_configuration"]
    assert state.retention_seconds == 24 * 3600.0
    assert state.server.flavour is parse.Flavour.AURORA_MYSQL


def test_aurora_without_execute_grant_is_unknown_retention(monkeypatch):
    replies = load("aurora-mysql-3.json")
    replies["CALL mysql.rds_show_configuration"] = {
        "error": [1370, "execute command denied to user 'cdc_monitor'@'%' for routine 'mysql.rds_show_configuration'"]
    }
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
    fake.refuse = pymysql.err.OperationalError(
        1045, "Access denied for user 'cdc_monitor'@'10.0.0.1' (using password: YES)"
    )
    source = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake)
    with pytest.raises(SourceFailure) as caught:
        source.poll(None)
    assert caught.value.reason is ErrorReason.AUTH
    assert "s3cret-monitor-pw" not in caught.value.message
    fake.refuse = pymysql.err.OperationalError(
        2003, "Can't connect to MySQL server on 'db.example' ([Errno 111] Connection refused)"
    )
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
        r if r[0] != "server_uuid" else ["server_uuid", "11111111-2222-3333-4444-555555555555"]
        for r in replies[parse.VARIABLES_QUERY]["rows"]
    ]
    third = source.poll(None)
    assert third.failovers == 1
    assert not any(s.exact for s in third.seen.values())
    # A restarted daemon reads identity, first-seen times and the failover count back from the
    # state file.
    restarted = MySQLSource(database(monkeypatch), StateFile(path), clock, connect=FakeConnector(replies))
    again = restarted.poll(None)
    assert again.failovers == 1
    assert (
        again.previous_identity is not None
        and again.previous_identity.server_uuid == "3e11fa47-71ca-11e1-9e33-c80aa9429562"
    )
    assert set(again.seen) == {"binlog.000041", "binlog.000042", "binlog.000043"}


# --------------------------------------------------------------------------- MySQL 8 roles
# Replies below are written from the MySQL 8.0/9.x manual (Using Roles, mandatory_roles,
# SHOW GRANTS), not recorded: the devstack runs MariaDB only.


def _using(user_host: tuple[str, str], *roles: tuple[str, str]) -> str:
    placeholders = ", ".join(["%s@%s"] * len(roles))
    return key(f"SHOW GRANTS FOR %s@%s USING {placeholders}", [*user_host, *(p for r in roles for p in r)])


def _all_granted_through(monkeypatch, replies: dict, role: tuple[str, str]) -> None:
    fake = FakeConnector(replies)
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(connect_snapshot())
    assert fake.executed[-1] == _using(("debezium", "%"), role)
    assert all(c.ok for c in state.privileges["debezium"])


def test_mysql_80_default_role_read_from_mysql_default_roles(monkeypatch):
    # MySQL's SHOW GRANTS never prints SET DEFAULT ROLE: the role is only in mysql.default_roles.
    replies = load("mysql-8.0.json")
    replies[key(parse.DEFAULT_ROLES_QUERY, ("debezium",))]["rows"] = [["%", "cdc_role", "%"]]
    _all_granted_through(monkeypatch, replies, ("cdc_role", "%"))


def test_mysql_80_role_host_is_kept(monkeypatch):
    replies = load("mysql-8.0.json")
    grants = replies[key("SHOW GRANTS FOR %s@%s", ("debezium", "%"))]["rows"]
    grants[1] = ["GRANT `cdc_role`@`10.%` TO `debezium`@`%`"]
    replies[key(parse.DEFAULT_ROLES_QUERY, ("debezium",))]["rows"] = [["%", "cdc_role", "10.%"]]
    replies[_using(("debezium", "%"), ("cdc_role", "10.%"))] = replies.pop(_using(("debezium", "%"), ("cdc_role", "%")))
    _all_granted_through(monkeypatch, replies, ("cdc_role", "10.%"))


def test_mandatory_role_counts_when_activated_at_login(monkeypatch):
    # A mandatory role is granted to every account but not shown by SHOW GRANTS FOR.
    replies = load("mysql-8.0.json")
    grants = replies[key("SHOW GRANTS FOR %s@%s", ("debezium", "%"))]["rows"]
    replies[key("SHOW GRANTS FOR %s@%s", ("debezium", "%"))]["rows"] = [g for g in grants if "cdc_role" not in g[0]]
    replies[parse.ROLE_VARIABLES_QUERY]["rows"] = [
        ["activate_mandatory_roles", "ON"],
        ["mandatory_roles", "`cdc_role`@`%`"],
    ]  # 9.5+
    _all_granted_through(monkeypatch, replies, ("cdc_role", "%"))
    # Before 9.5 (no activate_mandatory_roles) a mandatory role is active only as a default role.
    replies[parse.ROLE_VARIABLES_QUERY]["rows"] = [["mandatory_roles", "`cdc_role`@`%`"]]
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=FakeConnector(replies)).poll(
        connect_snapshot()
    )
    assert {c.privilege: c.ok for c in state.privileges["debezium"]}["replication_slave"] is False


# --------------------------------------------------------------------------- errors as data


def connect_snapshot_users(*users: str):
    connectors = {
        f"c-{i}": ConnectorStatus(
            f"c-{i}",
            "source",
            State.RUNNING,
            "w:8083",
            (),
            ConnectorSettings(MYSQL_CLASS, f"p{i}", "db.example", 3306, user, 1),
        )
        for i, user in enumerate(users)
    }
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    state = ConnectClusterState("prod", "http://connect:8083", "3.9.0", "", "k", MappingProxyType(connectors))
    return store.record(PollResult("connect:prod", "connect", 0.0, 0.1, data=state))


def test_sql_error_on_one_users_grants_is_unknown_for_that_user_not_a_failed_poll(monkeypatch):
    replies = load("mariadb-10.11-healthy.json")
    replies[key(parse.ACCOUNTS_QUERY, ("gone",))] = {"columns": ["User", "Host"], "rows": [["gone", "%"]]}
    # The account was dropped between the two statements.
    replies[key("SHOW GRANTS FOR %s@%s", ("gone", "%"))] = {
        "error": [1141, "There is no such grant defined for user 'gone' on host '%'"]
    }
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=FakeConnector(replies)).poll(
        connect_snapshot_users("gone", "debezium")
    )
    assert state.head is not None and state.files  # the binlog figures survive
    assert set(state.privileges) == {"debezium"} and state.unchecked_users == 1
    assert state.check_errors["grants"].startswith("gone: error 1141 There is no such grant")
    assert dict(state.unknown_checks) == {}
    assert state.privilege_summary()["reload"] is None  # not every user known: "all have it" is unknown


def test_unexpected_error_of_a_binlog_check_is_reported_not_raised(monkeypatch):
    replies = load("mariadb-10.11-healthy.json")
    replies["SHOW BINARY LOGS"] = {"error": [1030, 'Got error 28 "No space left on device" from storage engine']}
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=FakeConnector(replies)).poll(None)
    assert state.files is None and state.head is not None
    assert state.check_errors["binary_logs"].startswith("error 1030 Got error 28")
    assert "binary_logs" not in state.unknown_checks


def test_placeholder_user_is_not_queried_and_reported_unknown(monkeypatch):
    fake = FakeConnector(load("mariadb-10.11-healthy.json"))
    placeholder = "${file:/opt/kafka/secrets/db.properties:user}"
    state = MySQLSource(database(monkeypatch), clock=FakeClock(), connect=fake).poll(connect_snapshot(user=placeholder))
    assert fake.executed == base_queries()  # never sent to the server as a user name
    assert dict(state.privileges) == {} and state.unchecked_users == 1
    assert "connector_user" in state.check_errors["grants"] and placeholder not in state.check_errors["grants"]


def test_connector_user_in_the_database_config_overrides_the_connectors(monkeypatch):
    fake = FakeConnector(load("mariadb-10.11-healthy.json"))
    source = MySQLSource(database(monkeypatch, connector_user="debezium"), clock=FakeClock(), connect=fake)
    state = source.poll(connect_snapshot(user="${file:/opt/kafka/secrets/db.properties:user}"))
    assert fake.executed == base_queries() + grants_queries()
    assert all(c.ok for c in state.privileges["debezium"]) and state.unchecked_users == 0


# --------------------------------------------------------------------------- first seen after a gap


def _rotate(replies: dict, name: str) -> None:
    replies["SHOW BINARY LOGS"]["rows"].append([name, 400])


def test_files_first_seen_after_a_gap_in_the_listings_are_inexact(monkeypatch, tmp_path):
    replies = load("mariadb-10.11-healthy.json")
    base = replies["SHOW BINARY LOGS"]["rows"][-1][0].rsplit(".", 1)[0]
    clock = FakeClock()
    source = MySQLSource(
        database(monkeypatch), StateFile(tmp_path / "state.json"), clock, connect=FakeConnector(replies)
    )
    source.poll(None)
    listed = clock.now()
    clock.advance(15)  # one interval later: a new file's first-seen time is exact
    _rotate(replies, f"{base}.000101")
    assert source.poll(None).seen[f"{base}.000101"] == FileSeen(clock.now(), True)
    listed = clock.now()
    # SHOW BINARY LOGS denied for a while, then allowed again long after the last listing.
    replies["SHOW BINARY LOGS"], saved = (
        {"error": [1227, "Access denied; you need (at least one of) the BINLOG MONITOR privilege(s)"]},
        replies["SHOW BINARY LOGS"],
    )
    clock.advance(15)
    assert source.poll(None).files is None
    replies["SHOW BINARY LOGS"] = saved
    clock.advance(300)
    _rotate(replies, f"{base}.000102")
    assert source.poll(None).seen[f"{base}.000102"] == FileSeen(
        listed, False
    )  # conservative: right after the last listing
    # A restart within two intervals of the last listing keeps watching: exact again.
    listed = clock.now()
    clock.advance(20)
    _rotate(replies, f"{base}.000103")
    restarted = MySQLSource(
        database(monkeypatch), StateFile(tmp_path / "state.json"), clock, connect=FakeConnector(replies)
    )
    assert restarted.poll(None).seen[f"{base}.000103"] == FileSeen(clock.now(), True)
    # After a longer outage of cdc_watch: inexact, first seen at the last listing before it.
    listed = clock.now()
    clock.advance(3600)
    _rotate(replies, f"{base}.000104")
    restarted = MySQLSource(
        database(monkeypatch), StateFile(tmp_path / "state.json"), clock, connect=FakeConnector(replies)
    )
    assert restarted.poll(None).seen[f"{base}.000104"] == FileSeen(listed, False)


# --------------------------------------------------------------------------- failovers across restarts


def test_failover_while_cdc_watch_was_down_still_raises_the_alert(monkeypatch, tmp_path):
    from cdc_watch.config import RulesConfig
    from cdc_watch.rules import table as rules

    path = tmp_path / "state.json"
    replies = load("mysql-8.0.json")
    clock = FakeClock()
    source = MySQLSource(database(monkeypatch), StateFile(path), clock, connect=FakeConnector(replies))
    source.poll(None)
    variables = replies[parse.VARIABLES_QUERY]["rows"]

    def fail_over(server_id: str) -> None:
        variables[:] = [r if r[0] != "server_id" else ["server_id", server_id] for r in variables]

    fail_over("2")
    assert source.poll(None).failovers == 1
    detector = rules.BY_NAME["CdcFailoverDetected"].detect
    cfg = RulesConfig()
    memory = {"orders": [1, clock.now()]}  # the rule's persisted memory after that failover
    # cdc_watch is down for an hour; the database fails over again meanwhile.
    clock.advance(3600)
    fail_over("3")
    state = MySQLSource(database(monkeypatch), StateFile(path), clock, connect=FakeConnector(replies)).poll(None)
    assert state.failovers == 2
    store = SnapshotStore()
    store.register([("mysql:orders", "mysql")])
    snapshot = store.record(PollResult("mysql:orders", "mysql", clock.now(), 0.1, data=state))
    observation = detector(snapshot, cfg, memory, clock.now())
    ((labels, evidence),) = observation.verdicts.items()
    assert dict(labels) == {"database": "orders"} and evidence is not None
