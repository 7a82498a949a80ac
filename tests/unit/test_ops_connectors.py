"""`cdc-watch connectors ...` against recorded Kafka Connect replies (tests/fixtures/recorded/connect_ops).

The fake transport serves the recorded exchanges in order and fails on any request it did not
expect (method, path, query and body). The recorded "REDACTED" password is swapped for a
realistic secret so every test can assert that the secret never reaches stdout or stderr.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from cdc_watch.cli import build_parser
from cdc_watch.commands import ExitCode, connectors

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "connect_ops"
URL = "http://connect.test:8083"
SECRET = "Tr0ub4dor-and-3"


def recorded(name: str) -> dict[str, Any]:
    text = (RECORDED / f"{name}.json").read_text().replace("REDACTED", SECRET)
    return json.loads(text)


def exchange(
    method: str, path: str, status: int, body: Any = None, params: dict | None = None, request_body: Any = None
) -> dict[str, Any]:
    return {
        "request": {"method": method, "path": path, "params": params or {}, "body": request_body},
        "response": {"status": status, "body": body},
    }


class FakeConnect:
    """Serves expected exchanges in order; anything else fails the test."""

    def __init__(self, *exchanges: dict[str, Any], check_bodies: bool = True):
        self.expected = list(exchanges)
        self.seen: list[str] = []
        self.check_bodies = check_bodies

    def __call__(self, request: httpx.Request) -> httpx.Response:
        where = f"{request.method} {request.url.path}?{request.url.query.decode()}"
        self.seen.append(where)
        assert self.expected, f"unexpected request {where}"
        want = self.expected.pop(0)
        req = want["request"]
        assert (request.method, request.url.path) == (req["method"], req["path"]), where
        params: dict[str, Any] = {}
        for key, value in parse_qsl(request.url.query.decode()):
            params.setdefault(key, []).append(value)
        want_params = {k: v if isinstance(v, list) else [v] for k, v in (req["params"] or {}).items()}
        assert params == want_params, where
        if self.check_bodies:
            body = json.loads(request.content) if request.content else None
            assert body == req["body"], where
        resp = want["response"]
        if resp["body"] is None:
            return httpx.Response(resp["status"])
        return httpx.Response(resp["status"], json=resp["body"])

    def done(self) -> None:
        assert not self.expected, f"expected requests not made: {[e['request']['path'] for e in self.expected]}"


def run(
    argv: list[str],
    fake: FakeConnect | None = None,
    transport: httpx.BaseTransport | None = None,
    sleeps: list[float] | None = None,
    stdin: str = "",
) -> tuple[int, str, str]:
    args = build_parser().parse_args(["connectors", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = connectors.run(
        args,
        out=out,
        err=err,
        transport=transport or (httpx.MockTransport(fake) if fake else None),
        sleep=(sleeps.append if sleeps is not None else lambda _s: pytest.fail("unexpected sleep")),
        stdin=io.StringIO(stdin),
    )
    assert SECRET not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def _rec(*names: str) -> list[dict[str, Any]]:
    return [recorded(n) for n in names]


# ---------------------------------------------------------------- list and status


def test_list_shows_each_connector_and_its_tasks():
    fake = FakeConnect(*_rec("root", "list_expanded"))
    code, out, _ = run(["list", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "STATE", "TASKS", "CLASS", "WORKER"]
    failing = next(line for line in lines if line.startswith("ops-failing"))
    assert "0/1 RUNNING (1 FAILED)" in failing and "MySqlConnector" in failing
    running = next(line for line in lines if line.startswith("ops-running"))
    assert "1/1 RUNNING" in running


def test_list_json_is_machine_readable_and_carries_no_config_secret():
    fake = FakeConnect(*_rec("root", "list_expanded"))
    code, out, _ = run(["list", "--url", URL, "-o", "json"], fake)
    assert code == ExitCode.OK
    items = {c["name"]: c for c in json.loads(out)}
    assert items["ops-failing"]["tasks"][0]["state"] == "FAILED"
    assert items["ops-running"]["connector_class"] == "io.debezium.connector.mysql.MySqlConnector"
    assert "database.password" not in out


def test_status_of_failed_task_shows_the_error_summary():
    fake = FakeConnect(*_rec("status_task_failed", "config_task_failed"))
    code, out, _ = run(["status", "ops-failing", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    assert "state      RUNNING" in out
    task_line = next(line for line in out.splitlines() if line.startswith("0 "))
    assert "FAILED" in task_line
    assert "Error reading MySQL variables: Access denied" in task_line
    assert "caused by: java.sql.SQLException" in task_line


def test_status_scrubs_the_connector_password_from_traces():
    failed = recorded("status_task_failed")
    trace = failed["response"]["body"]["tasks"][0]["trace"]
    failed["response"]["body"]["tasks"][0]["trace"] = trace.replace("(using password: YES)", f"(password {SECRET})", 1)
    fake = FakeConnect(failed, recorded("config_task_failed"))
    code, out, _ = run(["status", "ops-failing", "--url", URL, "--output", "json"], fake)
    assert code == ExitCode.OK
    view = json.loads(out)
    assert "[REDACTED]" in view["tasks"][0]["trace"]


def test_status_of_unknown_connector_exits_1():
    fake = FakeConnect(
        recorded("status_unknown_404"),
        exchange(
            "GET",
            "/connectors/no-such-connector/config",
            404,
            {"error_code": 404, "message": "Connector no-such-connector not found"},
        ),
    )
    code, out, err = run(["status", "no-such-connector", "--url", URL], fake)
    assert code == ExitCode.FAILED
    assert out == ""
    assert "connector 'no-such-connector' not found" in err


def test_status_of_a_connector_without_status_yet():
    fake = FakeConnect(recorded("status_unknown_404"), recorded("config_running"))
    fake.expected[0]["request"]["path"] = "/connectors/ops-running/status"
    code, _, err = run(["status", "ops-running", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.FAILED
    assert "exists but has no status yet" in err


def test_failure_with_json_output_is_also_json_on_stdout():
    fake = FakeConnect(
        recorded("status_unknown_404"),
        exchange(
            "GET",
            "/connectors/no-such-connector/config",
            404,
            {"error_code": 404, "message": "Connector no-such-connector not found"},
        ),
    )
    code, out, _ = run(["status", "no-such-connector", "--url", URL, "-o", "json"], fake)
    assert code == ExitCode.FAILED
    assert json.loads(out)["error"] == {
        "status": 404,
        "reason": "not_found",
        "exit_code": 1,
        "message": "status of no-such-connector: connector 'no-such-connector' not found",
    }


# ---------------------------------------------------------------- restart


def test_restart_failed_only_sends_include_tasks_and_only_failed():
    fake = FakeConnect(recorded("config_task_failed"), recorded("restart_failed_only_202"))
    code, out, _ = run(["restart", "ops-failing", "--failed-only", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    assert "restarting task(s) 0" in out
    assert "connector instance" not in out


def test_restart_failed_only_with_nothing_failed_says_so():
    fake = FakeConnect(recorded("config_task_failed"), recorded("restart_failed_only_nothing_202"))
    code, out, _ = run(["restart", "ops-failing", "--failed-only", "--url", URL, "-o", "json"], fake)
    fake.done()
    assert code == ExitCode.OK
    view = json.loads(out)
    assert view["connector"]["restarting"] is False
    assert [t["restarting"] for t in view["tasks"]] == [False]


def test_restart_without_failed_only_restarts_connector_and_tasks():
    fake = FakeConnect(recorded("config_task_failed"), recorded("restart_all_202"))
    code, out, _ = run(["restart", "ops-failing", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    assert "restarting the connector instance and task(s) 0" in out


def test_restart_on_connect_2x_restarts_failed_tasks_one_by_one():
    # Connect < 3.0 ignores includeTasks/onlyFailed and answers 204 (protocols.md 1.5); not
    # producible on the devstack's 3.9, so the replies are written from the reference.
    status = {
        "name": "legacy",
        "connector": {"state": "RUNNING", "worker_id": "w:8083"},
        "type": "source",
        "tasks": [
            {"id": 0, "state": "RUNNING", "worker_id": "w:8083"},
            {"id": 1, "state": "FAILED", "worker_id": "w:8083", "trace": "boom"},
        ],
    }
    fake = FakeConnect(
        exchange("GET", "/connectors/legacy/config", 200, {"connector.class": "x", "database.password": SECRET}),
        exchange("POST", "/connectors/legacy/restart", 204, params={"includeTasks": "true", "onlyFailed": "true"}),
        exchange("GET", "/connectors/legacy/status", 200, status),
        exchange("POST", "/connectors/legacy/tasks/1/restart", 204),
    )
    code, out, _ = run(["restart", "legacy", "--failed-only", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    assert "task(s) 1" in out and "task(s) 0" not in out


def test_rebalance_conflict_is_retried_then_succeeds():
    conflict = {
        "error_code": 409,
        "message": "Cannot complete request momentarily due to stale configuration "
        "(typically caused by a concurrent config change)",
    }
    sleeps: list[float] = []
    fake = FakeConnect(
        exchange("PUT", "/connectors/ops-running/stop", 409, conflict),
        recorded("stop_204"),
    )
    code, _out, _ = run(["stop", "ops-running", "--url", URL], fake, sleeps=sleeps)
    fake.done()
    assert code == ExitCode.OK
    assert sleeps == [connectors.CONFLICT_BACKOFF_SECONDS]


def test_persistent_rebalance_conflict_exits_1_with_advice():
    conflict = {
        "error_code": 409,
        "message": "Cannot complete request because of a conflicting operation (e.g. worker rebalance)",
    }
    sleeps: list[float] = []
    fake = FakeConnect(*[exchange("PUT", "/connectors/c/stop", 409, conflict)] * connectors.CONFLICT_RETRIES)
    code, _, err = run(["stop", "c", "--url", URL], fake, sleeps=sleeps)
    fake.done()
    assert code == ExitCode.FAILED
    assert "rebalancing" in err and "retry" in err
    assert len(sleeps) == connectors.CONFLICT_RETRIES - 1


# ---------------------------------------------------------------- state changes, delete, offsets


@pytest.mark.parametrize(
    ("action", "fixture"), [("pause", "pause_202"), ("resume", "resume_202"), ("stop", "stop_204")]
)
def test_state_changes_send_one_put(action, fixture):
    fake = FakeConnect(recorded(fixture))
    code, out, _ = run([action, "ops-running", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    assert f"ops-running: {action} requested" in out


def test_pause_of_unknown_connector_exits_1():
    fake = FakeConnect(recorded("pause_unknown_404"))
    code, _, err = run(["pause", "no-such-connector", "--url", URL], fake)
    assert code == ExitCode.FAILED
    assert "not found" in err


def test_stop_on_connect_before_3_5_explains_the_missing_endpoint():
    fake = FakeConnect(exchange("PUT", "/connectors/c/stop", 404, {"error_code": 404, "message": "HTTP 404 Not Found"}))
    code, _, err = run(["stop", "c", "--url", URL], fake)
    assert code == ExitCode.FAILED
    assert "no such endpoint" in err


def test_delete_needs_yes_and_sends_nothing_without_it():
    fake = FakeConnect()
    code, _, err = run(["delete", "ops-new", "--url", URL], fake)
    assert code == ExitCode.USAGE
    assert "--yes" in err
    assert fake.seen == []


def test_delete_with_yes():
    fake = FakeConnect(recorded("delete_204"))
    code, out, _ = run(["delete", "ops-new", "--yes", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    assert "deleted" in out


def test_delete_unknown_exits_1():
    fake = FakeConnect(recorded("delete_unknown_404"))
    code, _, _ = run(["delete", "no-such-connector", "--yes", "--url", URL], fake)
    assert code == ExitCode.FAILED


def test_offsets_table_and_json():
    fake = FakeConnect(recorded("offsets_running"))
    code, out, _ = run(["offsets", "ops-running", "--url", URL], fake)
    assert code == ExitCode.OK
    assert "server=ops_running" in out and "file=mysql-bin." in out
    fake = FakeConnect(recorded("offsets_running"))
    code, out, _ = run(["offsets", "ops-running", "--url", URL, "-o", "json"], fake)
    offsets = json.loads(out)["offsets"]
    assert offsets[0]["partition"] == {"server": "ops_running"}
    assert isinstance(offsets[0]["offset"]["pos"], int)


def test_offsets_of_unknown_connector_exits_1():
    fake = FakeConnect(recorded("offsets_unknown_404"))
    code, _, err = run(["offsets", "no-such-connector", "--url", URL], fake)
    assert code == ExitCode.FAILED
    assert "not found" in err


# ---------------------------------------------------------------- register


def _connector_file(tmp_path: Path, fixture: str, wrap: bool = True) -> tuple[Path, dict]:
    config = recorded(fixture)["request"]["body"]
    name = config["name"]
    path = tmp_path / "connector.json"
    path.write_text(json.dumps({"name": name, "config": config} if wrap else config))
    return path, config


def test_register_shows_validation_errors_per_field_and_creates_nothing(tmp_path):
    path, config = _connector_file(tmp_path, "validate_missing_field")
    validate = recorded("validate_missing_field")
    validate["request"]["body"] = config
    fake = FakeConnect(validate)
    code, _out, err = run(["register", str(path), "--url", URL], fake)
    fake.done()
    assert code == ExitCode.FAILED
    assert "configuration is invalid" in err
    line = next(line for line in err.splitlines() if "database.server.id" in line)
    assert "A value is required" in line


def test_register_validation_errors_as_json(tmp_path):
    path, config = _connector_file(tmp_path, "validate_wrong_password", wrap=False)
    validate = recorded("validate_wrong_password")
    validate["request"]["body"] = config
    fake = FakeConnect(validate)
    code, out, _ = run(["register", str(path), "--url", URL, "-o", "json"], fake)
    assert code == ExitCode.FAILED
    error = json.loads(out)["error"]
    assert error["reason"] == "invalid_config"
    assert any("Access denied" in m for m in error["errors"]["database.hostname"])


def test_register_creates_after_validation_and_redacts_the_applied_config(tmp_path):
    path, config = _connector_file(tmp_path, "put_config_created_201")
    validate = recorded("validate_ok")
    validate["request"]["body"] = config
    create = recorded("put_config_created_201")
    fake = FakeConnect(validate, create)
    code, out, _ = run(["register", str(path), "--url", URL, "-o", "json"], fake)
    fake.done()
    assert code == ExitCode.OK
    view = json.loads(out)
    assert view["action"] == "created"
    assert view["config"]["database.password"] == "[REDACTED]"
    assert view["config"]["database.user"] == "debezium"


def test_register_updates_an_existing_connector(tmp_path):
    update = recorded("put_config_updated_200")
    config = update["request"]["body"]
    path = tmp_path / "c.yaml"
    path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in config.items()))
    validate = recorded("validate_ok")
    validate["request"]["body"] = config
    fake = FakeConnect(validate, update)
    code, out, _ = run(["register", str(path), "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    assert "ops-new: updated" in out


def test_register_dry_run_validates_only(tmp_path):
    path, config = _connector_file(tmp_path, "validate_ok")
    fake = FakeConnect(recorded("validate_ok"))
    fake.expected[0]["request"]["body"] = config
    code, out, _ = run(["register", str(path), "--dry-run", "--url", URL], fake)
    fake.done()
    assert code == ExitCode.OK
    assert "nothing changed" in out


def test_register_unknown_class(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"connector.class": "com.example.NoSuchConnector", "name": "ops-new"}))
    fake = FakeConnect(recorded("validate_unknown_class_500"))
    code, _, err = run(["register", str(path), "--url", URL], fake)
    assert code == ExitCode.FAILED
    assert "com.example.NoSuchConnector is not installed" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON or YAML"),
        ('{"config": {"connector.class": "x"}}', "has no name"),
        ('{"name": "a"}', "no connector.class"),
        ('{"name": "a", "config": {"name": "b", "connector.class": "x"}}', "differs"),
        ("[1, 2]", "expected an object"),
    ],
)
def test_register_rejects_bad_files_with_exit_2_before_any_request(text, message):
    fake = FakeConnect()
    code, _, err = run(["register", "-", "--url", URL], fake, stdin=text)
    assert code == ExitCode.USAGE
    assert message in err
    assert fake.seen == []


def test_register_bad_file_errors_do_not_echo_values(tmp_path):
    fake = FakeConnect()
    code, _, _err = run(
        ["register", "-", "--url", URL],
        fake,
        stdin=f'{{"name": "a", "config": {{"name": "b", "database.password": "{SECRET}"}}}}',
    )
    assert code == ExitCode.USAGE  # and run() asserted SECRET is in neither stream


# ---------------------------------------------------------------- reaching the cluster


def test_unreachable_cluster_exits_3():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    code, _, err = run(["list", "--url", URL], transport=httpx.MockTransport(refuse))
    assert code == ExitCode.UNREACHABLE
    assert "cannot connect" in err


def test_timeout_exits_3():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    code, _, _ = run(["status", "c", "--url", URL], transport=httpx.MockTransport(slow))
    assert code == ExitCode.UNREACHABLE


def test_rejected_credentials_exit_2():
    fake = FakeConnect(exchange("GET", "/connectors/c/status", 401, None))
    code, _, err = run(["status", "c", "--url", URL], fake)
    assert code == ExitCode.USAGE
    assert "check credentials" in err


def test_second_worker_answers_when_the_first_is_down():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        if request.url.host == "down.test":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(202)

    code, _, _ = run(
        ["pause", "c", "--url", "http://down.test:8083", "--url", URL], transport=httpx.MockTransport(handler)
    )
    assert code == ExitCode.OK
    assert calls == ["down.test", "connect.test"]


# ---------------------------------------------------------------- choosing the cluster


def test_cluster_from_config_file(tmp_path, monkeypatch):
    monkeypatch.setenv("OPS_TEST_PW", "x" * 8)
    config = tmp_path / "c.yaml"
    config.write_text(f"""
connect_clusters:
  - name: a
    url: http://a.test:8083
  - name: b
    url: {URL}
    auth: {{username: ops, password: "${{OPS_TEST_PW}}"}}
    exclude: ["ops-*"]
""")
    code, _, err = run(["list", "--config.file", str(config)], FakeConnect())
    assert code == ExitCode.USAGE
    assert "--cluster" in err and "a, b" in err

    seen_auth = []
    fake = FakeConnect(*_rec("root", "list_expanded"))

    def handler(request: httpx.Request) -> httpx.Response:
        seen_auth.append(request.headers.get("authorization"))
        return fake(request)

    code, out, _ = run(["list", "--config.file", str(config), "--cluster", "b"], transport=httpx.MockTransport(handler))
    fake.done()
    assert code == ExitCode.OK
    assert "ops-failing" in out  # exclude patterns scope monitoring, not operator commands
    assert all(a and a.startswith("Basic ") for a in seen_auth)


def test_unknown_cluster_and_bad_config_exit_2(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("connect_clusters:\n  - url: http://a.test:8083\n")
    code, _, err = run(["list", "--config.file", str(config), "--cluster", "zzz"], FakeConnect())
    assert code == ExitCode.USAGE and "no connect cluster named 'zzz'" in err
    code, _, err = run(["list", "--config.file", str(tmp_path / "missing.yaml")], FakeConnect())
    assert code == ExitCode.USAGE and "cannot read" in err
    code, _, err = run(["list", "--url", "ftp://x"], FakeConnect())
    assert code == ExitCode.USAGE and "--url" in err


def test_status_still_answers_when_the_config_lookup_times_out():
    status = recorded("status_running")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/config"):
            raise httpx.ReadTimeout("busy herder", request=request)
        return httpx.Response(200, json=status["response"]["body"])

    code, out, _ = run(["status", "ops-running", "--url", URL], transport=httpx.MockTransport(handler))
    assert code == ExitCode.OK
    assert "state      RUNNING" in out


def test_timed_out_change_says_it_may_have_been_applied():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    code, _, err = run(["pause", "c", "--url", URL, "--timeout", "2s"], transport=httpx.MockTransport(slow))
    assert code == ExitCode.UNREACHABLE
    assert "may still have been applied" in err


def test_timeout_flag_sets_the_request_timeout_and_is_validated(tmp_path):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(202)

    assert (
        run(["pause", "c", "--url", URL, "--timeout", "7s"], transport=httpx.MockTransport(handler))[0] == ExitCode.OK
    )
    assert seen[0]["read"] == 7.0
    config = tmp_path / "c.yaml"
    config.write_text(f"connect_clusters:\n  - url: {URL}\n    timeout: 3s\n")
    seen.clear()
    assert run(["pause", "c", "--config.file", str(config)], transport=httpx.MockTransport(handler))[0] == ExitCode.OK
    assert seen[0]["read"] == 60.0  # commands default to 60s, not the poll timeout
    code, _, err = run(["pause", "c", "--url", URL, "--timeout", "soon"], FakeConnect())
    assert code == ExitCode.USAGE and "--timeout" in err


def test_validation_errors_that_echo_the_password_are_scrubbed(tmp_path):
    path, config = _connector_file(tmp_path, "validate_wrong_password")
    validate = recorded("validate_wrong_password")
    validate["request"]["body"] = config
    for item in validate["response"]["body"]["configs"]:
        if item["value"]["errors"]:
            item["value"]["errors"] = [f"Unable to connect with password {SECRET}: Access denied"]
    fake = FakeConnect(validate)
    code, out, _err = run(["register", str(path), "--url", URL, "-o", "json"], fake)
    assert code == ExitCode.FAILED
    assert "[REDACTED]" in json.loads(out)["error"]["errors"]["database.hostname"][0]
    # run() asserted the password itself is in neither stream


# ---------------------------------------------------------------- operator-managed connectors


def _operator_config(tmp_path: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(f"""
connect_clusters:
  - name: strimzi
    url: {URL}
remediation:
  operator_managed: ["strimzi/ops-*"]
""")
    return config


@pytest.mark.parametrize("action", ["pause", "resume", "stop", "delete"])
def test_changes_to_operator_managed_connectors_are_refused_without_force(tmp_path, action):
    config = _operator_config(tmp_path)
    fake = FakeConnect()
    extra = ["--yes"] if action == "delete" else []
    code, _, err = run([action, "ops-running", "--config.file", str(config), *extra], fake)
    assert code == ExitCode.USAGE
    assert "remediation.operator_managed" in err and "--force" in err and "KafkaConnector" in err
    assert fake.seen == []


@pytest.mark.parametrize(
    ("action", "fixture"), [("pause", "pause_202"), ("resume", "resume_202"), ("stop", "stop_204")]
)
def test_force_acts_on_an_operator_managed_connector(tmp_path, action, fixture):
    fake = FakeConnect(recorded(fixture))
    code, out, _ = run([action, "ops-running", "--config.file", str(_operator_config(tmp_path)), "--force"], fake)
    fake.done()
    assert code == ExitCode.OK and f"ops-running: {action} requested" in out


def test_unmatched_connector_and_restart_are_not_guarded(tmp_path):
    config = _operator_config(tmp_path)
    fake = FakeConnect(exchange("PUT", "/connectors/other/pause", 202))
    code, _, _ = run(["pause", "other", "--config.file", str(config)], fake)
    fake.done()
    assert code == ExitCode.OK
    fake = FakeConnect(recorded("config_task_failed"), recorded("restart_failed_only_202"))
    code, _, _ = run(["restart", "ops-failing", "--failed-only", "--config.file", str(config)], fake)
    fake.done()
    assert code == ExitCode.OK


def test_register_of_an_operator_managed_connector_needs_force_unless_dry_run(tmp_path):
    path, config = _connector_file(tmp_path, "put_config_created_201")
    assert config["name"].startswith("ops-")
    settings = _operator_config(tmp_path)
    code, _, err = run(["register", str(path), "--config.file", str(settings)], FakeConnect())
    assert code == ExitCode.USAGE and "--force" in err
    validate = recorded("validate_ok")
    validate["request"]["body"] = config
    fake = FakeConnect(validate)
    code, _, _ = run(["register", str(path), "--dry-run", "--config.file", str(settings)], fake)
    fake.done()
    assert code == ExitCode.OK
    fake = FakeConnect(validate, recorded("put_config_created_201"))
    code, _, _ = run(["register", str(path), "--force", "--config.file", str(settings)], fake)
    fake.done()
    assert code == ExitCode.OK
