"""The daemon as an Alertmanager client, on the devstack's real Alertmanager 0.25 (two of them).

The real daemon watches the real Connect cluster and posts its alerts to two Alertmanagers (and
to Slack directly: channels combine). Each Alertmanager routes to a Slack receiver pointed at
the local capture endpoint (`/slack/webhook/am0`, `/slack/webhook/am1`). The test shows, with
`amtool` as a user would run it:

1. a FAILED task is in `amtool alert query -o json` of both with the shipped rule's labels,
   summary, runbook URL and the daemon's evidence;
2. a silence made with `amtool silence add` on the first keeps its Slack receiver quiet (a marker
   alert added after it is delivered, the silenced one is not) while the second, unsilenced,
   pages; expiring the silence lets the page through;
3. with the second Alertmanager stopped, the heal still resolves the alert in the first, and
   its Slack receiver gets the resolved message; the daemon counts the failures of the other.

Timings are short (for 2s, poll 2s, resend 2s, group_wait/group_interval 1s); every wait is on
a condition with a deadline.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from cdc_watch.rules import table as rules
from tests.e2e.conftest import alerting_yaml, stack_config_yaml
from tests.support.capture import CaptureServer

pytestmark = pytest.mark.stack

CLUSTER = "devstack"
PIECES = ("alertmanager", "alertmanager2")


def amtool(url: str, *args: str) -> str:
    done = subprocess.run(
        ["amtool", f"--alertmanager.url={url}", *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, f"amtool {' '.join(args)} failed: {done.stderr.strip()}"
    return done.stdout


def alerts(url: str, connector: str, *flags: str) -> list[dict[str, Any]]:
    """`amtool alert query -o json` for the connector's CdcTaskFailed (active ones unless `flags`)."""
    return json.loads(
        amtool(url, "alert", "query", "-o", "json", *flags, "alertname=CdcTaskFailed", f"connector={connector}")
    )


def am_messages(capture: CaptureServer, receiver: str) -> list[tuple[str, str, str]]:
    """(status, alertname, connector) of every Slack message one Alertmanager sent."""
    found = []
    for request in capture.received(f"/slack/webhook/{receiver}"):
        for attachment in request.json().get("attachments", []):
            status, alert, connector = [*attachment["title"].split("|"), "", ""][:3]
            found.append((status, alert, connector))
    return found


def alertmanager_yaml(capture: CaptureServer, receiver: str) -> str:
    return f"""
route:
  receiver: slack
  group_by: ['alertname', 'connector']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: slack
    slack_configs:
      - api_url: '{capture.webhook_url(receiver)}'
        channel: '#cdc-alerts'
        send_resolved: true
        title: '{{{{ .Status }}}}|{{{{ .CommonLabels.alertname }}}}|{{{{ .CommonLabels.connector }}}}'
        text: '{{{{ range .Alerts }}}}{{{{ .Annotations.description }}}} {{{{ end }}}}'
"""


@pytest.fixture
def alertmanagers(stack, capture):
    urls = [stack.start_alertmanager(alertmanager_yaml(capture, f"am{i}"), piece) for i, piece in enumerate(PIECES)]
    try:
        yield urls
    finally:
        for piece in PIECES:
            stack.stop_alertmanager(piece)


def test_daemon_pages_through_two_real_alertmanagers(
    stack, stack_env, connector, daemon_factory, capture, alertmanagers
):
    first, second = alertmanagers
    section = f"alerting:\n  alertmanager:\n    urls: [{first}, {second}]\n    resend_interval: 2s\n    timeout: 3s\n"
    config = stack_config_yaml(
        stack, poll_interval="2s", extra=alerting_yaml(for_="2s").replace("alerting:\n", section, 1)
    )
    daemon = daemon_factory(config)
    name = connector.name
    daemon.wait_for(
        lambda: daemon.value("cdc_task_state", connector=name, state="RUNNING") == 1, 60, "task RUNNING in /metrics"
    )
    silence = amtool(
        first,
        "silence",
        "add",
        "--comment=e2e",
        "--author=e2e",
        "--duration=1h",
        "alertname=CdcTaskFailed",
        f"connector={name}",
    ).strip()
    assert silence

    # 1. The FAILED task reaches both Alertmanagers with the shipped rule's labels and annotations.
    stack.faults.task_failed_non_retriable(connector)
    (held,) = daemon.wait_for(lambda: alerts(first, name, "--silenced"), 30, "the alert, silenced, in the first")
    (shown,) = daemon.wait_for(lambda: alerts(second, name), 30, "the alert in the second")
    rule = rules.BY_NAME["CdcTaskFailed"]
    for alert in (held, shown):
        assert alert["labels"] == {
            "alertname": "CdcTaskFailed",
            "severity": "critical",
            "connect_cluster": CLUSTER,
            "connector": name,
            "task": "0",
        }
        notes = alert["annotations"]
        assert notes["summary"] == rule.summary
        assert notes["runbook_url"] == daemon.app.config.alerting.runbook_url + "#cdctaskfailed"
        assert name in notes["description"] and "Access denied" in notes["why"] and notes["hint"]
    assert held["status"]["state"] == "suppressed" and held["status"]["silencedBy"] == [silence]
    assert shown["status"]["state"] == "active"

    # 2. The unsilenced Alertmanager pages; the silenced one does not, though it delivers a marker
    #    alert that arrived after the silenced one; the daemon's direct Slack pages as well.
    daemon.wait_for(lambda: ("firing", "CdcTaskFailed", name) in am_messages(capture, "am1"), 30, "the second's page")
    daemon.wait_for(lambda: capture.received("/slack/webhook/alerts"), 30, "the daemon's own Slack message")
    amtool(first, "alert", "add", "alertname=CdcE2eMarker", "connector=marker")
    daemon.wait_for(lambda: ("firing", "CdcE2eMarker", "marker") in am_messages(capture, "am0"), 30, "the marker page")
    assert [m for m in am_messages(capture, "am0") if m[1] == "CdcTaskFailed"] == []
    amtool(first, "silence", "expire", silence)
    daemon.wait_for(
        lambda: ("firing", "CdcTaskFailed", name) in am_messages(capture, "am0"), 30, "the page once unsilenced"
    )

    # 3. One Alertmanager stopped: the heal still resolves the alert in the other.
    stack.stop_alertmanager("alertmanager2")
    stack.faults.restore_debezium_password()
    assert stack.rest("POST", f"/connectors/{name}/tasks/0/restart").status_code in (200, 202, 204)
    stack.wait_task_state(name, "RUNNING", 90)
    daemon.wait_for(lambda: ("resolved", "CdcTaskFailed", name) in am_messages(capture, "am0"), 30, "the resolve")
    assert alerts(first, name) == []
    daemon.wait_for(
        lambda: (daemon.value("cdc_notification_alertmanager_errors_total", alertmanager="1") or 0) > 0,
        30,
        "failures counted for the stopped Alertmanager",
    )
    assert (daemon.value("cdc_notification_alertmanager_alerts_sent_total", alertmanager="0") or 0) >= 2
    for key, value in stack.env().items():  # no database password went out through Alertmanager
        if "PASSWORD" in key:
            assert not any(value in r.body.decode() for r in capture.requests)
