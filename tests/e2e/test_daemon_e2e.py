"""The daemon against the real stack: Connect REST states, failures, secrets, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cdc_watch.sources.connect.model import connect_state
from tests.e2e.conftest import stack_config_yaml

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
POLL = 2.0


def task_state(daemon, connector: str) -> str | None:
    for labels, value in daemon.samples("cdc_task_state"):
        if labels["connector"] == connector and labels["task"] == "0" and value == 1:
            return labels["state"]
    return None


def test_running_connector_and_a_task_failed_within_two_poll_intervals(stack, stack_env, connector, daemon_factory):
    daemon = daemon_factory(stack_config_yaml(stack, poll_interval=f"{POLL:.0f}s"))
    daemon.wait_for(lambda: task_state(daemon, connector.name) == "RUNNING", 30, "task RUNNING in /metrics")
    assert daemon.value("cdc_connector_state", connector=connector.name, state="RUNNING") == 1
    assert daemon.value("cdc_connect_up", connect_cluster="devstack") == 1
    assert (
        daemon.value(
            "cdc_connector_info", connector=connector.name, **{"class": "io.debezium.connector.mysql.MySqlConnector"}
        )
        == 1
    )
    # Ready once every source has been polled; the offsets source follows the first Connect poll.
    daemon.wait_for(lambda: daemon.get("/-/ready").status_code == 200, 15, "/-/ready 200")

    stack.faults.task_failed_non_retriable(connector)
    failed_at = time.monotonic()
    daemon.wait_for(lambda: task_state(daemon, connector.name) == "FAILED", 2 * POLL + 1, "task FAILED in /metrics")
    assert time.monotonic() - failed_at <= 2 * POLL + 1
    # The connector itself stays RUNNING: the normal Debezium failure picture.
    assert daemon.value("cdc_connector_state", connector=connector.name, state="RUNNING") == 1


def test_connector_password_never_reaches_metrics_landing_page_or_logs(
    stack, stack_env, connector, daemon_factory, caplog
):
    password = stack.mariadb.debezium_password
    # The password really is in what Connect returns.
    assert password in httpx.get(f"{stack.connect_url}/connectors?expand=info", timeout=10).text
    daemon = daemon_factory(stack_config_yaml(stack, poll_interval="1s"))
    with caplog.at_level("DEBUG"):
        daemon.wait_for(lambda: task_state(daemon, connector.name) == "RUNNING", 30, "task RUNNING")
        stack.faults.task_failed_non_retriable(connector)  # a FAILED task carries a trace
        daemon.wait_for(lambda: task_state(daemon, connector.name) == "FAILED", 10, "task FAILED")
        time.sleep(1.5)  # let at least one more poll and the offsets poll log what they log
        outputs = [daemon.metrics_text(), daemon.get("/").text, caplog.text]
    for text in outputs:
        assert password not in text
    state = connect_state(daemon.app.snapshot(), "devstack")
    trace = state.connectors[connector.name].tasks[0].trace
    assert trace and "Access denied" in trace and password not in trace


def test_connectors_deleted_upstream_vanish_from_metrics(stack, stack_env, daemon_factory):
    handle = stack.create_connector()
    daemon = daemon_factory(stack_config_yaml(stack, poll_interval="1s"))
    try:
        daemon.wait_for(lambda: task_state(daemon, handle.name) == "RUNNING", 30, "task RUNNING")
    finally:
        stack.delete_connector(handle.name)
    daemon.wait_for(lambda: handle.name not in daemon.metrics_text(), 10, "connector gone from /metrics")


def test_unreachable_cluster_is_a_typed_error_not_a_crash(stack, stack_env, daemon_factory):
    config = stack_config_yaml(stack, poll_interval="1s").replace(stack.connect_url, "http://127.0.0.1:9")
    daemon = daemon_factory(config)
    daemon.wait_for(
        lambda: daemon.value("cdc_source_poll_errors_total", source="connect:devstack", reason="connect"),
        10,
        "connect error counted",
    )
    assert daemon.value("cdc_connect_up", connect_cluster="devstack") == 0
    assert daemon.value("cdc_source_up", source="connect:devstack") == 0
    assert "cannot connect" in daemon.get("/").text


def test_failover_to_the_next_worker_url(stack, stack_env, daemon_factory):
    extra = stack_config_yaml(stack, poll_interval="1s").replace(
        f"urls: [{stack.connect_url}]", f"urls: [http://127.0.0.1:9, {stack.connect_url}]"
    )
    daemon = daemon_factory(extra)
    daemon.wait_for(
        lambda: daemon.value("cdc_connect_up", connect_cluster="devstack") == 1, 10, "cluster up via the second URL"
    )


def _start_subprocess_daemon(config: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cdc_watch",
            "run",
            "--config.file",
            str(config),
            "--web.listen-address",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_sighup_reload_keeps_old_config_on_error_and_sigterm_exits_zero(stack, stack_env, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(stack_config_yaml(stack, poll_interval="1s"))
    port = _free_port()
    proc = _start_subprocess_daemon(config, port)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(base + "/-/healthy", 20)
        config.write_text("connect_clusters: [{url: http://x, nope: 1}]\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "cdc_config_last_reload_successful 0" not in httpx.get(base + "/metrics").text:
            assert time.monotonic() < deadline, "reload failure not reported"
            time.sleep(0.2)
        assert 'cdc_connect_up{connect_cluster="devstack"}' in httpx.get(base + "/metrics").text
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
        output, _ = proc.communicate(timeout=10)
    assert "configuration reload rejected" in output
    assert stack.mariadb.debezium_password not in output
