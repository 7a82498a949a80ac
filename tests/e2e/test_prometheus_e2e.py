"""The shipped dashboards and Prometheus rules, proven against a real Prometheus and Alertmanager.

The real daemon watches the real devstack (Connect REST, Jolokia, MariaDB); the Debian
Prometheus scrapes it and evaluates the rule file generated from the daemon's own config (so
its thresholds and `for` durations are the daemon's); Alertmanager routes the alerts to a
Slack receiver pointed at the local capturing endpoint. The test shows:

1. on a healthy stack, every dashboard panel query returns data and no alert fires;
2. each fault-only panel returns data during the fault that feeds it;
3. a FAILED task and a purged binlog fire CdcTaskFailed and CdcBinlogPositionLost in
   Prometheus, which reach the capture endpoint through Alertmanager;
4. after recovery (database back and the task restarted; the purged connector reconfigured
   with `snapshot.mode=when_needed`, so it snapshots again) both alerts resolve, and
   Alertmanager sends the resolved messages.

That every metric named in a dashboard or rule is in the catalogue is checked without a server
by tests/unit/test_dashboards.py and tests/unit/test_alert_rules.py.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from generate import alert_rules
from generate.grafana import render
from generate.panels import ALL as DASHBOARDS
from tests.e2e.conftest import alerting_yaml, full_config, purged_task_state
from tests.support.capture import CaptureServer

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
RULE_FOR = "4s"
CLUSTER = "devstack"
JOB = "cdc-watch"
# Which fault each fault-only panel needs; a panel missing here fails the test.
FAULT_PANELS = {
    "Last record error": "records_fail_transform",
    "Purge ETA per connector": "retention_on",
    "Checks the monitoring user may not run": "monitor_grant_revoked",
    "Alerts firing": "binlog_purged",
    "Rebalance time (avg, max)": "binlog_purged",
    "Restarts held back (1h)": "task_failed",  # dry run: the retry waits out its backoff
    "Tasks not RUNNING": "task_failed",
    "Poll errors per second": "task_failed",
    "Automatic restarts (1h)": "task_failed",
    "Restarts in the current failure streak": "task_failed",
    "Next automatic restart allowed in": "task_failed",
}


def panel_queries(fault_only: bool) -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) as rendered, with the job variable set to the scrape job
    and every other variable to "All" (".*", which the devstack's missing namespace label matches)."""
    found = []
    for dashboard in DASHBOARDS:
        rendered = {p["title"]: p for p in render(dashboard)["panels"]}
        for panel in dashboard.panels:
            if panel.fault_only != fault_only:
                continue
            for target in rendered[panel.title]["targets"]:
                expr = re.sub(r"\$(namespace|connect_cluster|connector|database)\b", ".*", target["expr"])
                found.append((dashboard.uid, panel.title, expr.replace("$job", JOB)))
    return found


class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def query(self, expr: str) -> list[dict]:
        reply = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10).json()
        assert reply["status"] == "success", (expr, reply)
        return reply["data"]["result"]

    def firing(self) -> list[dict[str, str]]:
        """Labels of every firing alert (the ALERTS series)."""
        return [r["metric"] for r in self.query('ALERTS{alertstate="firing"}')]

    def alert_firing(self, alert: str, **labels: str) -> bool:
        return any(a["alertname"] == alert and all(a.get(k) == v for k, v in labels.items()) for a in self.firing())


def wait_panels(prom: Prometheus, fault_only: bool, titles: set[str] | None, what: str, timeout: float = 60) -> None:
    """Until every selected panel query has returned data at least once since the call.

    Each query is judged on its own: windowed figures (Kafka's rebalance times, `increase`
    over a window) need not all show data at the same instant. Fails listing the ones that
    never did.
    """
    deadline = time.monotonic() + timeout
    pending = {
        (uid, title, expr) for uid, title, expr in panel_queries(fault_only) if titles is None or title in titles
    }
    assert pending, f"{what}: no panel selected"
    while True:
        pending = {entry for entry in pending if not prom.query(entry[2])}
        if not pending:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what}: panels without data after {timeout:.0f}s:\n"
                + "\n".join(f"{uid} / {title}: {expr}" for uid, title, expr in sorted(pending))
            )
        time.sleep(2)


def alertmanager_messages(capture: CaptureServer) -> list[tuple[str, str, str]]:
    """(status, alertname, connector) of every Slack message Alertmanager sent."""
    messages = []
    for request in capture.received("/slack/webhook/alertmanager"):
        for attachment in request.json().get("attachments", []):
            status, alert, connector = ([*attachment["title"].split("|"), "", ""])[:3]
            messages.append((status, alert, connector))
    return messages


def alertmanager_yaml(capture: CaptureServer) -> str:
    return f"""
route:
  receiver: slack
  group_by: ['alertname', 'connector']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: slack
    slack_configs:
      - api_url: '{capture.webhook_url("alertmanager")}'
        channel: '#cdc-alerts'
        send_resolved: true
        title: '{{{{ .Status }}}}|{{{{ .CommonLabels.alertname }}}}|{{{{ .CommonLabels.connector }}}}'
        text: '{{{{ range .Alerts }}}}{{{{ .Annotations.description }}}} {{{{ end }}}}'
"""


@pytest.fixture
def purged_connector(stack):
    """A second fresh connector, for the purge fault (the `connector` fixture takes the others)."""
    handle = stack.create_connector()
    try:
        yield handle
    finally:
        stack.faults.heal_all()
        stack.delete_connector(handle.name)


def test_dashboards_and_rules_on_a_real_prometheus(
    stack, stack_env, connector, purged_connector, daemon_factory, capture, tmp_path
):
    remediation = f"""
remediation:
  enabled: true
  dry_run: true
  restart_not_streaming: true
  not_streaming_for: {RULE_FOR}
"""
    daemon = daemon_factory(full_config(stack, alerting=alerting_yaml(for_=RULE_FOR), extra=remediation))
    rules = alert_rules.render(daemon.app.config.alerting.rules, daemon.app.config.alerting.runbook_url, job=JOB)
    rule_file = tmp_path / "cdc-watch.rules.yml"
    rule_file.write_text(rules)
    prom = Prometheus(stack.prometheus_url)
    a = {"connect_cluster": CLUSTER, "connector": connector.name}
    b = {"connect_cluster": CLUSTER, "connector": purged_connector.name}
    daemon.wait_for(
        lambda: daemon.value("cdc_connector_binlog_available", **b) == 1, 60, "the binlog join in the daemon"
    )
    try:
        stack.start_prometheus(
            [f"127.0.0.1:{daemon.app.web.port}"],
            rule_files=[rule_file],
            alertmanager_config=alertmanager_yaml(capture),
            job_name=JOB,
            scrape_interval="2s",
            evaluation_interval="2s",
        )
        run_scenario(stack, daemon, prom, capture, connector, purged_connector, a, b)
    finally:
        stack.stop_prometheus()


def run_scenario(stack, daemon, prom, capture, connector, purged, a, b) -> None:
    faults = stack.faults
    assert set(FAULT_PANELS) == {title for _uid, title, _expr in panel_queries(True)}, "FAULT_PANELS is out of date"

    # 1. Healthy, with a little write load (an idle connector has no lag to show): every panel
    #    has data (rate windows need a few scrapes), nothing fires.
    load = faults.write_load(rows_per_second=5)
    daemon.wait_for(
        lambda: prom.query(f'count_over_time(up{{job="{JOB}"}}[1m]) >= 8'), 60, "eight scrapes of cdc_watch"
    )
    daemon.wait_for(lambda: prom.query("cdc_connector_binlog_available == 1"), 30, "the binlog join in Prometheus")
    wait_panels(prom, fault_only=False, titles=None, what="every panel on a healthy stack")
    assert prom.firing() == [], prom.firing()
    assert alertmanager_messages(capture) == []
    load.stop()
    assert load.rows > 0 and load.errors == 0

    def panels_have_data(fault: str) -> None:
        titles = {title for title, needs in FAULT_PANELS.items() if needs == fault}
        wait_panels(prom, fault_only=True, titles=titles, what=f"the panels fed by {fault}")

    # 2. Faults that only feed panels.
    faults.set_binlog_retention(86400)
    panels_have_data("retention_on")
    faults.revoke_grant("SELECT", user=stack.mariadb.monitor_user)
    panels_have_data("monitor_grant_revoked")
    faults.restore_grants()

    # 3. The binlog purged under a connector that Connect keeps reporting RUNNING.
    faults.purge_binlog_past(purged)
    daemon.wait_for(
        lambda: prom.alert_firing("CdcBinlogPositionLost", severity="critical", database="devdb", **b),
        90,
        "CdcBinlogPositionLost firing in Prometheus",
    )
    assert stack.connector_status(purged.name)["tasks"][0]["state"] == purged_task_state(stack)
    daemon.wait_for(
        lambda: ("firing", "CdcBinlogPositionLost", purged.name) in alertmanager_messages(capture),
        30,
        "Alertmanager's Slack message for CdcBinlogPositionLost",
    )
    panels_have_data("binlog_purged")

    # 4. Records failing a transform, skipped (errors.tolerance=all): after the purge, since
    #    skipped records do not move the connector's offset and the purge would catch it.
    faults.records_fail_transform(connector)
    panels_have_data("records_fail_transform")

    # 5. A task FAILED (database down when it restarted: a retriable failure).
    faults.task_failed_retriable(connector)
    daemon.wait_for(
        lambda: prom.alert_firing("CdcTaskFailed", severity="critical", task="0", **a),
        60,
        "CdcTaskFailed firing in Prometheus",
    )
    daemon.wait_for(
        lambda: ("firing", "CdcTaskFailed", connector.name) in alertmanager_messages(capture),
        30,
        "Alertmanager's Slack message for CdcTaskFailed",
    )
    panels_have_data("task_failed")

    # 6. Recovery: database back, task restarted; the purged connector snapshots again.
    faults.heal_all()
    stack.wait_streaming(connector, 120)
    # What Debezium's own log advises and docs/runbook.md says: snapshot again when needed.
    config = stack.rest("GET", f"/connectors/{purged.name}/config").json()
    config["snapshot.mode"] = "when_needed"
    assert stack.rest("PUT", f"/connectors/{purged.name}/config", json=config).status_code == 200
    stack.wait_streaming(purged, 120)
    daemon.wait_for(
        lambda: not prom.alert_firing("CdcTaskFailed", **a) and not prom.alert_firing("CdcBinlogPositionLost", **b),
        90,
        "both alerts to resolve in Prometheus",
    )
    for alert, name in (("CdcTaskFailed", connector.name), ("CdcBinlogPositionLost", purged.name)):
        daemon.wait_for(
            lambda alert=alert, name=name: ("resolved", alert, name) in alertmanager_messages(capture),
            30,
            f"Alertmanager's resolved message for {alert}",
        )
    # Nothing of the database passwords went out through Prometheus and Alertmanager.
    bodies = b"".join(r.body for r in capture.requests)
    for key, value in stack.env().items():
        if "PASSWORD" in key:
            assert value.encode() not in bodies
