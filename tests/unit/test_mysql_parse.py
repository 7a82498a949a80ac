"""Pure MySQL/MariaDB parsers on recorded (MariaDB) and reference-written (MySQL, Aurora) replies."""

from __future__ import annotations

import pytest
from test_mysql_fakes import load

from cdc_watch.sources.mysql import parse


def variables(fixture: str):
    reply = load(fixture)[parse.VARIABLES_QUERY]
    return parse.parse_variables(reply["rows"])


@pytest.mark.parametrize(
    ("fixture", "flavour", "version", "statements"),
    [
        ("mariadb-10.11-healthy.json", parse.Flavour.MARIADB, (10, 11, 19), ("SHOW MASTER STATUS",)),
        ("mysql-5.7.json", parse.Flavour.MYSQL, (5, 7, 44), ("SHOW MASTER STATUS",)),
        ("mysql-8.0.json", parse.Flavour.MYSQL, (8, 0, 36), ("SHOW MASTER STATUS",)),
        ("mysql-8.4.json", parse.Flavour.MYSQL, (8, 4, 3), ("SHOW BINARY LOG STATUS",)),
        ("aurora-mysql-3.json", parse.Flavour.AURORA_MYSQL, (8, 0, 28), ("SHOW MASTER STATUS",)),
    ],
)
def test_flavour_version_and_status_statement(fixture, flavour, version, statements):
    server = parse.detect_server(variables(fixture))
    assert server.flavour is flavour
    assert server.version == version
    assert parse.binlog_status_statements(server) == statements


def test_mysql_8_2_tries_new_statement_then_old():
    server = parse.ServerInfo(parse.Flavour.MYSQL, (8, 2, 0), "8.2.0")
    assert parse.binlog_status_statements(server) == ("SHOW BINARY LOG STATUS", "SHOW MASTER STATUS")


def test_binary_logs_sorted_by_number_not_text():
    reply = load("mysql-8.4.json")["SHOW BINARY LOGS"]
    files = parse.parse_binary_logs(reply["columns"], reply["rows"])
    assert [f.name for f in files] == ["binlog.999999", "binlog.1000000"]
    assert parse.binlog_seq("binlog.1000000") == 1_000_000
    assert parse.binlog_base("mysql-bin-changelog.000120") == "mysql-bin-changelog"


def test_binary_logs_recorded_mariadb_rotated():
    reply = load("mariadb-10.11-rotated.json")["SHOW BINARY LOGS"]
    files = parse.parse_binary_logs(reply["columns"], reply["rows"])
    assert len(files) >= 3
    assert all(f.size > 0 for f in files)
    assert [parse.binlog_seq(f.name) for f in files] == sorted(parse.binlog_seq(f.name) for f in files)


def test_binlog_status_mysql_has_gtids_mariadb_not():
    mysql = load("mysql-8.0.json")["SHOW MASTER STATUS"]
    head = parse.parse_binlog_status(mysql["columns"], mysql["rows"])
    assert head == parse.HeadPosition("binlog.000042", 1543, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5210")
    maria = load("mariadb-10.11-healthy.json")["SHOW MASTER STATUS"]
    head = parse.parse_binlog_status(maria["columns"], maria["rows"])
    assert head is not None and head.file.startswith("mysql-bin.") and head.gtid_set == ""
    assert parse.parse_binlog_status(mysql["columns"], []) is None


def test_retention_per_flavour():
    for fixture, expected in [
        ("mysql-5.7.json", 7 * 86400.0),
        ("mysql-8.0.json", 2592000.0),
        ("mysql-8.4.json", 86400.0),
        ("mariadb-10.11-healthy.json", 0.0),
    ]:
        v = variables(fixture)
        assert parse.retention_seconds(v, parse.detect_server(v)) == expected, fixture
    aurora = variables("aurora-mysql-3.json")
    known, hours = parse.parse_aurora_retention_hours(
        load("aurora-mysql-3.json")["CALL mysql.rds_show_configuration"]["rows"]
    )
    assert (known, hours) == (True, 24.0)
    assert parse.retention_seconds(aurora, parse.detect_server(aurora), hours, known) == 86400.0
    assert parse.retention_seconds(aurora, parse.detect_server(aurora), None, True) is None
    off = dict(variables("mysql-8.0.json"), binlog_expire_logs_auto_purge="OFF")
    assert parse.retention_seconds(off, parse.detect_server(off)) == 0.0


def test_settings_healthy_mariadb_all_ok():
    v = variables("mariadb-10.11-healthy.json")
    checks = parse.check_settings(v, parse.detect_server(v))
    assert {c.setting: c.ok for c in checks} == {
        "log_bin": True,
        "binlog_format": True,
        "binlog_row_image": True,
        "log_replica_updates": True,
    }


def test_settings_drift_on_mysql_8_4_replica():
    v = variables("mysql-8.4.json")
    checks = {c.setting: c for c in parse.check_settings(v, parse.detect_server(v))}
    assert checks["binlog_row_image"].ok is False and "FULL" in checks["binlog_row_image"].detail
    assert checks["binlog_row_value_options"].ok is False
    assert checks["log_replica_updates"].ok is False  # read_only replica without replica updates
    assert checks["binlog_format"].ok is True


def test_grants_mariadb_binlog_monitor_counts_as_replication_client():
    rows = load("mariadb-10.11-healthy.json")['SHOW GRANTS FOR %s@%s | ["debezium", "%"]']["rows"]
    checks = parse.check_privileges(parse.parse_grants(rows, parse.Flavour.MARIADB), parse.Flavour.MARIADB)
    assert all(c.ok for c in checks), checks
    assert {c.privilege for c in checks} == set(parse.PRIVILEGES)
    assert [c.detail for c in checks if c.privilege == "replication_client"] == ["BINLOG MONITOR granted"]


def test_grants_revoked_reload_recorded():
    rows = load("mariadb-10.11-revoked-reload.json")['SHOW GRANTS FOR %s@%s | ["debezium", "%"]']["rows"]
    checks = {
        c.privilege: c.ok
        for c in parse.check_privileges(parse.parse_grants(rows, parse.Flavour.MARIADB), parse.Flavour.MARIADB)
    }
    assert checks["reload"] is False
    assert checks["replication_slave"] is True


def test_grants_mysql_57_quotes_and_mysql_84_missing_client():
    rows = load("mysql-5.7.json")['SHOW GRANTS FOR %s@%s | ["debezium", "%"]']["rows"]
    assert all(c.ok for c in parse.check_privileges(parse.parse_grants(rows, parse.Flavour.MYSQL), parse.Flavour.MYSQL))
    rows = load("mysql-8.4.json")['SHOW GRANTS FOR %s@%s | ["debezium", "%"]']["rows"]
    checks = {
        c.privilege: c.ok
        for c in parse.check_privileges(parse.parse_grants(rows, parse.Flavour.MYSQL), parse.Flavour.MYSQL)
    }
    assert checks["replication_client"] is False and checks["replication_slave"] is True


def test_grants_roles_all_and_column_lists():
    privs = parse.parse_grants(
        [
            "GRANT SELECT (a, b), INSERT ON `shop`.`t` TO `u`@`%`",
            "GRANT USAGE ON *.* TO `u`@`%`",
            "GRANT `cdc_role`@`%`,`other`@`%` TO `u`@`%`",
            "GRANT EXECUTE ON PROCEDURE `mysql`.`rds_show_configuration` TO `u`@`%`",
        ],
        parse.Flavour.MYSQL,
    )
    assert privs.global_privileges == frozenset()
    assert privs.roles == (("cdc_role", "%"), ("other", "%"))
    assert not parse.parse_grants(["GRANT SELECT ON `shop`.* TO 'u'@'%'"], parse.Flavour.MYSQL).has("SELECT")
    everything = parse.parse_grants(
        ["GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION"], parse.Flavour.MARIADB
    )
    assert all(c.ok for c in parse.check_privileges(everything, parse.Flavour.MARIADB))
    role = load("mariadb-10.11-role.json")
    user = parse.parse_grants(role['SHOW GRANTS FOR %s@%s | ["cdc_rec_user", "%"]']["rows"], parse.Flavour.MARIADB)
    assert user.roles == (("cdc_rec_role", "%"),) and user.default_roles == (("cdc_rec_role", "%"),)
    assert not user.has("REPLICATION SLAVE")
    merged = user.merged(
        parse.parse_grants(role['SHOW GRANTS FOR %s | ["cdc_rec_role"]']["rows"], parse.Flavour.MARIADB)
    )
    assert merged.has("REPLICATION SLAVE") and merged.has("REPLICATION CLIENT") and merged.has("RELOAD")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("`cdc_role`@`%`", ("cdc_role", "%")),
        ("'r'@'localhost'", ("r", "localhost")),
        ("r3@10.0.%", ("r3", "10.0.%")),
        ("r2", ("r2", "%")),
        ("`cdc_rec_role`", ("cdc_rec_role", "%")),  # MariaDB roles have no host
        ("`odd@name`@`%`", ("odd@name", "%")),
    ],
)
def test_parse_account(text, expected):
    assert parse.parse_account(text) == expected


def test_mandatory_roles_and_active_roles_at_login():
    # mandatory_roles as the MySQL 8.0 manual writes it: quoted, bare, and with a host.
    mandatory = parse.parse_mandatory_roles("`role1`@`%`,role2,role3@localhost")
    assert mandatory == (("role1", "%"), ("role2", "%"), ("role3", "localhost"))
    granted = (("cdc_role", "%"), ("other", "%"))
    off = parse.RoleSettings()
    assert parse.active_roles(granted, (), off) == ()
    assert parse.active_roles(granted, (("cdc_role", "%"),), off) == (("cdc_role", "%"),)
    assert parse.active_roles(granted, (("not_granted", "%"),), off) == ()  # the server skips it
    with_mandatory = parse.RoleSettings(mandatory=(("m", "%"),))
    assert parse.active_roles(granted, (("m", "%"),), with_mandatory) == (("m", "%"),)  # a mandatory default role
    assert parse.active_roles(granted, (), parse.RoleSettings(all_active=True, mandatory=(("m", "%"),))) == (
        *granted,
        ("m", "%"),
    )
    assert parse.active_roles((), (), parse.RoleSettings(mandatory=(("m", "%"),), mandatory_active=True)) == (
        ("m", "%"),
    )


def test_default_roles_rows_and_placeholders():
    rows = [("%", "cdc_role", "%"), ("10.%", "other", "localhost")]
    assert parse.parse_default_roles(rows) == {"%": (("cdc_role", "%"),), "10.%": (("other", "localhost"),)}
    assert parse.is_placeholder("${file:/etc/kafka/db.properties:user}")
    assert not parse.is_placeholder("debezium")


def test_super_implies_replication_client_and_common_is_intersection():
    a = parse.Privileges(frozenset({"SUPER", "RELOAD"}))
    assert a.has("REPLICATION CLIENT")
    b = parse.Privileges(frozenset(), all_privileges=True)
    assert a.common(b).global_privileges == frozenset({"SUPER", "RELOAD"})
    assert not a.common(parse.Privileges(frozenset({"RELOAD"}))).has("SUPER")


def test_gtid_sets():
    u1, u2 = "3e11fa47-71ca-11e1-9e33-c80aa9429562", "4f22ab58-71ca-11e1-9e33-c80aa9429562"
    executed = parse.parse_mysql_gtid_set(f"{u1}:1-100,\n{u2}:1-5:7-9")
    assert executed[u2] == ((1, 5), (7, 9))
    assert parse.gtid_subset(parse.parse_mysql_gtid_set(f"{u1}:1-50"), executed)
    assert not parse.gtid_subset(parse.parse_mysql_gtid_set(f"{u2}:1-6"), executed)
    assert parse.gtid_missing(parse.parse_mysql_gtid_set(f"{u1}:1-60"), parse.parse_mysql_gtid_set(f"{u1}:1-50"))
    tagged = parse.parse_mysql_gtid_set(f"{u1}:1-3:blue:1-2")
    assert tagged == {u1: ((1, 3),), f"{u1}:blue": ((1, 2),)}
    with pytest.raises(ValueError):
        parse.parse_mysql_gtid_set("0-1-100")
