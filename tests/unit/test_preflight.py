"""The preflight checklist: the pure evaluation (cdc_watch/preflight.py) on facts parsed from
recorded server replies, and the command (cdc_watch/commands/preflight.py) against a fake
connection that serves those replies and fails on any other statement."""

from __future__ import annotations

import io
import json
from types import MappingProxyType

import pymysql.err
import pytest
from test_mysql_fakes import FakeConnector, load

from cdc_watch.analysis import checklist
from cdc_watch.analysis.checklist import Status
from cdc_watch.cli import build_parser
from cdc_watch.commands import ExitCode
from cdc_watch.commands import preflight as command
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
)
from cdc_watch.sources.mysql import parse

MONITOR_PASSWORD = "m0nitor-pa55-word"
MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"


def variables_of(replies: dict) -> dict[str, str]:
    return dict(parse.parse_variables(replies[parse.VARIABLES_QUERY]["rows"]))


def facts_from(fixture: str, user: str = "debezium", **changes) -> checklist.Facts:
    """Facts built with the MySQL parsers from a recorded reply set (as the command does)."""
    replies = load(fixture)
    variables = variables_of(replies)
    variables.update(changes.pop("variables", {}))
    server = parse.detect_server(variables)
    grants = next(v for k, v in replies.items() if k.startswith("SHOW GRANTS FOR %s@%s |") and "USING" not in k)
    privileges = parse.parse_grants(grants["rows"], server.flavour)
    base = dict(
        database="orders",
        server=server,
        settings=tuple(parse.check_settings(variables, server)),
        read_only=variables.get("read_only", "").upper() == "ON",
        retention_seconds=parse.retention_seconds(variables, server),
        gtid_mode=variables.get("gtid_mode", "").upper() == "ON",
        privileges=MappingProxyType({user: tuple(parse.check_privileges(privileges, server.flavour))}),
        lock_tables=MappingProxyType({user: privileges.has("LOCK TABLES")}),
    )
    base.update(changes)
    return checklist.Facts(**base)


def by_check(lines) -> dict[str, checklist.Line]:
    return {line.check: line for line in lines}


# ---------------------------------------------------------------- pure evaluation


def test_healthy_mariadb_passes_every_line():
    lines = checklist.evaluate(facts_from("mariadb-10.11-healthy.json"))
    assert not checklist.failed(lines)
    assert {line.status for line in lines} == {Status.PASS}
    checks = by_check(lines)
    assert set(checks) >= {
        "log_bin",
        "binlog_format",
        "binlog_row_image",
        "log_replica_updates",
        "binlog_retention",
        "gtid",
        "privilege.select",
        "privilege.reload",
        "privilege.show_databases",
        "privilege.replication_slave",
        "privilege.replication_client",
        "privilege.lock_tables",
    }
    assert "BINLOG MONITOR granted" in checks["privilege.replication_client"].detail
    assert "not recommended" in checks["privilege.lock_tables"].detail


def test_revoked_reload_fails_that_privilege_only():
    lines = checklist.evaluate(facts_from("mariadb-10.11-revoked-reload.json"))
    assert checklist.failed(lines)
    failing = [line for line in lines if line.status is Status.FAIL]
    assert [(line.check, line.user) for line in failing] == [("privilege.reload", "debezium")]
    assert failing[0].detail == "debezium: RELOAD missing"


@pytest.mark.parametrize(
    ("variable", "value", "check"),
    [
        ("binlog_format", "MIXED", "binlog_format"),
        ("binlog_row_image", "MINIMAL", "binlog_row_image"),
        ("log_bin", "OFF", "log_bin"),
    ],
)
def test_wrong_settings_fail(variable, value, check):
    # The recorded healthy variables with one value changed (as SET GLOBAL would).
    lines = by_check(checklist.evaluate(facts_from("mariadb-10.11-healthy.json", variables={variable: value})))
    assert lines[check].status is Status.FAIL
    assert f"{variable}={value}" in lines[check].detail


def test_log_replica_updates_off_warns_on_a_primary_and_fails_on_a_replica():
    primary = by_check(
        checklist.evaluate(facts_from("mariadb-10.11-healthy.json", variables={"log_slave_updates": "OFF"}))
    )
    assert primary["log_replica_updates"].status is Status.WARN
    replica = by_check(
        checklist.evaluate(
            facts_from("mariadb-10.11-healthy.json", variables={"log_slave_updates": "OFF", "read_only": "ON"})
        )
    )
    assert replica["log_replica_updates"].status is Status.FAIL


@pytest.mark.parametrize(("seconds", "status"), [(0.0, Status.PASS), (3600.0, Status.FAIL), (7 * 86400.0, Status.PASS)])
def test_retention_against_the_minimum(seconds, status):
    line = by_check(checklist.evaluate(facts_from("mariadb-10.11-healthy.json", retention_seconds=seconds)))[
        "binlog_retention"
    ]
    assert line.status is status


def test_retention_of_mysql_80_default_30_days_passes():
    line = by_check(checklist.evaluate(facts_from("mysql-8.0.json")))["binlog_retention"]
    assert (line.status, line.detail) == (
        Status.PASS,
        "binlogs kept 30d (binlog_expire_logs_seconds / expire_logs_days)",
    )


def test_aurora_retention_null_fails_with_the_procedure_to_call():
    facts = facts_from("aurora-mysql-3.json", retention_seconds=None)
    line = by_check(checklist.evaluate(facts))["binlog_retention"]
    assert facts.server.flavour is parse.Flavour.AURORA_MYSQL
    assert line.status is Status.FAIL and "rds_set_configuration('binlog retention hours'" in line.detail


def test_aurora_retention_hours_below_minimum_fails():
    facts = facts_from("aurora-mysql-3.json", retention_seconds=24 * 3600.0)
    line = by_check(checklist.evaluate(facts, min_retention=72 * 3600.0))["binlog_retention"]
    assert line.status is Status.FAIL and "binlog retention hours" in line.detail


def test_unknown_retention_and_grants_warn_with_the_grant_needed():
    facts = facts_from(
        "aurora-mysql-3.json",
        unknown_checks=MappingProxyType(
            {"retention": "EXECUTE ON PROCEDURE mysql.rds_show_configuration", "grants": "SELECT ON mysql.*"}
        ),
    )
    lines = by_check(checklist.evaluate(facts))
    assert lines["binlog_retention"].status is Status.WARN and "EXECUTE" in lines["binlog_retention"].detail
    assert lines["privileges"].status is Status.WARN and "SELECT ON mysql.*" in lines["privileges"].detail
    assert "privilege.reload" not in lines


def test_sql_errors_of_a_check_are_shown_on_its_line():
    facts = facts_from(
        "mariadb-10.11-healthy.json",
        retention_seconds=None,
        privileges=MappingProxyType({}),
        check_errors=MappingProxyType(
            {
                "retention": "error 1205 Lock wait timeout exceeded",
                "grants": "debezium: error 1146 Table 'mysql.global_priv' doesn't exist",
                "binary_logs": "error 1381 You are not using binary logging",
            }
        ),
    )
    lines = by_check(checklist.evaluate(facts))
    assert lines["binlog_retention"].status is Status.WARN and "error 1205" in lines["binlog_retention"].detail
    assert lines["privileges"].status is Status.WARN and "debezium: error 1146" in lines["privileges"].detail
    assert lines["monitor.binary_logs"].status is Status.WARN and "error 1381" in lines["monitor.binary_logs"].detail
    assert "monitor.binlog_status" not in lines


def test_a_grants_error_for_one_user_keeps_the_other_users_lines():
    facts = facts_from(
        "mariadb-10.11-healthy.json",
        check_errors=MappingProxyType({"grants": "other: error 1205 Lock wait timeout exceeded"}),
    )
    lines = checklist.evaluate(facts)
    assert by_check(lines)["privileges"].status is Status.WARN
    assert (
        by_check(lines)["privilege.reload"].status is Status.PASS
        and by_check(lines)["privilege.reload"].user == "debezium"
    )


def test_gtid_recommended_on_mysql():
    off = by_check(checklist.evaluate(facts_from("mysql-5.7.json", gtid_mode=False)))["gtid"]
    on = by_check(checklist.evaluate(facts_from("mysql-5.7.json", gtid_mode=True)))["gtid"]
    assert off.status is Status.WARN and "recommended" in off.detail
    assert on.status is Status.PASS


def test_lock_tables_granted_is_reported_as_not_recommended():
    facts = facts_from("mariadb-10.11-healthy.json", lock_tables=MappingProxyType({"debezium": True}))
    line = by_check(checklist.evaluate(facts))["privilege.lock_tables"]
    assert line.status is Status.WARN and "not recommended" in line.detail
    assert not checklist.failed(checklist.evaluate(facts))


def test_no_user_to_check_warns_with_the_reason():
    facts = facts_from(
        "mariadb-10.11-healthy.json",
        privileges=MappingProxyType({}),
        lock_tables=MappingProxyType({}),
        users_note="no connector in the configured Connect clusters reads orders; pass --user",
    )
    line = by_check(checklist.evaluate(facts))["privileges"]
    assert line.status is Status.WARN and "pass --user" in line.detail


def test_render_and_view():
    facts = facts_from("mariadb-10.11-revoked-reload.json")
    lines = checklist.evaluate(facts)
    text = checklist.render(facts, lines)
    assert text.splitlines()[0].startswith("preflight orders: mariadb 10.11")
    assert any(line.startswith("FAIL  privilege.reload") for line in text.splitlines())
    assert text.splitlines()[-1].startswith("FAILED: ")
    view = checklist.to_view(facts, lines)
    assert view["ok"] is False and view["summary"]["fail"] == 1
    assert {
        "check": "privilege.reload",
        "status": "fail",
        "detail": "debezium: RELOAD missing",
        "user": "debezium",
    } in view["checks"]


# ---------------------------------------------------------------- the command


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CDC_TEST_MONITOR_PASSWORD", MONITOR_PASSWORD)
    path = tmp_path / "c.yaml"
    path.write_text("""
connect_clusters:
  - name: prod
    url: http://connect.test:8083
databases:
  - name: orders
    host: db.example
    user: cdc_monitor
    password: "${CDC_TEST_MONITOR_PASSWORD}"
""")
    return path


def run(config_file, argv: list[str], fake: FakeConnector | None = None, connect_poll=None) -> tuple[int, str, str]:
    args = build_parser().parse_args(["preflight", "--config.file", str(config_file), *argv])
    out, err = io.StringIO(), io.StringIO()
    code = command.run(args, out=out, err=err, connect=fake, connect_poll=connect_poll)
    assert MONITOR_PASSWORD not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def no_connect(_cluster):
    raise AssertionError("Connect must not be asked when --user is given")


def test_command_passes_on_the_healthy_recording(config_file):
    fake = FakeConnector(load("mariadb-10.11-healthy.json"))
    code, out, _ = run(config_file, ["--database", "orders", "--user", "debezium"], fake, no_connect)
    assert code == ExitCode.OK
    assert out.splitlines()[-1] == "ok: 12 pass, 0 warn, 0 fail"
    assert fake.executed[0] == parse.VARIABLES_QUERY
    assert 'SHOW GRANTS FOR %s@%s | ["debezium", "%"]' in fake.executed


def test_command_exits_1_when_a_check_fails(config_file):
    fake = FakeConnector(load("mariadb-10.11-revoked-reload.json"))
    code, out, _ = run(config_file, ["--database", "orders", "--user", "debezium", "-o", "json"], fake, no_connect)
    assert code == ExitCode.FAILED
    view = json.loads(out)
    assert [c["check"] for c in view["checks"] if c["status"] == "fail"] == ["privilege.reload"]


def test_command_counts_a_mysql_80_role_only_when_it_is_active(config_file):
    # Recorded (hand-written) MySQL 8.0: the replication grants come from role cdc_role.
    fake = FakeConnector(load("mysql-8.0.json"))  # activate_all_roles_on_login=OFF, no default role
    code, out, _ = run(config_file, ["--database", "orders", "--user", "debezium", "-o", "json"], fake, no_connect)
    statuses = {c["check"]: c["status"] for c in json.loads(out)["checks"]}
    assert code == ExitCode.FAILED
    assert statuses["privilege.replication_slave"] == "fail"

    replies = load("mysql-8.0.json")
    replies[parse.VARIABLES_QUERY]["rows"].append(["activate_all_roles_on_login", "ON"])
    code, out, _ = run(
        config_file, ["--database", "orders", "--user", "debezium", "-o", "json"], FakeConnector(replies), no_connect
    )
    statuses = {c["check"]: c["status"] for c in json.loads(out)["checks"]}
    assert statuses["privilege.replication_slave"] == "pass"
    assert statuses["privilege.replication_client"] == "pass"


def test_command_shows_the_sql_error_that_stopped_a_check(config_file):
    replies = load("mariadb-10.11-healthy.json")
    replies['SHOW GRANTS FOR %s@%s | ["debezium", "%"]'] = {
        "error": [1205, "Lock wait timeout exceeded; try restarting transaction"]
    }
    code, out, _ = run(
        config_file, ["--database", "orders", "--user", "debezium", "-o", "json"], FakeConnector(replies), no_connect
    )
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    assert code == ExitCode.OK
    assert checks["privileges"]["status"] == "warn"
    assert (
        checks["privileges"]["detail"]
        == "cannot read every grant: debezium: error 1205 Lock wait timeout exceeded; try restarting transaction"
    )
    assert not any(name.startswith("privilege.") for name in checks)


def test_command_finds_the_connector_user_through_connect(config_file):
    settings = ConnectorSettings(MYSQL_CLASS, "orders", "db.example", 3306, "debezium", 1)
    other = ConnectorSettings(MYSQL_CLASS, "other", "elsewhere.example", 3306, "someone_else", 1)
    state = ConnectClusterState(
        "prod",
        "http://connect.test:8083",
        "3.9.0",
        "",
        "k",
        MappingProxyType(
            {
                "orders-cdc": ConnectorStatus("orders-cdc", "source", State.RUNNING, "w:8083", (), settings),
                "other-cdc": ConnectorStatus("other-cdc", "source", State.RUNNING, "w:8083", (), other),
            }
        ),
    )
    asked = []

    def poll(cluster):
        asked.append((cluster.name, cluster.include, cluster.exclude))
        return state

    fake = FakeConnector(load("mariadb-10.11-healthy.json"))
    code, out, _ = run(config_file, ["--database", "orders"], fake, poll)
    assert code == ExitCode.OK
    assert asked == [("prod", ("*",), ())]
    assert "debezium: REPLICATION SLAVE granted" in out
    assert not any("someone_else" in q for q in fake.executed)


def test_command_with_connect_down_and_no_user_warns(config_file):
    def down(_cluster):
        raise SourceFailure(ErrorReason.CONNECT, "GET http://connect.test:8083/: cannot connect (ConnectError)")

    replies = load("mariadb-10.11-healthy.json")
    code, out, _ = run(config_file, ["--database", "orders"], FakeConnector(replies), down)
    assert code == ExitCode.OK
    line = next(line for line in out.splitlines() if " privileges " in f" {line} ")
    assert line.startswith("WARN") and "Connect unreachable" in line and "--user" in line


def test_command_exit_codes_for_usage_and_reachability(config_file):
    code, _, err = run(config_file, ["--database", "nope", "--user", "x"], FakeConnector({}), no_connect)
    assert code == ExitCode.USAGE and "no database named 'nope'" in err
    code, _, err = run(
        config_file, ["--database", "orders", "--min-retention", "3", "--user", "x"], FakeConnector({}), no_connect
    )
    assert code == ExitCode.USAGE and "--min-retention" in err

    refused = FakeConnector({})
    refused.refuse = pymysql.err.OperationalError(
        2003, "Can't connect to MySQL server on 'db.example' ([Errno 111] Connection refused)"
    )
    code, out, err = run(config_file, ["--database", "orders", "--user", "x", "-o", "json"], refused, no_connect)
    assert code == ExitCode.UNREACHABLE and "cannot connect" in err
    assert json.loads(out)["error"]["reason"] == "connect"

    denied = FakeConnector({})
    denied.refuse = pymysql.err.OperationalError(
        1045, "Access denied for user 'cdc_monitor'@'10.0.0.1' (using password: YES)"
    )
    code, _, err = run(config_file, ["--database", "orders", "--user", "x"], denied, no_connect)
    assert code == ExitCode.USAGE and "access denied" in err
