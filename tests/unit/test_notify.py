"""Slack and Sentry through their real SDKs to a local capturing endpoint; delivery, grouping,
repeat, silences, retry and persistence, all with a fake clock (no sleeps)."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
import sentry_sdk

from cdc_watch.clock import FakeClock
from cdc_watch.config import AlertingConfig
from cdc_watch.notify.delivery import Delivery
from cdc_watch.notify.sentry import SentryAlerts, SentryChannel, close_sentry, init_sentry
from cdc_watch.notify.service import AlertService
from cdc_watch.notify.slack import SlackChannel
from cdc_watch.statefile import StateFile
from tests.scenarios.alerts import Step
from tests.support.capture import CaptureServer
from tests.support.snapshots import snapshot_for

PASSWORD = "s3cr3t-Db-Passw0rd"
SOURCES = (("connect:prod", "connect"),)


def failed(*tasks: int, connector: str = "orders") -> Step:
    return Step(0, {"prod": {connector: ("RUNNING", {t: "FAILED@w1:8083" for t in tasks} | {9: "RUNNING@w1:8083"})}})


def healthy() -> Step:
    return Step(0, {"prod": {"orders": ("RUNNING", {0: "RUNNING@w1:8083", 1: "RUNNING@w1:8083", 9: "RUNNING@w1:8083"})}})


@pytest.fixture
def capture():
    server = CaptureServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack_env(monkeypatch, capture):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", capture.webhook_url("default"))
    monkeypatch.setenv("SLACK_CRITICAL_URL", capture.webhook_url("critical"))
    monkeypatch.setenv("SLACK_TOKEN", "xoxb-test-token-123")
    monkeypatch.setenv("SENTRY_DSN", capture.sentry_dsn())
    return capture


class Harness:
    def __init__(self, alerting: dict, state_path: Path | None = None, clock: FakeClock | None = None):
        self.clock = clock or FakeClock()
        self.waits: list[float] = []
        self.config = AlertingConfig.model_validate(alerting)
        channels = {}
        self.slack = SlackChannel(self.config.slack) if self.config.slack else None
        if self.slack:
            channels["slack"] = self.slack
        if self.config.sentry:
            channels["sentry"] = SentryChannel(self.config.sentry)
        self.delivery = Delivery(channels, self.clock, self.config.max_messages_per_minute, self.config.max_retries, wait=self._wait)
        sentry = None
        if self.config.sentry:
            init_sentry(self.config.sentry, self.delivery.submit, {PASSWORD})
            sentry = SentryAlerts(self.config.sentry)
        self.service = AlertService(lambda: self.config, StateFile(state_path), self.clock, self.delivery, self.slack, sentry)

    def _wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        return False

    def step(self, step: Step, advance: float = 0.0) -> None:
        self.clock.advance(advance)
        self.service.evaluate(snapshot_for(step, SOURCES, self.clock.now()))
        self.delivery.run_pending()


WEBHOOK = {"slack": {"webhook_url": "${SLACK_WEBHOOK_URL}", "severity_webhook_urls": {"critical": "${SLACK_CRITICAL_URL}"}}, "dashboard_url": "https://grafana.example/d/cdc?var-connector={connector}", "rules": {"keep_firing_for": "0s"}}


def _blocks_text(request) -> str:
    return json.dumps(request.json())


def test_webhook_firing_then_resolved_message_with_evidence(slack_env):
    h = Harness(WEBHOOK)
    h.step(failed(0))
    assert slack_env.received("/slack/") == []  # `for` (1m) not elapsed
    h.step(failed(0), advance=59)
    assert slack_env.received("/slack/") == []
    h.step(failed(0), advance=1)
    (firing,) = slack_env.received("/slack/webhook/critical")  # routed by severity
    body = firing.json()
    text = _blocks_text(firing)
    assert body["text"].startswith(":red_circle: FIRING: CdcTaskFailed on orders")
    assert body["blocks"][0]["type"] == "header"
    for expected in ("*Severity:*\\ncritical", "*Connect cluster:*\\nprod", "*Connector:*\\norders", "Communications link failure", "Caused by: java.net.ConnectException: Connection refused", "docs/runbook.md#cdctaskfailed|Runbook", "var-connector=orders|Dashboard", "task state: `FAILED`", "*What to do:*"):
        assert expected in text, expected
    h.step(healthy(), advance=15)
    resolved = slack_env.received("/slack/webhook/critical")[1].json()
    assert resolved["text"].startswith(":white_check_mark: RESOLVED: CdcTaskFailed on orders")
    assert len(slack_env.received("/slack/")) == 2
    assert h.delivery.sent["slack"] == 2 and h.delivery.errors["slack"] == 0


def test_alerts_of_one_connector_are_grouped_and_repeated_at_the_interval(slack_env):
    h = Harness({**WEBHOOK, "repeat_interval": "1h"})
    h.step(failed(0, 1))
    h.step(failed(0, 1), advance=60)
    (message,) = slack_env.received("/slack/")
    text = _blocks_text(message)
    assert text.count("*CdcTaskFailed* (critical)") == 2  # both tasks, one message
    h.step(failed(0, 1), advance=3599)
    assert len(slack_env.received("/slack/")) == 1
    h.step(failed(0, 1), advance=1)
    assert len(slack_env.received("/slack/")) == 2
    assert slack_env.received("/slack/")[1].json()["text"].startswith(":red_circle: STILL FIRING: CdcTaskFailed on orders")


def test_silence_suppresses_and_expiry_announces(slack_env):
    h = Harness(WEBHOOK)
    h.service.add_silence({"connector": "orders"}, 600)
    h.step(failed(0))
    h.step(failed(0), advance=60)
    assert slack_env.received("/slack/") == []
    assert h.service.alerts.firing()  # still evaluated and exported
    h.step(failed(0), advance=600)
    assert len(slack_env.received("/slack/")) == 1


def test_config_silence_matches_alert_name(slack_env):
    h = Harness({**WEBHOOK, "silences": [{"alert": "CdcTaskFailed", "comment": "known"}]})
    h.step(failed(0))
    h.step(failed(0), advance=60)
    assert slack_env.received("/slack/") == []


def test_429_is_retried_after_retry_after_and_5xx_with_backoff(slack_env):
    h = Harness(WEBHOOK)
    slack_env.fail_next(1, 429, "7")
    slack_env.fail_next(2, 503)
    h.step(failed(0))
    h.step(failed(0), advance=60)
    assert [r.status for r in slack_env.requests] == [429, 503, 503, 200]
    assert h.waits == [7.0, 2.0, 4.0]  # Retry-After honoured, then exponential backoff
    assert h.delivery.sent["slack"] == 1 and h.delivery.errors["slack"] == 3


def test_gives_up_after_max_retries_and_counts_errors(slack_env):
    h = Harness({**WEBHOOK, "max_retries": 2})
    slack_env.fail_next(5, 500)
    h.step(failed(0))
    h.step(failed(0), advance=60)
    assert len(slack_env.requests) == 3 and h.delivery.sent["slack"] == 0 and h.delivery.errors["slack"] == 3


def test_rate_limit_delays_rather_than_drops(slack_env):
    h = Harness({**WEBHOOK, "max_messages_per_minute": 2})
    step = Step(0, {"prod": {f"c{i}": ("RUNNING", {0: "FAILED@w1:8083"}) for i in range(3)}})
    h.step(step)
    h.step(step, advance=60)
    assert len(slack_env.received("/slack/")) == 3
    assert len(h.waits) == 1 and 59.0 < h.waits[0] <= 60.0


def test_bot_token_routes_by_severity_and_authenticates(slack_env):
    h = Harness({"slack": {"token": "${SLACK_TOKEN}", "channel": "#cdc", "severity_channels": {"critical": "#cdc-oncall"}, "api_url": slack_env.url + "/api/"}})
    h.step(failed(0))
    h.step(failed(0), advance=60)
    (request,) = slack_env.received("/api/chat.postMessage")
    assert request.headers["authorization"] == "Bearer xoxb-test-token-123"
    assert request.json()["channel"] == "#cdc-oncall"


def test_restart_neither_repages_nor_forgets_the_resolve(slack_env, tmp_path):
    state = tmp_path / "state.json"
    first = Harness(WEBHOOK, state)
    first.step(failed(0))
    first.step(failed(0), advance=60)
    assert len(slack_env.received("/slack/")) == 1
    second = Harness(WEBHOOK, state, clock=first.clock)  # a new daemon on the same state file
    second.step(failed(0), advance=15)
    assert len(slack_env.received("/slack/")) == 1  # not paged again
    second.step(healthy(), advance=15)
    assert len(slack_env.received("/slack/")) == 2
    assert "RESOLVED" in slack_env.received("/slack/")[1].json()["text"]


def test_undelivered_messages_survive_a_restart(slack_env, tmp_path):
    state = tmp_path / "state.json"
    first = Harness(WEBHOOK, state)
    first.step(failed(0))
    first.clock.advance(60)
    first.service.evaluate(snapshot_for(failed(0), SOURCES, first.clock.now()))  # queued, not sent
    first.service.stop(0.0)
    assert slack_env.received("/slack/") == []
    second = Harness(WEBHOOK, state, clock=first.clock)
    second.service.start()
    try:
        assert len(slack_env.wait_for("/slack/", 1, timeout=10)) == 1
    finally:
        second.service.stop(1.0)


@pytest.fixture
def sentry_cleanup():
    yield
    close_sentry()
    sentry_sdk.init()


def test_sentry_event_per_firing_alert_with_fingerprint_level_tags_and_trace(slack_env, sentry_cleanup):
    h = Harness({"sentry": {"dsn": "${SENTRY_DSN}", "environment": "test"}})
    h.step(failed(0))
    h.step(failed(0), advance=60)
    (request,) = slack_env.received("/api/42/envelope/")
    assert request.headers["x-sentry-auth"].startswith("Sentry sentry_key=publickey")
    (event,) = request.sentry_events()
    assert event["fingerprint"] == ["CdcTaskFailed", "prod", "orders"]
    assert event["level"] == "fatal"
    assert event["tags"]["alert"] == "CdcTaskFailed" and event["tags"]["connector"] == "orders" and event["tags"]["connect_cluster"] == "prod"
    assert event["tags"]["failure_kind"] == "connection_refused"
    assert "Caused by: java.net.ConnectException" in event["contexts"]["trace"]["excerpt"]
    assert event["contexts"]["alert"]["runbook_url"].endswith("#cdctaskfailed")
    assert event["environment"] == "test"


def test_no_password_reaches_a_sentry_or_slack_payload(slack_env, sentry_cleanup):
    h = Harness({**WEBHOOK, "sentry": {"dsn": "${SENTRY_DSN}"}})
    trace = f"org.apache.kafka.connect.errors.ConnectException: Access denied; url=jdbc:mysql://cdc:{PASSWORD}@db:3306 password={PASSWORD}\nCaused by: java.sql.SQLException: Access denied for user 'cdc' (using password: YES) {PASSWORD}\n"
    import tests.support.snapshots as snaps

    original = snaps.TRACE
    snaps.TRACE = trace
    try:
        h.service.evaluate(snaps.snapshot_for(failed(0), SOURCES, h.clock.now()))
        h.clock.advance(60)
        h.service.evaluate(snaps.snapshot_for(failed(0), SOURCES, h.clock.now()))
    finally:
        snaps.TRACE = original
    # the daemon's own warnings go to Sentry too, through the logging integration
    logging.getLogger("cdc_watch.sources.connect").warning("poll failed", extra={"error": f"password={PASSWORD}", "database_password": PASSWORD})
    h.delivery.run_pending()
    bodies = [r.body for r in slack_env.requests]
    assert len(slack_env.received("/slack/")) == 1 and len(slack_env.received("/api/42/envelope/")) == 2
    events = [e for r in slack_env.received("/api/42/envelope/") for e in r.sentry_events()]
    assert any(e.get("logger") == "cdc_watch.sources.connect" for e in events)
    for body in bodies:
        assert PASSWORD.encode() not in body
        assert base64.b64encode(PASSWORD.encode()) not in body
