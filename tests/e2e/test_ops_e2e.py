"""`cdc-watch connectors ...` against the real devstack (Kafka Connect 3.9 + Debezium 3.0 + MariaDB).

Each test drives the real CLI entry point and checks the effect through Connect itself; every
output is checked for the stack's real passwords. Waits use deadlines, never fixed sleeps.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from cdc_watch.cli import main
from cdc_watch.commands import ExitCode
from tests.e2e.conftest import relay_connectors

pytestmark = pytest.mark.stack


class Cli:
    def __init__(self, stack, capsys):
        self.stack = stack
        self.capsys = capsys
        self.passwords = [v for k, v in stack.env().items() if "PASSWORD" in k]

    def __call__(self, *argv: str, url: bool = True) -> tuple[int, str, str]:
        args = ["connectors", *argv] + (["--url", self.stack.connect_url] if url else [])
        code = main(args)
        captured = self.capsys.readouterr()
        for password in self.passwords:
            assert password not in captured.out + captured.err, f"a devstack password leaked from {argv}"
        return code, captured.out, captured.err

    def json(self, *argv: str) -> dict:
        code, out, err = self(*argv, "-o", "json")
        assert code == ExitCode.OK, err
        return json.loads(out)

    def wait(self, predicate: Callable[[], object], what: str, timeout: float = 90) -> object:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last {last!r}")

    def wait_state(self, name: str, connector_state: str, task_state: str | None = None, timeout: float = 90) -> dict:
        def reached():
            code, out, _ = self("status", name, "-o", "json")
            if code != ExitCode.OK:
                return None  # e.g. no status record yet right after creation
            view = json.loads(out)
            tasks = [t["state"] for t in view["tasks"]]
            if view["state"] != connector_state:
                return None
            if task_state is not None and tasks != [task_state]:
                return None
            return view

        return self.wait(reached, f"{name} {connector_state}/{task_state}", timeout)


@pytest.fixture
def cli(stack, capsys):
    return Cli(stack, capsys)


def test_list_and_status_show_the_streaming_connector(cli, connector):
    code, out, _ = cli("list")
    assert code == ExitCode.OK
    line = next(line for line in out.splitlines() if line.startswith(connector.name + " "))
    assert "RUNNING" in line and "1/1 RUNNING" in line and "MySqlConnector" in line
    view = cli.json("status", connector.name)
    assert view["state"] == "RUNNING"
    assert view["topic_prefix"] == connector.topic_prefix
    assert [t["state"] for t in view["tasks"]] == ["RUNNING"]


def test_offsets_show_the_binlog_position(cli, connector):
    def committed():
        view = cli.json("offsets", connector.name)
        return view["offsets"] or None

    offsets = cli.wait(committed, f"a committed offset of {connector.name}", timeout=60)
    assert offsets[0]["partition"] == {"server": connector.topic_prefix}
    assert offsets[0]["offset"]["file"].startswith("mysql-bin.")
    code, out, _ = cli("offsets", connector.name)
    assert code == ExitCode.OK and f"server={connector.topic_prefix}" in out


def test_pause_resume_stop(cli, connector):
    code, out, _ = cli("pause", connector.name)
    assert code == ExitCode.OK and "pause requested" in out
    cli.wait_state(connector.name, "PAUSED", "PAUSED")
    assert cli("resume", connector.name)[0] == ExitCode.OK
    cli.wait_state(connector.name, "RUNNING", "RUNNING")
    assert cli("stop", connector.name)[0] == ExitCode.OK
    stopped = cli.wait_state(connector.name, "STOPPED")
    assert stopped["state"] == "STOPPED"
    assert cli("resume", connector.name)[0] == ExitCode.OK
    cli.wait_state(connector.name, "RUNNING", "RUNNING")


def test_restart_failed_only_brings_a_failed_task_back(cli, stack, connector):
    stack.faults.task_failed_non_retriable(connector)
    failed = cli.json("status", connector.name)
    assert [t["state"] for t in failed["tasks"]] == ["FAILED"]
    code, out, _ = cli("status", connector.name)
    assert "Access denied" in out
    stack.faults.restore_debezium_password()
    code, out, err = cli("restart", connector.name, "--failed-only")
    assert code == ExitCode.OK, err
    assert "restarting task(s) 0" in out
    assert "connector instance" not in out  # the connector itself was RUNNING: left alone
    cli.wait_state(connector.name, "RUNNING", "RUNNING", timeout=120)


def test_restart_restarts_the_connector_and_its_tasks(cli, stack, connector):
    load = stack.faults.write_load(20, duration=2)
    load.join(10)
    cli.wait(
        lambda: (stack.streaming_metrics(connector.topic_prefix) or {}).get("TotalNumberOfEventsSeen", 0) >= load.rows,
        "the load's events on the streaming MBean",
    )
    seen_before = stack.streaming_metrics(connector.topic_prefix)["TotalNumberOfEventsSeen"]
    code, out, err = cli("restart", connector.name)
    assert code == ExitCode.OK, err
    assert "restarting the connector instance and task(s) 0" in out
    # A new task instance registers a new streaming MBean, whose counters start again.
    cli.wait(
        lambda: (
            (stack.streaming_metrics(connector.topic_prefix) or {}).get("TotalNumberOfEventsSeen", seen_before)
            < seen_before
        ),
        "a new task instance (its streaming MBean counting from zero)",
        timeout=120,
    )
    cli.wait_state(connector.name, "RUNNING", "RUNNING", timeout=120)
    stack.wait_streaming(connector, 120)


def _definition(stack, name: str, **changes: str | None) -> dict:
    config = stack.connector_config(name, name.replace("-", "_"), 300000 + uuid.uuid4().int % 1_000_000)
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    return {"name": name, "config": config}


def test_register_refuses_an_invalid_config_with_per_field_errors(cli, stack, tmp_path):
    name = f"ops-e2e-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "missing.json"
    path.write_text(json.dumps(_definition(stack, name, database__server__id=None)))
    code, out, err = cli("register", str(path))
    assert code == ExitCode.FAILED
    assert "configuration is invalid" in err
    assert any("database.server.id" in line and "A value is required" in line for line in err.splitlines())

    path.write_text(json.dumps(_definition(stack, name, database__password="definitely-wrong")))
    code, out, err = cli("register", str(path), "-o", "json")
    assert code == ExitCode.FAILED
    errors = json.loads(out)["error"]["errors"]
    assert any("Access denied" in m for m in errors["database.hostname"])
    assert "definitely-wrong" not in out + err
    assert name not in stack.list_connectors()


def test_register_creates_updates_and_delete_removes(cli, stack, tmp_path):
    name = f"ops-e2e-{uuid.uuid4().hex[:6]}"
    definition = _definition(stack, name)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(definition))
    try:
        code, out, err = cli("register", str(path), "--dry-run")
        assert code == ExitCode.OK, err
        assert name not in stack.list_connectors()

        view = cli.json("register", str(path))
        assert view["action"] == "created"
        assert view["config"]["database.password"] == "[REDACTED]"
        assert name in stack.list_connectors()
        cli.wait_state(name, "RUNNING", "RUNNING", timeout=120)

        definition["config"]["snapshot.mode"] = "when_needed"
        path.write_text(json.dumps(definition))
        code, out, err = cli("register", str(path))
        assert code == ExitCode.OK, err
        assert f"{name}: updated" in out
        # The herder applies the new config once it has read it back from the config topic.
        cli.wait(
            lambda: stack.rest("GET", f"/connectors/{name}/config").json().get("snapshot.mode") == "when_needed",
            f"the updated config of {name}",
            timeout=30,
        )

        assert cli("delete", name)[0] == ExitCode.USAGE  # no --yes
        code, out, err = cli("delete", name, "--yes")
        assert code == ExitCode.OK, err
        cli.wait(lambda: name not in stack.list_connectors(), f"{name} to disappear")
        # Connect may serve the deleted connector's last status for a few seconds.
        cli.wait(lambda: cli("status", name)[0] == ExitCode.FAILED, f"status of {name} to say not found")
        assert "not found" in cli("status", name)[2]
    finally:
        if name in stack.list_connectors():
            stack.delete_connector(name)


def test_config_file_cluster_and_unreachable_cluster(cli, stack, stack_env, tmp_path: Path, connector):
    config = tmp_path / "cdc-watch.yaml"
    config.write_text(f"connect_clusters:\n  - name: devstack\n    url: {stack.connect_url}\n    exclude: ['*']\n")
    code, out, _ = cli("list", "--config.file", str(config), url=False)
    assert code == ExitCode.OK and connector.name in out
    code, _, err = cli("list", "--url", "http://127.0.0.1:9", url=False)
    assert code == ExitCode.UNREACHABLE and "cannot connect" in err


def _preflight_config(stack, tmp_path: Path) -> Path:
    config = tmp_path / "preflight.yaml"
    config.write_text(f"""
connect_clusters:
  - name: devstack
    url: {stack.connect_url}
databases:
  - name: devstack-mariadb
    host: 127.0.0.1
    port: {stack.ports.mariadb}
    user: cdc_monitor
    password: "${{CDC_DEVSTACK_MONITOR_PASSWORD}}"
{relay_connectors(stack)}""")
    return config


def test_preflight_passes_then_fails_after_binlog_format_and_a_grant_change(stack, stack_env, tmp_path, capsys):
    config = _preflight_config(stack, tmp_path)
    passwords = [v for k, v in stack.env().items() if "PASSWORD" in k]

    def preflight(*extra: str) -> tuple[int, str]:
        code = main(["preflight", "--config.file", str(config), "--database", "devstack-mariadb", *extra])
        captured = capsys.readouterr()
        for password in passwords:
            assert password not in captured.out + captured.err
        return code, captured.out

    # Without --user the connector users come from Connect (the sample connector uses debezium).
    code, out = preflight()
    assert code == ExitCode.OK, out
    assert "debezium: REPLICATION SLAVE granted" in out
    assert not [line for line in out.splitlines() if line.startswith("FAIL")]

    try:
        stack.faults.set_binlog_format("MIXED")
        stack.faults.revoke_grant("RELOAD")
        code, out = preflight("--user", "debezium", "-o", "json")
        assert code == ExitCode.FAILED
        failing = {c["check"]: c["detail"] for c in json.loads(out)["checks"] if c["status"] == "fail"}
        assert failing == {
            "binlog_format": "binlog_format=MIXED, Debezium needs ROW",
            "privilege.reload": "debezium: RELOAD missing",
        }
    finally:
        stack.faults.restore_settings()
        stack.faults.restore_grants()
    assert preflight("--user", "debezium")[0] == ExitCode.OK
