"""Slack and Sentry through their real SDKs to a local capturing endpoint; delivery, grouping,
repeat, silences, retry and persistence, all with a fake clock (no sleeps)."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

from cdc_watch.config import parse_config
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.statefile import StateFile
from cdc_watch.exporter.exposition import MetricsWriter
from cdc_watch.notify.channel import Outcome
from cdc_watch.notify.delivery import Delivery, Outbox
from cdc_watch.notify.wiring import build_alerting
from generate.scenarios import Step
from generate.snapshots import snapshot_for
from tests.support.notify_fixtures import PASSWORD

SOURCES = (("connect:prod", "connect"),)
ENVELOPES = "/api/42/envelope/"


def failed(*tasks: int, connector: str = "orders") -> Step:
    return Step(0, {"prod": {connector: ("RUNNING", {t: "FAILED@w1:8083" for t in tasks} | {9: "RUNNING@w1:8083"})}})


def healthy() -> Step:
    return Step(
        0, {"prod": {"orders": ("RUNNING", {0: "RUNNING@w1:8083", 1: "RUNNING@w1:8083", 9: "RUNNING@w1:8083"})}}
    )


class Harness:
    """The daemon's real alerting wiring (build_alerting) on a fake clock; `step` evaluates and
    delivers in this thread, waits advance the clock."""

    def __init__(self, alerting: dict, state_path: Path | None = None, clock: FakeClock | None = None):
        self.clock = clock or FakeClock()
        self.waits: list[float] = []
        self.full = parse_config(
            {
                "connect_clusters": [{"name": "prod", "url": "http://w1:8083"}],
                "databases": [
                    {"name": "devdb", "host": "127.0.0.1", "user": "cdc", "password": "${CDC_TEST_DB_PASSWORD}"}
                ],
                "alerting": alerting,
            }
        )
        self.config = self.full.alerting
        self.service = build_alerting(
            self.full, lambda: self.config, StateFile(state_path), self.clock, wait=self._wait
        )
        self.delivery = self.service.delivery

    def _wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        return False

    def evaluate(self, step: Step, advance: float = 0.0, trace: str | None = None) -> None:
        self.clock.advance(advance)
        self.service.evaluate(snapshot_for(step, SOURCES, self.clock.now(), trace))

    def step(self, step: Step, advance: float = 0.0, trace: str | None = None) -> None:
        self.evaluate(step, advance, trace)
        self.delivery.run_pending()

    @property
    def sentry(self):
        """The Sentry channel's alert side (SentryAlerts), found through the channel registry."""
        return next(c for c in self.service.channels if c.name == "sentry").alerts

    def every_log_event_to_sentry(self) -> None:
        """No window for the Sentry log-event limiter: for tests of the queue, not of the limiter."""
        self.sentry.transport.limiter.window = 0.0

    def metrics(self) -> str:
        out = MetricsWriter()
        self.service.contribute(None, out)
        return out.render().decode()


WEBHOOK = {
    "slack": {"webhook_url": "${SLACK_WEBHOOK_URL}", "severity_webhook_urls": {"critical": "${SLACK_CRITICAL_URL}"}},
    "dashboard_url": "https://grafana.example/d/cdc?var-connector={connector}",
    "rules": {"keep_firing_for": "0s"},
}
WITH_SENTRY = {**WEBHOOK, "sentry": {"dsn": "${SENTRY_DSN}"}}


def saved_outbox(state: Path) -> list[dict]:
    """What a restart on `state` would re-send: the live items of its outbox journal."""
    seq = json.loads(state.read_text())["sections"]["alerts"]["outbox_seq"]
    return Outbox(StateFile(state).journal("outbox"), keep_upto=seq).items()


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
    for expected in (
        "*Severity:*\\ncritical",
        "*Connect cluster:*\\nprod",
        "*Connector:*\\norders",
        "Communications link failure",
        "Caused by: java.net.ConnectException: Connection refused",
        "docs/runbook.md#cdctaskfailed|Runbook",
        "var-connector=orders|Dashboard",
        "task state: `FAILED`",
        "*What to do:*",
    ):
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
    assert (
        slack_env.received("/slack/")[1].json()["text"].startswith(":red_circle: STILL FIRING: CdcTaskFailed on orders")
    )


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


def test_bot_token_429_is_retried_after_retry_after_and_counted(slack_env):
    h = Harness({"slack": {"token": "${SLACK_TOKEN}", "channel": "#cdc", "api_url": slack_env.url + "/api/"}})
    slack_env.fail_next(1, 429, "30", path="/api/chat.postMessage")
    h.step(failed(0))
    h.step(failed(0), advance=60)
    assert [(r.path, r.status) for r in slack_env.requests] == [
        ("/api/chat.postMessage", 429),
        ("/api/chat.postMessage", 200),
    ]
    assert h.waits == [30.0]
    metrics = h.metrics()
    assert 'cdc_notifications_total{channel="slack"} 1' in metrics
    assert 'cdc_notification_errors_total{channel="slack"} 1' in metrics
    assert 'cdc_notification_queue_length{channel="slack"} 0' in metrics


def test_a_firing_message_outlives_max_retries_at_the_capped_backoff(slack_env):
    h = Harness({**WEBHOOK, "max_retries": 2})
    slack_env.fail_next(5, 500)
    h.step(failed(0))
    h.step(failed(0), advance=60)
    assert len(slack_env.requests) == 6 and h.delivery.sent["slack"] == 1 and h.delivery.errors["slack"] == 5
    assert h.waits == [1.0, 2.0, 60.0, 60.0, 60.0]  # 1s, 2s, then every 60s past max_retries
    assert len(slack_env.received("/slack/")) == 1


def test_a_refused_firing_message_is_given_up_at_once(slack_env):
    h = Harness({**WEBHOOK, "max_retries": 2})
    slack_env.fail_next(1, 404)
    h.step(failed(0))
    h.step(failed(0), advance=60)
    assert len(slack_env.requests) == 1 and h.delivery.sent["slack"] == 0 and h.delivery.errors["slack"] == 1
    assert h.delivery.pending() == 0


def test_a_droppable_item_is_given_up_after_max_retries(slack_env, sentry_cleanup):
    h = Harness({"sentry": {"dsn": "${SENTRY_DSN}"}, "max_retries": 2})
    slack_env.fail_next(5, 500, path=ENVELOPES)
    logging.getLogger("cdc_watch.sources.connect").warning("poll failed")  # a log event: droppable
    h.delivery.run_pending()
    assert len(slack_env.requests) == 3 and h.delivery.sent["sentry"] == 0 and h.delivery.errors["sentry"] == 3
    assert h.delivery.pending() == 0


def test_rate_limit_delays_rather_than_drops(slack_env):
    h = Harness({**WEBHOOK, "max_messages_per_minute": 2})
    step = Step(0, {"prod": {f"c{i}": ("RUNNING", {0: "FAILED@w1:8083"}) for i in range(3)}})
    h.step(step)
    h.step(step, advance=60)
    assert len(slack_env.received("/slack/")) == 3
    assert len(h.waits) == 1 and 59.0 < h.waits[0] <= 60.0


def test_bot_token_routes_by_severity_and_authenticates(slack_env):
    h = Harness(
        {
            "slack": {
                "token": "${SLACK_TOKEN}",
                "channel": "#cdc",
                "severity_channels": {"critical": "#cdc-oncall"},
                "api_url": slack_env.url + "/api/",
            }
        }
    )
    h.step(failed(0))
    h.step(failed(0), advance=60)
    (request,) = slack_env.received("/api/chat.postMessage")
    assert request.headers["authorization"] == "Bearer xoxb-test-token-123"
    assert request.json()["channel"] == "#cdc-oncall"


def test_user_derived_text_is_escaped_for_mrkdwn(slack_env):
    h = Harness(WEBHOOK)
    trace = "org.apache.kafka.connect.errors.ConnectException: <!channel> a & b <http://evil.example|click>\nCaused by: java.io.IOException: <!here>\n"
    h.step(failed(0, connector="x<!here>"), trace=trace)
    h.step(failed(0, connector="x<!here>"), advance=60, trace=trace)
    (request,) = slack_env.received("/slack/")
    body = request.json()
    mrkdwn = [body["text"]] + [b["text"]["text"] for b in body["blocks"] if b["type"] == "section" and "text" in b]
    mrkdwn += [f["text"] for b in body["blocks"] for f in b.get("fields", [])]
    for text in mrkdwn:
        assert "<!" not in text and "<http://evil" not in text, text
    assert any("&lt;!channel&gt; a &amp; b &lt;http://evil.example|click&gt;" in t for t in mrkdwn)
    assert "var-connector=x%3C%21here%3E|Dashboard>" in json.dumps(body)  # the link itself still works


# ------------------------------------------------------------------ write-ahead delivery
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


def test_a_crash_loses_no_queued_firing_or_resolve_and_repeats_nothing_delivered(slack_env, tmp_path):
    state = tmp_path / "state.json"
    first = Harness(WEBHOOK, state)
    first.evaluate(failed(0))
    first.evaluate(failed(0), advance=60)  # FIRING planned and queued; then SIGKILL: no stop()
    assert slack_env.received("/slack/") == []
    second = Harness(WEBHOOK, state, clock=first.clock)
    second.delivery.run_pending()  # re-sent at once, not after repeat_interval
    assert [r.json()["text"][:30] for r in slack_env.received("/slack/")] == [":red_circle: FIRING: CdcTaskFa"]
    second.evaluate(healthy(), advance=15)  # RESOLVED queued; crash again
    third = Harness(WEBHOOK, state, clock=first.clock)
    third.delivery.run_pending()
    texts = [r.json()["text"] for r in slack_env.received("/slack/")]
    assert len(texts) == 2 and texts[1].startswith(":white_check_mark: RESOLVED: CdcTaskFailed on orders")
    fourth = Harness(WEBHOOK, state, clock=first.clock)  # everything was delivered: nothing again
    fourth.delivery.run_pending()
    fourth.step(healthy(), advance=15)
    assert len(slack_env.received("/slack/")) == 2
    assert saved_outbox(state) == []


def test_undelivered_messages_survive_a_clean_restart(slack_env, tmp_path):
    state = tmp_path / "state.json"
    first = Harness(WEBHOOK, state)
    first.evaluate(failed(0))
    first.evaluate(failed(0), advance=60)  # queued, not sent
    first.service.stop(0.0)
    assert slack_env.received("/slack/") == []
    second = Harness(WEBHOOK, state, clock=first.clock)
    second.service.start()
    try:
        assert len(slack_env.wait_for("/slack/", 1, timeout=10)) == 1
    finally:
        second.service.stop(1.0)


def test_stop_during_a_send_keeps_the_message_for_the_next_start(slack_env, tmp_path):
    state = tmp_path / "state.json"
    release = slack_env.hold("/slack/")
    first = Harness(WEBHOOK, state)
    first.service.start()
    first.evaluate(failed(0))
    first.evaluate(failed(0), advance=60)
    assert slack_env.wait_held(1, timeout=10)  # the worker is inside the send
    first.service.stop(0.2)  # bounded: returns although the send hangs
    assert [(i["channel"], i["kind"]) for i in saved_outbox(state)] == [("slack", "firing")]
    slack_env.fail_next(1, 500, path="/slack/")  # the old process never got its answer
    release.set()
    assert first.delivery.queues["slack"].join(10)
    second = Harness(WEBHOOK, state, clock=first.clock)
    second.delivery.run_pending()
    assert len(slack_env.received("/slack/")) == 1


class Recorder:
    """A channel that records what it is asked to send; answers from `outcomes`, then ok."""

    name = "slack"

    def __init__(self, *outcomes: Outcome):
        self.sent: list = []
        self.outcomes = list(outcomes)

    def send(self, payload) -> Outcome:
        self.sent.append(payload)
        return self.outcomes.pop(0) if self.outcomes else Outcome(True)


def test_a_retried_message_keeps_its_place_in_line():
    recorder = Recorder(Outcome(False, retry=True, detail="http 503"))
    clock = FakeClock()
    delivery = Delivery({"slack": recorder}, clock, wait=lambda s: clock.advance(s) or False)
    delivery.submit("slack", "FIRING", ident="1", droppable=False)
    delivery.submit("slack", "RESOLVED", ident="2", droppable=False)
    delivery.run_pending()
    assert recorder.sent == ["FIRING", "FIRING", "RESOLVED"]


def test_a_full_queue_gives_up_log_events_then_repeats_then_resolved_and_firing_last(caplog):
    recorder, done = Recorder(), []
    delivery = Delivery(
        {"slack": recorder}, FakeClock(), queue_size=3, on_done=lambda ident, ok: done.append((ident, ok))
    )
    with caplog.at_level(logging.WARNING, logger="cdc_watch.notify.delivery"):
        for log_event in ("a", "b", "c"):
            assert delivery.submit("slack", log_event)
        assert delivery.submit("slack", "F1", ident="f1", droppable=False)  # evicts log event a
        assert delivery.submit("slack", "R1", ident="r1")  # a repeat: evicts b
        assert delivery.submit("slack", "R2", ident="r2")  # evicts c
        assert not delivery.submit("slack", "d")  # a log event never evicts a persisted item
        assert delivery.submit("slack", "F2", ident="f2", droppable=False)  # evicts repeat R1
        assert delivery.submit("slack", "X1", ident="x1", droppable=False, kind="resolved")  # evicts R2
        assert delivery.submit("slack", "F3", ident="f3", droppable=False)  # evicts resolved X1
        assert delivery.submit("slack", "F4", ident="f4", droppable=False)  # only firing left: the oldest, F1
    assert delivery.errors["slack"] == 8 and delivery.pending() == 3
    assert done == [("r1", False), ("r2", False), ("x1", False), ("f1", False)]
    assert delivery.dropped == {
        ("slack", "log"): 4,
        ("slack", "repeat"): 2,
        ("slack", "resolved"): 1,
        ("slack", "firing"): 1,
    }
    full = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(full) == 1 and full[0].name == "cdc_watch.notify.delivery.slack"  # rate-limited, Sentry-ignored
    delivery.run_pending()
    assert recorder.sent == ["F2", "F3", "F4"]
    assert done[4:] == [("f2", True), ("f3", True), ("f4", True)]


# ------------------------------------------------------------------ one queue per channel
def test_a_rate_limited_sentry_never_delays_slack(slack_env, sentry_cleanup):
    h = Harness(WITH_SENTRY)
    h.every_log_event_to_sentry()
    slack_env.fail_next(1, 429, "300", path=ENVELOPES)
    for i in range(100):  # the daemon's own warnings, queued for Sentry
        logging.getLogger("cdc_watch.sources.connect").warning("poll failed %d", i)
    assert h.delivery.pump()["sentry"] == h.clock.monotonic() + 300  # Sentry now waits 5 minutes
    h.evaluate(failed(0))
    h.evaluate(failed(0), advance=60)
    dues = h.delivery.pump()  # one pass at the same instant: Slack does not wait for Sentry
    assert len(slack_env.received("/slack/")) == 1
    assert dues == {"slack": None, "sentry": h.clock.monotonic() + 240}
    assert len(slack_env.requests) == 2  # the 429 and the Slack message: nothing else tried
    metrics = h.metrics()
    assert (
        'cdc_notifications_total{channel="slack"} 1' in metrics
        and 'cdc_notification_errors_total{channel="slack"} 0' in metrics
    )
    assert (
        'cdc_notifications_total{channel="sentry"} 0' in metrics
        and 'cdc_notification_errors_total{channel="sentry"} 1' in metrics
    )
    assert 'cdc_notification_queue_length{channel="sentry"} 101' in metrics  # 100 warnings and the alert's event
    assert 'cdc_notification_queue_length{channel="slack"} 0' in metrics
    h.delivery.run_pending()
    assert len(slack_env.received(ENVELOPES)) == 101 and h.delivery.sent["sentry"] == 101


def test_a_stalled_sentry_connection_never_holds_up_slack(slack_env, sentry_cleanup):
    release = slack_env.hold(ENVELOPES)
    h = Harness(WITH_SENTRY)
    h.service.start()
    try:
        logging.getLogger("cdc_watch.sources.connect").warning("poll failed")
        assert slack_env.wait_held(1, timeout=10)  # Sentry's worker hangs in this send
        h.evaluate(failed(0))
        h.evaluate(failed(0), advance=60)
        assert len(slack_env.wait_for("/slack/", 1, timeout=10)) == 1
    finally:
        release.set()
        h.service.stop(1.0)


def test_delivery_logs_never_feed_sentry(slack_env, sentry_cleanup):
    h = Harness({"sentry": {"dsn": "${SENTRY_DSN}"}, "queue_size": 10})
    h.every_log_event_to_sentry()
    for i in range(14):
        logging.getLogger("cdc_watch.sources.connect").warning("poll failed %d", i)
    # 10 queued, 4 dropped; the "queue full" line did not become a 15th event
    assert h.delivery.pending("sentry") == 10 and h.delivery.errors["sentry"] == 4
    logging.getLogger("cdc_watch.notify.delivery").error("x")
    logging.getLogger("cdc_watch.notify.delivery.slack").error("x")
    assert h.delivery.pending("sentry") == 10 and h.delivery.errors["sentry"] == 4
    h.delivery.run_pending()
    events = [e for r in slack_env.received(ENVELOPES) for e in r.sentry_events()]
    assert len(events) == 10 and {e["logger"] for e in events} == {"cdc_watch.sources.connect"}


# ------------------------------------------------------------------ Sentry payloads, secrets
def test_sentry_event_per_firing_alert_with_fingerprint_level_tags_and_trace(slack_env, sentry_cleanup):
    h = Harness({"sentry": {"dsn": "${SENTRY_DSN}", "environment": "test"}})
    h.step(failed(0))
    h.step(failed(0), advance=60)
    (request,) = slack_env.received(ENVELOPES)
    assert request.headers["x-sentry-auth"].startswith("Sentry sentry_key=publickey")
    (event,) = request.sentry_events()
    assert event["fingerprint"] == ["CdcTaskFailed", "prod", "orders"]
    assert event["level"] == "fatal"
    assert (
        event["tags"]["alert"] == "CdcTaskFailed"
        and event["tags"]["connector"] == "orders"
        and event["tags"]["connect_cluster"] == "prod"
    )
    assert event["tags"]["failure_kind"] == "connection_refused"
    assert "Caused by: java.net.ConnectException" in event["contexts"]["failure"]["excerpt"]
    assert "excerpt" not in event["contexts"].get("trace", {})  # reserved: the SDK's trace_id/span_id go there
    assert event["contexts"]["alert"]["runbook_url"].endswith("#cdctaskfailed")
    assert event["environment"] == "test"


def test_no_secret_reaches_a_slack_or_sentry_payload(slack_env, sentry_cleanup):
    h = Harness(WITH_SENTRY)
    trace = (
        f"org.apache.kafka.connect.errors.ConnectException: Access denied; url=jdbc:mysql://cdc:{PASSWORD}@db:3306 password={PASSWORD}\n"
        f"Caused by: java.sql.SQLException: Access denied for user 'cdc' (using password: YES) {PASSWORD}\n"  # ends in the bare secret
    )
    h.evaluate(failed(0), trace=trace)
    h.evaluate(failed(0), advance=60, trace=trace)
    # the daemon's own warnings go to Sentry too, through the logging integration
    logging.getLogger("cdc_watch.sources.connect").warning(
        "poll failed", extra={"error": f"password={PASSWORD}", "database_password": PASSWORD}
    )
    h.delivery.run_pending()
    (slack,) = slack_env.received("/slack/")
    assert (
        "Access denied for user" in slack.body.decode() and "[REDACTED]" in slack.body.decode()
    )  # the trace got there
    envelopes = slack_env.received(ENVELOPES)
    assert len(envelopes) == 2
    events = [e for r in envelopes for e in r.sentry_events()]
    assert any(e.get("logger") == "cdc_watch.sources.connect" for e in events)
    assert any(
        "Access denied for user" in e["contexts"]["failure"]["excerpt"]
        for e in events
        if "failure" in e.get("contexts", {})
    )
    for body in [r.body for r in slack_env.requests]:
        assert PASSWORD.encode() not in body
        assert base64.b64encode(PASSWORD.encode()) not in body
