"""Fixtures that run the real daemon (in-process `App`) against the real devstack.

`daemon_factory(extra_yaml="", **cluster_overrides)` writes a config pointing at the stack,
starts `App` on a free loopback port and returns a `RunningDaemon`; every daemon is stopped at
test teardown. Helpers poll with deadlines; they never sleep a fixed time to pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdc_watch.app import App
from devstack.faults import PURGE_RUNNING_LOOP
from tests.support.capture import CaptureServer


class RunningDaemon:
    def __init__(self, app: App):
        self.app = app
        self.url = f"http://127.0.0.1:{app.web.port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def metrics_text(self) -> str:
        response = self.get("/metrics")
        response.raise_for_status()
        return response.text

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """All samples of one metric as (labels, value)."""
        found = []
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                if sample.name == name:
                    found.append((dict(sample.labels), sample.value))
        return found

    def value(self, name: str, **labels: str) -> float | None:
        for sample_labels, value in self.samples(name):
            if all(sample_labels.get(k) == v for k, v in labels.items()):
                return value
        return None

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str, step: float = 0.5) -> object:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(step)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value {last!r}")


def stack_config_yaml(stack, poll_interval: str = "2s", extra_cluster: str = "", extra: str = "") -> str:
    """A config for the stack; passwords go through ${ENV} as in production."""
    return f"""
connect_clusters:
  - name: devstack
    urls: [{stack.connect_url}]
    poll_interval: {poll_interval}
    offsets_interval: 5s
    timeout: 5s
{extra_cluster}
{extra}
"""


def relay_connectors(stack) -> str:
    """Connect 4.3's connectors reach MariaDB through the devstack's relay (another port): the
    database entry then names its connectors, as for any proxy between Debezium and the server."""
    return '    connectors: ["*"]\n' if stack.connect_version.db_relay else ""


def purged_task_state(stack) -> str:
    """The task state Connect reports after the binlog was purged past the connector's position.

    Debezium 3.0 (Connect 3.9) keeps the task RUNNING while it restarts itself in a loop (the
    failure Connect's status hides); Debezium 3.4 and 3.6 (Connect 4.1, 4.3) fail the task at
    start with "...no longer available on the server" (devstack.versions: purge_outcome).
    """
    return "RUNNING" if stack.connect_version.purge_outcome == PURGE_RUNNING_LOOP else "FAILED"


E2E_POLL = 2.0  # seconds between polls of every source in the e2e configs
E2E_FOR = 10.0  # every rule's `for` in the e2e configs: shorter than production, same logic

# Every rule that has a `for` worth shortening in a test.
SHORTENED_RULES = (
    "CdcTaskFailed",
    "CdcConnectorFailed",
    "CdcTaskUnassigned",
    "CdcConnectUnreachable",
    "CdcSourceUnreadable",
    "CdcWorkerLost",
    "CdcBinlogPositionLost",
    "CdcFailoverLostBinlog",
    "CdcBinlogPurgeRisk",
    "CdcBinlogLagHigh",
    "CdcStreamingLagHigh",
    "CdcNotStreaming",
    "CdcOffsetCommitsFailing",
    "CdcPrerequisiteDrift",
    "CdcPrivilegeMissing",
)


def alerting_yaml(for_: str = f"{E2E_FOR:.0f}s", webhook_env: str = "CDC_TEST_SLACK_WEBHOOK") -> str:
    """Slack through ${webhook_env}; every rule's `for` set to `for_`, no keep-firing hold."""
    overrides = "\n".join(f"        {name}: {{for: {for_}}}" for name in SHORTENED_RULES)
    return f"""
alerting:
  slack:
    webhook_url: ${{{webhook_env}}}
  rules:
    keep_firing_for: 0s
    overrides:
{overrides}
"""


def full_config(stack, alerting: str | None = None, extra: str = "", poll: float = E2E_POLL) -> str:
    """Connect REST, Jolokia and the database: every source the rules read, each polled every
    `poll` seconds. `alerting` replaces the default alerting section (Slack and short `for`s)."""
    urls = ", ".join(stack.jolokia_urls())
    cluster = f"""    jolokia:
      urls: [{urls}]
      poll_interval: {poll:.0f}s
      timeout: 3s
"""
    databases = f"""
databases:
  - name: devdb
    host: 127.0.0.1
    port: {stack.ports.mariadb}
    user: cdc_monitor
    password: ${{CDC_DEVSTACK_MONITOR_PASSWORD}}
    poll_interval: {poll:.0f}s
    connect_timeout: 2s
    read_timeout: 5s
{relay_connectors(stack)}"""
    tail = databases + (alerting_yaml() if alerting is None else alerting) + extra
    return stack_config_yaml(stack, poll_interval=f"{poll:.0f}s", extra_cluster=cluster, extra=tail)


@pytest.fixture
def capture(monkeypatch):
    """The local Slack/Sentry capture endpoint; the daemon's Slack webhook is its `alerts` path."""
    server = CaptureServer().start()
    monkeypatch.setenv("CDC_TEST_SLACK_WEBHOOK", server.webhook_url("alerts"))
    yield server
    server.stop()


@pytest.fixture
def daemon_factory(tmp_path: Path, monkeypatch):
    started: list[App] = []

    def start(config_text: str, state_file: bool = True) -> RunningDaemon:
        path = tmp_path / f"cdc-watch-{len(started)}.yaml"
        if state_file and "state_file:" not in config_text:
            config_text += f"\nstate_file: {tmp_path / 'state.json'}\n"
        path.write_text(config_text)
        app = App(path, "127.0.0.1:0", enable_lifecycle=True)
        app.start()
        started.append(app)
        return RunningDaemon(app)

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def stack_env(stack, monkeypatch):
    """Export the stack's generated passwords and URLs so configs can use ${ENV} references."""
    for key, value in stack.env().items():
        monkeypatch.setenv(key, value)
    return os.environ
