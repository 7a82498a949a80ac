"""Every subcommand through `cli.main()` with the flags the docs show, in every documented place.

Nothing here calls a command's handler directly: a subcommand whose parser leaves out a flag
its handler reads (the `silence list` AttributeError of issue 18) fails these tests. Connect is a
loopback fake serving exchanges recorded from the real stack; `silence` talks to a real daemon
(`python -m cdc_watch run`) started for the module; `preflight` meets a database port nothing
listens on. Exit codes and output are the documented ones, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from cdc_watch import __version__, cli
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.recorded import body

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "tests" / "fixtures" / "recorded" / "connect_ops"


@pytest.fixture(autouse=True)
def _keep_root_logging() -> Iterator[None]:
    """cli.main installs its own log handler on the root logger; put pytest's back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    return code, out, err


# --------------------------------------------------------------------------- the parser itself


def _parsers(parser: argparse.ArgumentParser, path: str = "cdc-watch") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


PARSERS = list(_parsers(cli.build_parser()))


def test_every_command_and_action_is_walked():
    names = {path for path, _ in PARSERS}
    assert {"cdc-watch run", "cdc-watch check-config", "cdc-watch preflight", "cdc-watch silence list"} <= names
    assert {f"cdc-watch connectors {a}" for a in ("list", "status", "register", "delete")} <= names


@pytest.mark.parametrize(("path", "parser"), PARSERS, ids=[p for p, _ in PARSERS])
def test_every_flag_has_help_and_every_command_a_description_and_version(path, parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, f"{path}: {action.option_strings or action.dest}"
    if path != "cdc-watch":
        assert parser.description, f"{path} has no description"
    assert any("--version" in a.option_strings for a in parser._actions), f"{path} has no --version"


def test_run_help_has_a_description_and_examples(capsys):
    code, out, _ = run_main(capsys, "run", "--help")
    assert code == 0
    assert "Run the daemon" in out and "SIGTERM" in out
    assert "examples:" in out and "cdc-watch run --config.file" in out
    assert "--log.format {logfmt,json,text}" in out
    assert "only log messages at this level or above" in out


@pytest.mark.parametrize("command", [path.removeprefix("cdc-watch").split() for path, _ in PARSERS])
def test_version_works_on_every_command(capsys, command):
    code, out, _ = run_main(capsys, *command, "--version")
    assert code == 0 and out.strip() == f"cdc-watch {__version__}"


# --------------------------------------------------------------------------- check-config, run


@pytest.fixture
def example_env(monkeypatch):
    for name in re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", (REPO / "config.example.yaml").read_text()):
        monkeypatch.setenv(name, f"value-of-{name.lower()}")


@pytest.mark.parametrize(
    "argv",
    [
        ["check-config", "--config.file", str(REPO / "config.example.yaml")],
        ["--config.file", str(REPO / "config.example.yaml"), "check-config"],
        ["check-config", "--config.file", str(REPO / "config.example.yaml"), "--log.format", "logfmt"],
    ],
)
def test_check_config_of_the_example_exits_0(capsys, example_env, argv):
    code, out, _ = run_main(capsys, *argv)
    assert code == 0 and "valid" in out


def test_check_config_lists_problems_and_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("connect_clusters: [{url: http://c:8083, poll_interval: 30m1h}]\n")
    code, _, err = run_main(capsys, "check-config", "--config.file", str(bad))
    assert code == 2
    assert "connect_clusters[0].poll_interval" in err and "from the largest to the smallest" in err


@pytest.mark.parametrize(("fmt", "json_lines"), [("logfmt", False), ("text", False), ("json", True)])
def test_run_with_a_bad_config_exits_2_with_one_log_line_in_the_format_asked(capsys, tmp_path, fmt, json_lines):
    bad = tmp_path / "bad.yaml"
    bad.write_text("connect_clusters: []\n")
    code, _, err = run_main(capsys, "run", "--config.file", str(bad), "--log.format", fmt)
    assert code == 2
    (line,) = [line for line in err.splitlines() if "invalid configuration" in line]
    if json_lines:
        assert json.loads(line)["level"] == "error"
    else:
        assert line.startswith("ts=") and "level=error" in line and 'msg="invalid configuration"' in line


def test_usage_errors_exit_2(capsys):
    assert run_main(capsys, "run", "--log.format", "xml")[0] == 2
    assert run_main(capsys, "connectors")[0] == 2  # an action is required
    assert run_main(capsys, "silence", "add", "--alert", "CdcTaskFailed")[0] == 2  # --for is required


# --------------------------------------------------------------------------- connectors


def ops(name: str) -> dict[str, Any]:
    return json.loads((OPS / f"{name}.json").read_text())


def serve(fake: FakeHTTP, *names: str) -> list[tuple[str, str]]:
    """Route recorded exchanges; returns the (method, path) requests they expect, in order."""
    expected = []
    for name in names:
        exchange = ops(name)
        request, response = exchange["request"], exchange["response"]
        query = urlencode(
            [
                (k, v)
                for k, values in (request.get("params") or {}).items()
                for v in (values if isinstance(values, list) else [values])
            ]
        )
        path = request["path"] + (f"?{query}" if query else "")
        fake.route(request["method"], path, Reply(response["status"], response["body"]))
        expected.append((request["method"], path))
    return expected


@pytest.fixture
def connect():
    with FakeHTTP() as server:
        yield server
    assert not server.unexpected, f"unexpected requests: {[(s.method, s.path) for s in server.unexpected]}"


@pytest.fixture
def config_file(connect, tmp_path) -> str:
    path = tmp_path / "cdc-watch.yaml"
    path.write_text(f"connect_clusters:\n  - name: prod\n    url: {connect.url}\n")
    return str(path)


def connector_file(tmp_path: Path) -> str:
    config = ops("validate_ok")["request"]["body"]
    path = tmp_path / "connector.json"
    path.write_text(json.dumps({"name": config["name"], "config": config}))
    return str(path)


# (documented action and its arguments, recorded exchanges, text the output must hold)
CONNECTOR_CASES = [
    (["list"], ["root", "list_expanded"], "ops-failing"),
    (["status", "ops-failing"], ["status_task_failed", "config_task_failed"], "FAILED"),
    (["restart", "ops-failing"], ["config_task_failed", "restart_all_202"], "restarting the connector instance"),
    (["restart", "ops-failing", "--failed-only"], ["config_task_failed", "restart_failed_only_202"], "task(s) 0"),
    (["pause", "ops-running"], ["pause_202"], "pause requested"),
    (["resume", "ops-running"], ["resume_202"], "resume requested"),
    (["stop", "ops-running"], ["stop_204"], "stop requested"),
    (["delete", "ops-new", "--yes"], ["delete_204"], "deleted"),
    (["offsets", "ops-running"], ["offsets_running"], "file=mysql-bin."),
    (["register", "FILE", "--dry-run"], ["validate_ok"], "nothing changed"),
    (["register", "FILE"], ["validate_ok", "put_config_created_201"], "created"),
]


@pytest.mark.parametrize("place", ["before the command", "before the action", "after the action"])
@pytest.mark.parametrize(
    ("action", "exchanges", "shown"), CONNECTOR_CASES, ids=[" ".join(c[0]) for c in CONNECTOR_CASES]
)
def test_connectors_actions_with_the_config_file_anywhere(
    capsys, connect, config_file, tmp_path, place, action, exchanges, shown
):
    expected = serve(connect, *exchanges)
    action = [connector_file(tmp_path) if a == "FILE" else a for a in action]
    flags = ["--config.file", config_file, "--log.level", "warn"]
    argv = {
        "before the command": [*flags, "connectors", *action],
        "before the action": ["connectors", *flags, *action],
        "after the action": ["connectors", *action, *flags],
    }[place]
    code, out, err = run_main(capsys, *argv)
    assert code == 0, err
    assert shown in out
    assert [(s.method, s.path) for s in connect.requests] == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["connectors", "list", "--url", "URL", "-o", "json"],
        ["connectors", "--url", "URL", "-o", "json", "list"],
        ["connectors", "-o", "json", "list", "--url", "URL", "--timeout", "1m30s"],
    ],
)
def test_connectors_url_and_output_before_or_after_the_action(capsys, connect, argv):
    serve(connect, "root", "list_expanded")
    code, out, _ = run_main(capsys, *[connect.url if a == "URL" else a for a in argv])
    assert code == 0
    assert {c["name"] for c in json.loads(out)} >= {"ops-failing", "ops-running"}


def test_connectors_status_of_an_unknown_connector_exits_1(capsys, connect, config_file):
    serve(connect, "status_unknown_404")
    not_found = {"error_code": 404, "message": "Connector no-such-connector not found"}
    connect.route("GET", "/connectors/no-such-connector/config", Reply(404, not_found))
    code, _, err = run_main(capsys, "connectors", "--config.file", config_file, "status", "no-such-connector")
    assert code == 1 and "connector 'no-such-connector' not found" in err


def test_connectors_against_a_cluster_nobody_serves_exits_3(capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run_main(capsys, "connectors", "list", "--url", f"http://127.0.0.1:{port}", "-o", "json")
    assert code == 3 and err.startswith("error:")
    assert json.loads(out)["error"]["exit_code"] == 3


# --------------------------------------------------------------------------- preflight


def test_preflight_with_its_documented_flags_and_no_database_exits_3(capsys, connect, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "c.yaml"
    config.write_text(
        f"connect_clusters: [{{url: {connect.url}}}]\n"
        f"databases: [{{name: inventory-mysql, host: 127.0.0.1, port: {port}, user: cdc_watch, connect_timeout: 2s}}]\n"
    )
    code, out, err = run_main(
        capsys,
        "preflight",
        "--database",
        "inventory-mysql",
        "--user",
        "debezium",
        "--min-retention",
        "1d12h",
        "-o",
        "json",
        "--config.file",
        str(config),
    )
    assert code == 3 and err.startswith("error:")
    assert json.loads(out)["error"]["exit_code"] == 3
    code, _, err = run_main(capsys, "--config.file", str(config), "preflight", "--database", "nope")
    assert code == 2 and "nope" in err
    code, _, err = run_main(
        capsys, "preflight", "--database", "x", "--min-retention", "1h1h", "--config.file", str(config)
    )
    assert code == 2 and "--min-retention" in err


# --------------------------------------------------------------------------- silence, against a real daemon


class Daemon:
    def __init__(self, proc: subprocess.Popen, url: str, lines: queue.Queue):
        self.proc, self.url, self.lines = proc, url, lines


def _read_lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("daemon")
    with FakeHTTP() as connect:
        connect.route("GET", "/", Reply(200, body("connect", "root")))
        connect.route(
            "GET", "/connectors?expand=status&expand=info", Reply(200, body("connect", "connectors_expand_healthy"))
        )
        config = tmp / "c.yaml"
        config.write_text(
            f"connect_clusters: [{{name: prod, url: {connect.url}, poll_interval: 1m}}]\nstate_file: {tmp / 'state.json'}\n"
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cdc_watch",
                "run",
                "--config.file",
                str(config),
                "--web.listen-address",
                "127.0.0.1:0",
                "--log.format",
                "json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(proc.stderr, lines), daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        port = None
        while port is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "the daemon exited before it started"
            record = json.loads(line)
            if record["msg"] == "cdc_watch started":
                port = record["port"]
        try:
            yield Daemon(proc, f"http://127.0.0.1:{port}", lines)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            reader.join(timeout=10)  # EOF once the daemon is gone
            assert proc.stderr is not None
            proc.stderr.close()


def test_silence_add_list_remove_through_main_against_the_daemon(capsys, daemon):
    code, out, err = run_main(
        capsys,
        "silence",
        "--web.url",
        daemon.url,
        "add",
        "--connector",
        "orders",
        "--for",
        "1h30m",
        "--comment",
        "planned migration",
    )
    assert code == 0, err
    ident = re.match(r"silence (\S+) until ", out).group(1)
    code, out, err = run_main(capsys, "silence", "list", "--web.url", daemon.url)  # the command of issue 18
    assert code == 0, err
    assert any(line.split("\t")[0] == ident and "connector=orders" in line for line in out.splitlines())
    code, out, _ = run_main(capsys, "--log.level", "debug", "silence", "remove", ident, "--web.url", daemon.url)
    assert code == 0 and f"removed {ident}" in out
    code, _, err = run_main(capsys, "silence", "remove", ident, "--web.url", daemon.url)
    assert code == 1 and "no such run-time silence" in err


def test_silence_with_a_bad_duration_is_a_usage_error_before_any_request(capsys, daemon):
    code, _, err = run_main(
        capsys, "silence", "add", "--alert", "CdcTaskFailed", "--for", "30m1h", "--web.url", daemon.url
    )
    assert code == 2 and "--for" in err


def test_silence_list_without_a_daemon_exits_1(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run_main(capsys, "silence", "list", "--web.url", f"http://127.0.0.1:{port}")
    assert code == 1 and "cannot reach the daemon" in err


def test_the_daemon_stops_with_exit_0_on_sigterm(daemon):
    # Runs last in this module (pytest keeps file order): the fixture's daemon is stopped here.
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=10) == 0
