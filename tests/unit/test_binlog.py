"""The pure per-connector binlog join: byte lag across files, availability, purge ETA, matching."""

from __future__ import annotations

import math
from types import MappingProxyType, SimpleNamespace

import pytest

from cdc_watch.analysis import binlog
from cdc_watch.analysis.binlog import PositionStatus
from cdc_watch.analysis.positions import Origin, connector_positions
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
)
from cdc_watch.sources.mysql import tracking
from cdc_watch.sources.mysql.model import DatabaseState, Endpoint, FileSeen, Identity
from cdc_watch.sources.mysql.parse import BinlogFile, Flavour, HeadPosition, ServerInfo

NOW = 1_750_000_000.0
U1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"
FILES = (
    BinlogFile("mysql-bin.000040", 1000),
    BinlogFile("mysql-bin.000041", 2000),
    BinlogFile("mysql-bin.000042", 500),
)
HEAD = HeadPosition("mysql-bin.000042", 500)


def db(**changes) -> DatabaseState:
    values = dict(
        endpoint=Endpoint("orders", "db.example", 3306),
        server=ServerInfo(Flavour.MYSQL, (8, 0, 36), "8.0.36"),
        polled_at=NOW,
        identity=Identity(U1, "1", False),
        head=HEAD,
        files=FILES,
        retention_seconds=3600.0,
        gtid_mode=False,
        gtid_executed="",
        gtid_purged="",
        settings=(),
        privileges=MappingProxyType({}),
        unknown_checks=MappingProxyType({}),
        failovers=0,
        written_bytes=0,
        write_rate=None,
    )
    values.update(changes)
    return DatabaseState(**values)


def offsets(file: str, pos: int, gtids: str | None = None):
    offset = {"file": file, "pos": pos}
    if gtids is not None:
        offset["gtids"] = gtids
    return {"c": (({"server": "orders"}, offset),)}


def live(file: str | None, pos: int | None, gtids: str | None = None):
    return SimpleNamespace(
        streaming={"c": SimpleNamespace(binlog_filename=file, binlog_position=pos, gtid_set=gtids, connected=True)}
    )


@pytest.mark.parametrize(
    ("file", "pos", "expected"),
    [
        ("mysql-bin.000042", 100, 400),
        ("mysql-bin.000042", 900, 0),  # head poll older than the connector's: never negative
        ("mysql-bin.000041", 1500, 500 + 500),
        ("mysql-bin.000040", 0, 1000 + 2000 + 500),
        ("mysql-bin.000039", 0, None),  # purged: unknown distance
        ("other-bin.000042", 0, None),
    ],
)
def test_byte_distance_across_files(file, pos, expected):
    assert tracking.byte_distance(FILES, file, pos, HEAD) == expected


def test_numeric_suffixes_past_six_digits():
    files = (BinlogFile("b.999999", 100), BinlogFile("b.1000000", 50))
    assert tracking.byte_distance(files, "b.999999", 40, HeadPosition("b.1000000", 50)) == 60 + 50


@pytest.mark.parametrize(
    ("file", "status"),
    [
        ("mysql-bin.000041", PositionStatus.AVAILABLE),
        ("mysql-bin.000039", PositionStatus.PURGED),
        ("other-bin.000041", PositionStatus.BASENAME_CHANGED),
        ("mysql-bin.000043", PositionStatus.UNKNOWN),  # newer than the last database poll
    ],
)
def test_file_status(file, status):
    assert binlog.file_status(FILES, HEAD, file) is status


def test_missing_file_between_listed_ones_is_unknown_file():
    files = (BinlogFile("mysql-bin.000040", 1), BinlogFile("mysql-bin.000042", 1))
    assert binlog.file_status(files, HEAD, "mysql-bin.000041") is PositionStatus.UNKNOWN_FILE


def test_gtid_mode_availability():
    state = db(gtid_mode=True, gtid_executed=f"{U1}:1-100", gtid_purged=f"{U1}:1-40")
    assert (
        binlog.join_connector(state, "prod", "c", None, offsets("mysql-bin.000039", 4, f"{U1}:1-50"), NOW).status
        is PositionStatus.AVAILABLE
    )
    assert (
        binlog.join_connector(state, "prod", "c", None, offsets("mysql-bin.000041", 4, f"{U1}:1-30"), NOW).status
        is PositionStatus.GTIDS_PURGED
    )
    row = binlog.join_connector(state, "prod", "c", None, offsets("mysql-bin.000041", 4, f"{U1}:1-150"), NOW)
    assert row.status is PositionStatus.GTIDS_UNKNOWN and row.available is False


def test_live_position_preferred_for_lag_restart_uses_the_older():
    row = binlog.join_connector(db(), "prod", "c", live("mysql-bin.000042", 450), offsets("mysql-bin.000040", 10), NOW)
    assert row.current is not None and row.current.origin is Origin.LIVE
    assert row.lag_bytes == 50
    assert row.restart is not None and row.restart.file == "mysql-bin.000040"
    assert row.available is True


def test_committed_used_when_mbean_gone_and_purged_is_unavailable():
    row = binlog.join_connector(
        db(), "prod", "c", SimpleNamespace(streaming={}), offsets("mysql-bin.000012", 1681), NOW
    )
    assert row.current is not None and row.current.origin is Origin.COMMITTED
    assert row.available is False and row.status is PositionStatus.PURGED
    assert row.purge_eta == 0.0 and row.lag_bytes is None


def test_no_position_at_all_is_unknown_not_unavailable():
    row = binlog.join_connector(db(), "prod", "c", None, {}, NOW)
    assert row.available is None and row.lag_bytes is None and row.purge_eta is None


def test_positions_ignore_malformed_entries():
    assert connector_positions(live(None, None), {"c": (("bad",), ({"server": "x"}, {"pos": 1}))}, "c").current is None


def test_purge_eta_from_exact_first_seen():
    seen = {"mysql-bin.000041": FileSeen(NOW - 7200, True), "mysql-bin.000042": FileSeen(NOW - 600, True)}
    state = db(seen=MappingProxyType(seen))
    # 000041 was closed when 000042 appeared 600 s ago; retention 3600 s.
    assert binlog.purge_eta(state, "mysql-bin.000041", NOW) == pytest.approx(3000)
    assert binlog.purge_eta(state, "mysql-bin.000042", NOW) == 3600  # active file: lower bound
    assert binlog.purge_eta(db(retention_seconds=None), "mysql-bin.000041", NOW) is None


def test_purge_eta_never_is_infinite_and_distinct_from_unknown():
    never = db(retention_seconds=0.0)  # retention off: no file is purged by age
    assert binlog.purge_eta(never, "mysql-bin.000041", NOW) == math.inf
    assert binlog.purge_eta(never, "mysql-bin.000042", NOW) == math.inf  # the active file too
    assert binlog.purge_eta(never, "mysql-bin.000012", NOW) == 0.0  # already purged is still 0
    assert binlog.purge_eta(db(retention_seconds=None), "mysql-bin.000041", NOW) is None  # unknown
    row = binlog.join_connector(never, "prod", "c", None, offsets("mysql-bin.000041", 4), NOW)
    assert row.status is PositionStatus.AVAILABLE and row.purge_eta == math.inf


def test_purge_eta_from_write_rate_when_first_seen_is_not_exact():
    seen = {"mysql-bin.000042": FileSeen(NOW - 10, False)}
    # 000041 closed when 000042 started: 500 bytes ago at 1 byte/s.
    state = db(seen=MappingProxyType(seen), write_rate=1.0)
    assert binlog.purge_eta(state, "mysql-bin.000041", NOW) == pytest.approx(3600 - 500)
    assert binlog.purge_eta(db(seen=MappingProxyType(seen)), "mysql-bin.000041", NOW) is None


def test_update_seen_exactness():
    first = tracking.update_seen(None, FILES, NOW, watching=True)
    assert not any(s.exact for s in first.values())
    later = tracking.update_seen(first, (*FILES[1:], BinlogFile("mysql-bin.000043", 1)), NOW + 5, watching=True)
    assert "mysql-bin.000040" not in later
    assert later["mysql-bin.000043"] == FileSeen(NOW + 5, True)
    assert later["mysql-bin.000041"] == first["mysql-bin.000041"]
    assert tracking.seen_from_json(tracking.seen_to_json(later)) == later


def test_files_first_seen_after_a_gap_are_inexact_with_the_last_listing_as_first_seen():
    first = tracking.update_seen(None, FILES[:2], NOW, watching=False)
    gap = tracking.update_seen(first, FILES, NOW + 3600, watching=False, since=NOW)
    assert gap["mysql-bin.000042"] == FileSeen(NOW, False)  # appeared at the earliest right after NOW
    assert gap["mysql-bin.000041"] == first["mysql-bin.000041"]
    # Not exact, so the purge ETA of 000041 does not trust it (write rate, else unknown).
    assert binlog.purge_eta(db(seen=MappingProxyType(gap)), "mysql-bin.000041", NOW + 3600) is None


def offset_from(server_id: int, file: str = "mysql-bin.000041", gtids: str | None = None):
    offset: dict = {"file": file, "pos": 4, "server_id": server_id}
    if gtids is not None:
        offset["gtids"] = gtids
    return {"c": (({"server": "orders"}, offset),)}


def test_file_position_recorded_on_the_server_before_a_failover_is_other_server():
    # A promoted replica (server_id 2) has its own mysql-bin.000041: the name matches, the bytes do not.
    after = db(identity=Identity("b" * 36, "2", False), previous_identity=Identity(U1, "1", False))
    row = binlog.join_connector(after, "prod", "c", None, offset_from(1), NOW)
    assert row.status is PositionStatus.OTHER_SERVER and row.available is False and row.purge_eta is None
    # Once the connector has committed an event of the new server, its position is the new server's.
    assert binlog.join_connector(after, "prod", "c", None, offset_from(2), NOW).status is PositionStatus.AVAILABLE
    # Without an observed failover a foreign server_id is normal (reading from a replica).
    assert binlog.join_connector(db(), "prod", "c", None, offset_from(7), NOW).status is PositionStatus.AVAILABLE
    # With GTIDs the GTID test decides, as Debezium does.
    gtid = db(
        identity=Identity("b" * 36, "2", False),
        previous_identity=Identity(U1, "1", False),
        gtid_mode=True,
        gtid_executed=f"{U1}:1-100",
        gtid_purged="",
    )
    assert (
        binlog.join_connector(gtid, "prod", "c", None, offset_from(1, gtids=f"{U1}:1-50"), NOW).status
        is PositionStatus.AVAILABLE
    )


def test_privilege_summary_over_connector_users():
    from cdc_watch.sources.mysql.parse import PrivilegeCheck

    def checks(**ok: bool):
        return tuple(PrivilegeCheck(p, v, "") for p, v in ok.items())

    both = MappingProxyType({"a": checks(reload=True, select=True), "b": checks(reload=False, select=True)})
    assert db(privileges=both).privilege_summary() == {"reload": False, "select": True}
    # One user could not be checked: a missing privilege is still known, "all have it" is not.
    assert db(privileges=both, unchecked_users=1).privilege_summary() == {"reload": False, "select": None}
    assert db(privileges=MappingProxyType({})).privilege_summary() == {}


def test_identity_changes():
    old = Identity(U1, "1", False)
    assert tracking.identity_changed(None, old) == []
    assert tracking.identity_changed(old, Identity("x" * 36, "1", False)) == ["server_uuid"]
    assert tracking.identity_changed(old, Identity(U1, "2", True)) == ["server_id", "read_only"]


def cluster(**connectors: ConnectorSettings | None) -> ConnectClusterState:
    return ConnectClusterState(
        "prod",
        "u",
        "3.9.0",
        "",
        "",
        MappingProxyType({n: ConnectorStatus(n, "source", State.RUNNING, "w", (), s) for n, s in connectors.items()}),
    )


def test_join_matches_by_host_and_port_patterns_win_and_unconfigured_are_skipped():
    orders = db()
    other = db(endpoint=Endpoint("billing", "billing-db", 3306, connectors=("prod/legacy-*",)))
    state = cluster(
        c=ConnectorSettings(MYSQL_CLASS, "orders", "DB.example", None, "debezium"),
        **{"legacy-1": ConnectorSettings(MYSQL_CLASS, "l", "db.example", 3306, "debezium")},
        unknown=ConnectorSettings(MYSQL_CLASS, "u", "elsewhere", 3306, "debezium"),
        sink=ConnectorSettings("io.confluent.S3Sink", "", "db.example", 3306, ""),
        noinfo=None,
    )
    rows = binlog.join({"orders": orders, "billing": other}, [("prod", state, None, offsets("mysql-bin.000041", 0))])
    assert {(r.connector, r.database) for r in rows} == {("c", "orders"), ("legacy-1", "billing")}


def test_paused_connector_lag_uses_committed_offset_not_read_ahead():
    # Seen on the devstack: a PAUSED Debezium keeps reading into its queue, its MBean follows the head.
    state = db()
    paused = binlog.join_connector(
        state, "prod", "c", live("mysql-bin.000042", 500), offsets("mysql-bin.000041", 1000), NOW, running=False
    )
    assert paused.current is not None and paused.current.origin is Origin.COMMITTED
    assert paused.lag_bytes == 1000 + 500
    running = binlog.join_connector(
        state, "prod", "c", live("mysql-bin.000042", 500), offsets("mysql-bin.000041", 1000), NOW, running=True
    )
    assert running.lag_bytes == 0 and running.committed_lag_bytes == 1500


def test_join_reads_task_states_for_the_position_choice():
    settings = ConnectorSettings(MYSQL_CLASS, "orders", "db.example", 3306, "debezium")
    from cdc_watch.sources.connect.model import TaskStatus

    state = ConnectClusterState(
        "prod",
        "u",
        "3.9.0",
        "",
        "",
        MappingProxyType(
            {"c": ConnectorStatus("c", "source", State.RUNNING, "w", (TaskStatus(0, State.PAUSED, "w"),), settings)}
        ),
    )
    (row,) = binlog.join(
        {"orders": db()}, [("prod", state, live("mysql-bin.000042", 500), offsets("mysql-bin.000041", 1000))]
    )
    assert row.current is not None and row.current.origin is Origin.COMMITTED


def test_gtid_available_position_with_unlisted_file_has_no_eta():
    state = db(gtid_mode=True, gtid_executed=f"{U1}:1-100", gtid_purged=f"{U1}:1-40")
    row = binlog.join_connector(state, "prod", "c", None, offsets("mysql-bin.000099", 4, f"{U1}:1-50"), NOW)
    assert row.status is PositionStatus.AVAILABLE and row.purge_eta is None


def test_head_file_not_yet_listed_still_gives_a_distance():
    files = FILES[:2]  # SHOW BINARY LOGS ran just before the rotation SHOW MASTER STATUS saw
    assert tracking.byte_distance(files, "mysql-bin.000041", 1500, HEAD) == 500 + 500
