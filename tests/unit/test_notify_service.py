"""The alerting service around the rules: state file shapes, evaluation order, remediation
notices to Slack (real slack-sdk, capturing endpoint)."""

from __future__ import annotations

import json
import logging
import time
from types import MappingProxyType

import httpx
import pytest

from cdc_watch.config import AlertingConfig, RulesConfig
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.model import PollResult
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.core.statefile import StateFile
from cdc_watch.notify.delivery import Delivery
from cdc_watch.notify.service import AlertService
from cdc_watch.remediation.runner import RemediationNotice, RemediationRunner
from cdc_watch.sources.connect.model import ConnectClusterState
from generate.snapshots import cluster_state, snapshot_for
from tests.unit.test_notify import WEBHOOK, Harness, failed

NOW_FOR_0 = {"overrides": {"CdcTaskFailed": {"for": "0s"}}, "keep_firing_for": "0s"}
SOURCES = (("connect:prod", "connect"),)


def _service(path, clock=None, snapshot=None) -> AlertService:
    config = AlertingConfig(rules=RulesConfig.model_validate(NOW_FOR_0))
    clock = clock or FakeClock()
    return AlertService(lambda: config, StateFile(path), clock, Delivery({}, clock), snapshot=snapshot)


# ------------------------------------------------------------------ state file shapes
@pytest.mark.parametrize(
    "section",
    [
        "not an object",
        {"outbox": 5},
        {"state": "x"},
        {"state": {"entries": 5, "memory": []}},
        {"state": {"entries": [{"key": 5}, "x"]}},
        {"notify": {"a": 1}, "silences": 7},
        {
            "state": {
                "memory": {
                    "CdcWorkerLost": {"prod": {"no-pipes": 1.0}},
                    "CdcFailoverDetected": {"db": ["x", None]},
                    "CdcNotStreaming": 3,
                }
            }
        },
        {"outbox": [5, {"channel": "slack", "payload": {"kind": "nope"}}, {"channel": "pager", "payload": "x"}]},
        {"outbox_seq": "12"},
    ],
    ids=[
        "string",
        "outbox-int",
        "state-string",
        "entries-int",
        "bad-entries",
        "notify-silences",
        "memory",
        "outbox-items",
        "outbox-seq",
    ],
)
def test_wrong_shaped_alert_state_starts_clean_with_a_warning(tmp_path, caplog, section):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "sections": {"alerts": section}}))
    with caplog.at_level(logging.WARNING, logger="cdc_watch.notify.service"):
        service = _service(path)
    assert any(r.getMessage() == "alert state partly unreadable; those parts start clean" for r in caplog.records)
    service.evaluate(snapshot_for(failed(0), SOURCES, 100.0))  # evaluations work
    assert [e.key.alert for e in service.alerts.firing()] == ["CdcTaskFailed"]
    assert json.loads(path.read_text())["sections"]["alerts"]["state"]["entries"]  # and are saved


def test_a_good_state_loads_without_a_warning(tmp_path, caplog):
    path = tmp_path / "state.json"
    first = _service(path)
    first.evaluate(snapshot_for(failed(0), SOURCES, 100.0))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        second = _service(path)
    assert caplog.records == [] and second.alerts == first.alerts


# ------------------------------------------------------------------ evaluation order
def test_an_older_snapshot_is_never_judged_after_a_newer_one(tmp_path):
    """Poller A records prod, poller B records dr (FAILED); B's hook runs first, then A's with
    the older snapshot. Judging that one would resolve dr falsely, then fire it again."""
    clock = FakeClock()
    store = SnapshotStore()
    store.register([("connect:prod", "connect"), ("connect:dr", "connect")])
    ok = {"orders": ("RUNNING", {0: "RUNNING@w1:8083"})}
    bad = {"orders": ("RUNNING", {0: "FAILED@w1:8083"})}
    service = _service(None, clock, snapshot=store.current)
    for cluster in ("prod", "dr"):
        first = PollResult(f"connect:{cluster}", "connect", clock.now(), 0.1, cluster_state(cluster, ok))
        service.on_result(first, store.record(first))
    clock.advance(10)
    result_a = PollResult("connect:prod", "connect", clock.now(), 0.1, cluster_state("prod", ok))
    snapshot_a = store.record(result_a)  # still holds dr's healthy poll
    result_b = PollResult("connect:dr", "connect", clock.now(), 0.1, cluster_state("dr", bad))
    snapshot_b = store.record(result_b)
    assert service.alerts.firing() == []
    service.on_result(result_b, snapshot_b)
    service.on_result(result_a, snapshot_a)  # late, with the older snapshot
    assert [(e.key.alert, e.key.label("connect_cluster")) for e in service.alerts.firing()] == [("CdcTaskFailed", "dr")]
    assert [len(n.notified) for n in service.notify.groups.values()] == [1]  # announced once, never resolved


# ------------------------------------------------------------------ remediation notices
def _notice(outcome: str = "restarted", connector: str = "orders", clock: FakeClock | None = None) -> RemediationNotice:
    at = (clock or FakeClock()).now() + 720
    return RemediationNotice("prod", connector, outcome, (0,), 3, at, "connection_refused", False)


def test_a_remediation_notice_is_a_short_slack_message(slack_env):
    h = Harness(WEBHOOK)
    h.service.notify_remediation(_notice(clock=h.clock))
    assert slack_env.received("/slack/") == []  # queued, never sent from the caller's thread
    h.delivery.run_pending()
    (message,) = slack_env.received("/slack/webhook/default")  # info: the default webhook
    next_allowed = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(h.clock.now() + 720))
    assert (
        message.json()["text"]
        == f":wrench: Restarted task 0 of orders on prod (connection_refused), attempt 3, next allowed at {next_allowed}."
    )
    h.service.notify_remediation(_notice("gave_up", clock=h.clock))
    h.delivery.run_pending()
    assert "Gave up restarting task 0 of orders on prod" in slack_env.received("/slack/")[-1].json()["text"]


def test_remediation_notices_follow_silences_and_min_severity(slack_env):
    h = Harness(WEBHOOK)
    h.service.add_silence({"alert": "CdcTaskFailed", "connector": "orders"}, 600)
    h.service.notify_remediation(_notice(clock=h.clock))
    h.service.notify_remediation(_notice("gave_up", clock=h.clock))
    h.service.notify_remediation(_notice(connector="billing", clock=h.clock))
    h.delivery.run_pending()
    assert [r.json()["text"].split(" of ")[1].split(" ")[0] for r in slack_env.received("/slack/")] == ["billing"]
    quiet = Harness({**WEBHOOK, "slack": {**WEBHOOK["slack"], "min_severity": "warning"}})
    quiet.service.notify_remediation(_notice("restarted", "inv", clock=quiet.clock))  # info: below warning
    quiet.service.notify_remediation(_notice("gave_up", "inv", clock=quiet.clock))  # a human must act
    quiet.delivery.run_pending()
    assert [r.json()["text"][:20] for r in slack_env.received("/slack/")[1:]] == [":wrench: Gave up res"]


def test_a_restart_by_the_runner_reaches_slack_from_its_worker(slack_env, tmp_path):
    from cdc_watch.config import parse_config
    from tests.unit.test_remediation_runner import KIP745, RESTARTING, FakeConnect
    from tests.unit.test_remediation_runner import failed as failed_connector

    h = Harness(WEBHOOK)
    fake = FakeConnect()
    fake.expect("POST", "/connectors/inv/restart", KIP745, 202, RESTARTING["body"])
    config = parse_config(
        {"connect_clusters": [{"name": "prod", "urls": ["http://w1:8083"]}], "remediation": {"enabled": True}}
    )
    transport = httpx.MockTransport(fake.handler)
    runner = RemediationRunner(
        config, StateFile(None), h.clock, h.service.notify_remediation, transport_for=lambda _n: transport
    )
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    data = ConnectClusterState(
        "prod", "http://w1:8083", "3.9.0", "", "kc", MappingProxyType({"inv": failed_connector()})
    )
    result = PollResult("connect:prod", "connect", h.clock.now(), 0.01, data)
    try:
        runner.on_result(result, store.record(result))
        assert runner.wait_idle(10)
    finally:
        runner.close()
    h.delivery.run_pending()
    (message,) = slack_env.received("/slack/")
    assert message.json()["text"].startswith(
        ":wrench: Restarted task 0 of inv on prod (connection_refused), attempt 1, next allowed at "
    )
