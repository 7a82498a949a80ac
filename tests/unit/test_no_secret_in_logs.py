"""No secret at any log level: the daemon itself (`python -m cdc_watch run --log.level debug`)
with Slack (incoming webhook, then bot token) and Sentry configured, against a fake Connect that
fails a task and then recovers, and a database it cannot reach; it sends a FIRING and a
RESOLVED message and its whole stderr is scanned for the webhook URL, the token, the DSN and
the database password. Plus the formatters' own scrubbing."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cdc_watch.core import logs
from tests.support.capture import CaptureServer
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.recorded import body

REPO = Path(__file__).resolve().parents[2]
EXPAND = "/connectors?expand=status&expand=info"
DB_PASSWORD = "Db-Pw-for-the-log-scan-91"
TOKEN = "xoxb-log-scan-token-4711"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_connect(fake: FakeHTTP, failing: bool) -> None:
    reply = body("connect", "connectors_expand_failed_task_non_retriable")
    if not failing:
        for entry in reply.values():
            for task in entry["status"]["tasks"]:
                task["state"] = "RUNNING"
                task.pop("trace", None)
    fake.route("GET", "/", Reply(200, body("connect", "root")))
    fake.route("GET", EXPAND, Reply(200, reply))
    for name in reply:
        fake.route("GET", f"/connectors/{name}/offsets", Reply(200, body("connect", "connector_offsets_running")))


def config(tmp_path: Path, connect_url: str, slack: str) -> Path:
    path = tmp_path / "cdc-watch.yaml"
    path.write_text(
        f"connect_clusters:\n  - name: prod\n    url: {connect_url}\n    poll_interval: 500ms\n"
        "    offsets_interval: 1h\n"
        "databases:\n  - name: db\n    host: 127.0.0.1\n    port: 1\n    user: cdc\n"
        "    password: ${CDC_LOGSCAN_DB_PASSWORD}\n    poll_interval: 500ms\n"
        f"state_file: {tmp_path / 'state.json'}\n"
        "poll_jitter: 0\n"
        "alerting:\n"
        "  rules: {keep_firing_for: 0s, overrides: {CdcTaskFailed: {for: 0s}}}\n"
        f"  slack: {slack}\n"
        "  sentry: {dsn: '${CDC_LOGSCAN_SENTRY_DSN}'}\n"
    )
    return path


@pytest.mark.parametrize("mode", ["webhook", "bot"])
def test_the_daemon_at_debug_logs_no_secret(tmp_path, mode):
    capture = CaptureServer().start()
    try:
        with FakeHTTP() as connect:
            serve_connect(connect, failing=True)
            if mode == "webhook":
                slack, prefix = "{webhook_url: '${CDC_LOGSCAN_SLACK}'}", "/slack/webhook/"
            else:
                slack = f"{{token: '${{CDC_LOGSCAN_SLACK}}', channel: '#cdc', api_url: '{capture.url}/api/'}}"
                prefix = "/api/chat.postMessage"
            secrets = {
                "webhook URL": capture.webhook_url(),
                "webhook path": "/slack/webhook/default",
                "token": TOKEN,
                "DSN": capture.sentry_dsn(),
                "DSN key": "publickey",
                "database password": DB_PASSWORD,
            }
            env = {
                **os.environ,
                "CDC_LOGSCAN_SLACK": capture.webhook_url() if mode == "webhook" else TOKEN,
                "CDC_LOGSCAN_SENTRY_DSN": capture.sentry_dsn(),
                "CDC_LOGSCAN_DB_PASSWORD": DB_PASSWORD,
            }
            path = config(tmp_path, connect.url, slack)
            port = free_port()
            command = [sys.executable, "-m", "cdc_watch", "run", "--config.file", str(path), "--log.level", "debug"]
            with (tmp_path / "stderr").open("w+b") as stderr:
                daemon = subprocess.Popen(
                    [*command, "--web.listen-address", f"127.0.0.1:{port}"],
                    cwd=REPO,
                    env=env,
                    stdout=stderr,
                    stderr=stderr,
                )
                try:
                    firing = capture.wait_for(prefix, 1, timeout=60)
                    assert firing and "FIRING" in firing[0].json()["text"], [r.path for r in capture.requests]
                    serve_connect(connect, failing=False)
                    both = capture.wait_for(prefix, 2, timeout=60)
                    assert len(both) == 2 and "RESOLVED" in both[1].json()["text"]
                    assert capture.wait_for("/api/42/envelope/", 1, timeout=60)  # Sentry got events too
                    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text  # a debug line
                finally:
                    daemon.send_signal(signal.SIGTERM)
                    daemon.wait(timeout=30)
                stderr.seek(0)
                output = stderr.read().decode("utf-8", "replace")
    finally:
        capture.stop()
    assert "level=debug" in output and "alert firing" in output  # it did log at debug, and about the alert
    assert "cdc_notifications_total" in metrics and not [n for n, s in secrets.items() if s in metrics]
    leaked = [name for name, secret in secrets.items() if secret in output]
    assert leaked == [], [line for line in output.splitlines() if any(s in line for s in secrets.values())][:5]


def test_every_line_is_scrubbed_of_the_configured_secrets_and_secret_shapes():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "sent to %s", ("https://hooks.example/T/B/abc123",), None
    )
    record.error = "password=hunter22 from http://user:pw1234@host/"
    for formatter in (logs.TextFormatter(), logs.JsonFormatter()):
        formatter.secrets = frozenset({"https://hooks.example/T/B/abc123"})
        line = formatter.format(record)
        assert "abc123" not in line and "hunter22" not in line and "pw1234" not in line, line
        assert line.count("[REDACTED]") == 3


def test_use_secrets_reaches_the_root_handler_and_libraries_stay_quiet():
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        logs.setup("debug")
        logs.use_secrets(["s3cr3t-value"])
        logs.use_secrets(["an0ther-value"])  # a reload adds; the old ones stay
        (handler,) = root.handlers
        assert handler.formatter.secrets == {"s3cr3t-value", "an0ther-value"}  # type: ignore[union-attr]
        for name in logs.QUIET_LOGGERS:
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger("cdc_watch").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
