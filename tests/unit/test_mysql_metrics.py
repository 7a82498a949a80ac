"""The binlog exporter contributor: fixed metric names, one sample per connector, no sample for
unknowns, cdc_mysql_up 0 when the database is down, and text a Prometheus parser accepts."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType, SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families
from test_mysql_fakes import FakeConnector, load

from cdc_watch.config import parse_config
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.model import ErrorReason, PollResult, SourceError
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.exporter.catalogue import BY_NAME
from cdc_watch.exporter.mysql import mysql_metrics
from cdc_watch.exporter.render import render
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
)
from cdc_watch.sources.mysql.parse import PRIVILEGES, PrivilegeCheck
from cdc_watch.sources.mysql.poll import MySQLSource

MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"


def samples(body: bytes) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def build(monkeypatch, db_ok: bool = True):
    monkeypatch.setenv("CDC_TEST_DB_PASSWORD", "s3cret-monitor-pw")
    config = parse_config(
        {
            "connect_clusters": [{"name": "prod", "url": "http://connect:8083"}],
            "databases": [
                {"name": "orders", "host": "db.example", "user": "cdc_monitor", "password": "${CDC_TEST_DB_PASSWORD}"}
            ],
        }
    )
    store = SnapshotStore()
    store.register(
        [
            ("connect:prod", "connect"),
            ("connect_offsets:prod", "connect_offsets"),
            ("jolokia:prod", "jolokia"),
            ("mysql:orders", "mysql"),
        ]
    )
    settings = ConnectorSettings(MYSQL_CLASS, "orders", "db.example", 3306, "debezium", 1)
    connectors = {n: ConnectorStatus(n, "source", State.RUNNING, "w", (), settings) for n in ("live-one", "purged-one")}
    snap = store.record(
        PollResult(
            "connect:prod",
            "connect",
            0,
            0,
            data=ConnectClusterState("prod", "u", "3.9.0", "", "", MappingProxyType(connectors)),
        )
    )
    store.record(
        PollResult(
            "connect_offsets:prod",
            "connect_offsets",
            0,
            0,
            data={
                "live-one": (({"server": "orders"}, {"file": "binlog.000041", "pos": 4000}),),
                "purged-one": (({"server": "orders"}, {"file": "binlog.000007", "pos": 4}),),
            },
        )
    )
    store.record(
        PollResult(
            "jolokia:prod",
            "jolokia",
            0,
            0,
            data=SimpleNamespace(
                streaming={
                    "live-one": SimpleNamespace(
                        binlog_filename="binlog.000042", binlog_position=1000, gtid_set=None, connected=True
                    ),
                }
            ),
        )
    )
    if db_ok:
        state = MySQLSource(config.databases[0], clock=FakeClock(), connect=FakeConnector(load("mysql-8.0.json"))).poll(
            snap
        )
        store.record(PollResult("mysql:orders", "mysql", 0, 0, data=state))
    else:
        store.record(
            PollResult(
                "mysql:orders",
                "mysql",
                0,
                0,
                error=SourceError(ErrorReason.CONNECT, "mysql orders (db.example:3306): cannot connect (error 2003)"),
            )
        )
    return store.current()


def test_database_and_connector_metrics(monkeypatch):
    body = render(build(monkeypatch), [mysql_metrics])
    got = samples(body)
    db = (("database", "orders"),)
    assert got[("cdc_mysql_up", db)] == 1
    assert got[("cdc_binlog_head_file_number", db)] == 42
    assert got[("cdc_binlog_head_position_bytes", db)] == 1543
    assert got[("cdc_binlog_files", db)] == 2
    assert got[("cdc_binlog_size_bytes", db)] == 5000 + 1543
    assert got[("cdc_binlog_retention_seconds", db)] == 2592000
    assert got[("cdc_mysql_failovers_total", db)] == 0
    assert got[("cdc_mysql_setting_ok", (("database", "orders"), ("setting", "binlog_format")))] == 1
    assert (
        got[("cdc_mysql_user_privilege_ok", (("database", "orders"), ("privilege", "reload"), ("user", "debezium")))]
        == 0
    )
    assert got[("cdc_mysql_privilege_ok", (("database", "orders"), ("privilege", "reload")))] == 0
    assert got[("cdc_mysql_privilege_ok", (("database", "orders"), ("privilege", "show_databases")))] == 1
    live = (("connect_cluster", "prod"), ("connector", "live-one"))
    assert got[("cdc_connector_binlog_lag_bytes", live)] == 543
    assert got[("cdc_connector_binlog_position_live", live)] == 1
    assert got[("cdc_connector_binlog_committed_lag_bytes", live)] == (5000 - 4000) + 1543
    assert got[("cdc_connector_binlog_available", live)] == 1
    purged = (("connect_cluster", "prod"), ("connector", "purged-one"))
    assert got[("cdc_connector_binlog_available", purged)] == 0
    assert got[("cdc_connector_binlog_purge_eta_seconds", purged)] == 0
    assert got[("cdc_connector_binlog_status", (*purged, ("status", "purged")))] == 1
    assert ("cdc_connector_binlog_lag_bytes", purged) not in got
    assert all(name.removesuffix("_total") in BY_NAME or name in BY_NAME for name, _ in got)
    assert b"s3cret-monitor-pw" not in body


def test_database_down_exports_up_zero_and_no_connector_samples(monkeypatch):
    got = samples(render(build(monkeypatch, db_ok=False), [mysql_metrics]))
    assert got == {("cdc_mysql_up", (("database", "orders"),)): 0}


def _with(snapshot, **changes):
    """The snapshot with the polled database state changed."""
    status = snapshot.sources["mysql:orders"]
    state = replace(status.last.data, **changes)
    store = SnapshotStore()
    store.register([(name, st.kind) for name, st in snapshot.sources.items()])
    for name, st in snapshot.sources.items():
        if st.last is not None:
            store.record(st.last if name != "mysql:orders" else PollResult("mysql:orders", "mysql", 0, 0, data=state))
    return store.current()


def test_privilege_ok_per_database_is_exactly_database_and_privilege(monkeypatch):
    checks = {
        "debezium": tuple(PrivilegeCheck(p, p != "reload", "") for p in PRIVILEGES),
        "other": tuple(PrivilegeCheck(p, True, "") for p in PRIVILEGES),
    }
    snapshot = _with(build(monkeypatch), privileges=MappingProxyType(checks))
    got = samples(render(snapshot, [mysql_metrics]))
    per_db = {dict(k)["privilege"]: v for (name, k), v in got.items() if name == "cdc_mysql_privilege_ok"}
    assert per_db == {p: (0 if p == "reload" else 1) for p in PRIVILEGES}  # 0 if any user lacks it
    assert all(
        set(dict(k)) == {"database", "privilege"} for (name, k), _ in got.items() if name == "cdc_mysql_privilege_ok"
    )
    per_user = {
        (dict(k)["user"], dict(k)["privilege"]): v
        for (name, k), v in got.items()
        if name == "cdc_mysql_user_privilege_ok"
    }
    assert per_user[("other", "reload")] == 1 and per_user[("debezium", "reload")] == 0
    # A user whose grants could not be read: "everyone has it" becomes unknown (absent), a lack stays known.
    snapshot = _with(
        build(monkeypatch),
        privileges=MappingProxyType(checks),
        unchecked_users=1,
        check_errors=MappingProxyType({"grants": "gone: error 1141"}),
    )
    got = samples(render(snapshot, [mysql_metrics]))
    per_db = {dict(k)["privilege"]: v for (name, k), v in got.items() if name == "cdc_mysql_privilege_ok"}
    assert per_db == {"reload": 0}
    assert got[("cdc_mysql_check_unknown", (("check", "grants"), ("database", "orders")))] == 1


def test_purge_eta_never_is_plus_inf(monkeypatch):
    snapshot = _with(build(monkeypatch), retention_seconds=0.0)
    body = render(snapshot, [mysql_metrics])
    assert b'cdc_connector_binlog_purge_eta_seconds{connect_cluster="prod",connector="live-one"} +Inf' in body
    got = samples(body)
    assert (
        got[("cdc_connector_binlog_purge_eta_seconds", (("connect_cluster", "prod"), ("connector", "purged-one")))] == 0
    )
