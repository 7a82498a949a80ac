"""The Alertmanager channel against local fake Alertmanagers that record every request: the exact
POST bodies, Prometheus's resend schedule on a fake clock, one down Alertmanager isolated from
the others, TLS and the auth headers, bounds, and no secret in a body or a log line."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime

import pytest

from cdc_watch.config import AlertingConfig, ConfigError, parse_config
from cdc_watch.core.clock import FakeClock
from cdc_watch.notify import alertmanager as am
from cdc_watch.notify.alertmanager import AlertmanagerChannel
from cdc_watch.notify.plan import PlanSettings, view
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertEntry, AlertKey, Phase, make_labels
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.notify_fixtures import PASSWORD
from tests.support.tls import make_tls
from tests.unit.test_notify import Harness, failed, healthy

PATH = "/api/v2/alerts"
FAST = {"keep_firing_for": "0s", "overrides": {"CdcTaskFailed": {"for": "0s"}}}
LEASE = 240.0  # 4 x max(resend_interval 1m, slowest poll 15s)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def fake_am():
    with FakeHTTP() as server:
        server.route("POST", PATH, Reply(200, None))
        yield server


@pytest.fixture
def db_password(monkeypatch):
    monkeypatch.setenv("CDC_TEST_DB_PASSWORD", PASSWORD)


def _harness(*urls: str, **settings: object) -> Harness:
    return Harness({"alertmanager": {"urls": list(urls), **settings}, "rules": FAST})


def _channel(h: Harness) -> AlertmanagerChannel:
    (channel,) = h.service.channels
    assert isinstance(channel, AlertmanagerChannel)
    return channel


def _posts(server: FakeHTTP) -> list[list[dict]]:
    assert server.unexpected == []
    return [json.loads(r.body) for r in server.requests]


TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: Error reading MySQL variables: Communications link failure\n"
    "Caused by: com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure\n"
    "Caused by: java.net.ConnectException: Connection refused"
)


def _firing_body(starts: float, ends: float) -> dict:
    return {
        "labels": {
            "alertname": "CdcTaskFailed",
            "severity": "critical",
            "connect_cluster": "prod",
            "connector": "orders",
            "task": "0",
        },
        "annotations": {
            "summary": "A Kafka Connect task is FAILED.",
            "description": "Task 0 of connector orders on Connect cluster prod has been FAILED for 0s.",
            "runbook_url": "https://github.com/cdc-watch/cdc-watch/blob/main/docs/runbook.md#cdctaskfailed",
            "why": "org.apache.kafka.connect.errors.ConnectException: Error reading MySQL variables: "
            "Communications link failure (root cause: java.net.ConnectException: Connection refused)",
            "hint": "The database refused connections (down or restarting): bring it back; "
            "cdc_watch restarts the task after that.",
            "evidence": "task state: FAILED; connector state: RUNNING; worker: w1:8083",
            "failure_kind": "connection_refused",
            "trace": TRACE,
        },
        "startsAt": _iso(starts),
        "endsAt": _iso(ends),
    }


# ------------------------------------------------------------------ the bodies
def test_labels_and_annotations_are_those_of_the_exported_prometheus_rule():
    cfg = AlertingConfig()
    settings = PlanSettings(cfg.rules, cfg.repeat_interval, cfg.runbook_url)
    for rule in rules.RULES:
        values = {label: f"{label}-1" for label in rule.labels}
        key = AlertKey(rule.name, make_labels(**values))
        entry = AlertEntry(key, rules.severity_of(rule, cfg.rules), Phase.FIRING, 10.0, fired_at=20.0)
        body = am.alert_body(view(entry, settings), 20.0, 80.5)
        exported = rules.prometheus_rule(rule, cfg.rules, cfg.runbook_url)
        assert body["labels"] == {"alertname": exported["alert"], **exported["labels"], **values}, rule.name
        expected = dict(exported["annotations"])
        for label, value in values.items():
            expected["description"] = expected["description"].replace(f"{{{{ $labels.{label} }}}}", value)
        assert body["annotations"] == expected, rule.name
        assert (body["startsAt"], body["endsAt"]) == ("1970-01-01T00:00:20.000Z", "1970-01-01T00:01:20.500Z")


def test_firing_is_resent_after_the_resend_interval_and_resolved_with_ends_at(fake_am, db_password):
    h = _harness(fake_am.url)
    channel = _channel(h)
    t0 = h.clock.now()
    h.evaluate(failed(0))
    assert channel.pump() == {"0": None}
    assert _posts(fake_am) == [[_firing_body(t0, t0 + LEASE)]]
    assert fake_am.requests[0].headers["Content-Type"] == "application/json"

    for advance in (30, 30):  # 60 s after the send: not yet (Prometheus re-sends once it is *more* than 1m)
        h.evaluate(failed(0), advance=advance)
        channel.pump()
    assert len(fake_am.requests) == 1
    h.evaluate(failed(0), advance=1)
    channel.pump()
    assert _posts(fake_am)[1] == [_firing_body(t0, t0 + 61 + LEASE)]  # startsAt stays when it fired

    h.evaluate(healthy(), advance=9)
    channel.pump()
    resolved = _firing_body(t0, t0 + 70)  # endsAt: when it resolved
    assert _posts(fake_am)[2] == [resolved]

    h.evaluate(healthy(), advance=60)
    channel.pump()
    assert len(fake_am.requests) == 3
    h.evaluate(healthy(), advance=1)  # a resolved alert is re-sent on the same schedule ...
    channel.pump()
    assert _posts(fake_am)[3] == [resolved]
    for _ in range(14):
        h.evaluate(healthy(), advance=61)
        channel.pump()
    sent = len(fake_am.requests)
    assert h.clock.now() - (t0 + 70) >= am.RESOLVED_RETENTION
    h.evaluate(healthy(), advance=61)  # ... for 15 minutes, then no more
    channel.pump()
    assert len(fake_am.requests) == sent
    assert all(post == [resolved] for post in _posts(fake_am)[3:])
    metrics = h.metrics()
    assert f'cdc_notification_alertmanager_alerts_sent_total{{alertmanager="0"}} {sent}' in metrics
    assert f'cdc_notifications_total{{channel="alertmanager"}} {sent}' in metrics
    assert 'cdc_notification_alertmanager_queue_length{alertmanager="0"} 0' in metrics


def test_no_secret_reaches_an_alertmanager_body(fake_am, db_password):
    h = _harness(fake_am.url)
    h.evaluate(failed(0), trace=f"java.sql.SQLException: Access denied; password={PASSWORD}\n{TRACE}")
    _channel(h).pump()
    (request,) = fake_am.requests
    assert PASSWORD not in request.body.decode()
    assert "Access denied" in request.body.decode()


# ------------------------------------------------------------------ isolation and retry
def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there: connection refused


def test_a_down_alertmanager_is_retried_with_backoff_and_never_delays_the_other(fake_am, db_password, caplog):
    down = _closed_port_url()
    h = _harness(down, fake_am.url)
    channel = _channel(h)
    h.evaluate(failed(0))
    with caplog.at_level(logging.DEBUG):
        dues = channel.pump()
    assert dues == {"0": h.clock.monotonic() + 1.0, "1": None}  # the down one backs off 1 s
    assert len(fake_am.requests) == 1
    h.clock.advance(1.0)
    assert channel.pump() == {"0": h.clock.monotonic() + 2.0, "1": None}  # then 2 s
    metrics = h.metrics()
    assert 'cdc_notification_alertmanager_errors_total{alertmanager="0"} 2' in metrics
    assert 'cdc_notification_alertmanager_queue_length{alertmanager="0"} 1' in metrics
    assert 'cdc_notification_alertmanager_errors_total{alertmanager="1"} 0' in metrics
    assert 'cdc_notification_alertmanager_alerts_sent_total{alertmanager="1"} 1' in metrics
    ours = [r for r in caplog.records if r.name.startswith("cdc_watch")]
    warnings = [r for r in ours if r.name == am.log.name]
    assert [(r.alertmanager, r.error, r.retry_in_seconds) for r in warnings] == [
        ("0", "ConnectError", 1.0),
        ("0", "ConnectError", 2.0),
    ]
    assert not any(down.split("//")[1] in r.getMessage() or down in str(r.__dict__) for r in ours)  # never the URL

    # Recovered: the newest body of the alert goes out, not a backlog of every attempt.
    h.evaluate(failed(0), advance=61)
    channel.pump()
    assert len(fake_am.requests) == 2


def _within(seconds: float, condition) -> bool:
    """Wait (real time, bounded) until `condition()` holds."""
    deadline = time.monotonic() + seconds
    tick = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            return False
        tick.wait(0.01)
    return True


def test_a_held_alertmanager_never_holds_up_the_others_worker(db_password):
    gate = threading.Event()
    with FakeHTTP() as held, FakeHTTP() as good:
        held.route("POST", PATH, Reply(200, None, gate=gate))
        good.route("POST", PATH, Reply(200, None))
        h = _harness(held.url, good.url, timeout="20s")
        h.service.start()
        try:
            h.evaluate(failed(0))
            assert _within(10, lambda: len(good.requests) == 1), "the other Alertmanager waited for the held one"
            assert _within(10, lambda: len(held.requests) == 1)
            assert _channel(h).targets[0].pending() == 1  # still in flight: its answer is held
        finally:
            gate.set()
            h.service.stop(5.0)
        assert _channel(h).targets[0].pending() == 0 and _channel(h).targets[0].alerts_sent == 1


def test_refused_alerts_are_counted_and_dropped_not_retried(db_password):
    with FakeHTTP() as server:
        server.route("POST", PATH, Reply(400, {"code": 400, "message": "bad"}))
        h = _harness(server.url)
        h.evaluate(failed(0))
        assert _channel(h).pump() == {"0": None}
        assert len(server.requests) == 1
        assert 'cdc_notification_alertmanager_errors_total{alertmanager="0"} 1' in h.metrics()
        assert 'cdc_notification_alertmanager_queue_length{alertmanager="0"} 0' in h.metrics()


def test_the_queue_of_one_alertmanager_is_bounded():
    target = am.Target(0, "http://127.0.0.1:9", None, FakeClock(), 1.0)  # type: ignore[arg-type]
    bodies = [{"labels": {"alertname": "CdcTaskFailed", "task": str(i)}} for i in range(am.MAX_PENDING + 5)]
    target.submit(bodies)
    assert target.pending() == am.MAX_PENDING and target.dropped == 5
    target.submit(bodies[-1:])  # the same alert again replaces its body, it does not queue twice
    assert target.pending() == am.MAX_PENDING


# ------------------------------------------------------------------ TLS and auth
def test_tls_and_basic_auth(tmp_path, monkeypatch, db_password, caplog):
    tls = make_tls(tmp_path)
    monkeypatch.setenv("CDC_TEST_AM_PASSWORD", "am-Passw0rd-42")
    with FakeHTTP(tls.server_context()) as server:
        server.route("POST", PATH, Reply(200, None))
        h = _harness(
            server.url,
            auth={"username": "cdc", "password": "${CDC_TEST_AM_PASSWORD}"},
            tls={"ca_file": str(tls.cert)},
        )
        h.evaluate(failed(0))
        with caplog.at_level(logging.DEBUG):
            assert _channel(h).pump() == {"0": None}
        (request,) = server.requests
        assert server.url.startswith("https://")
        assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"cdc:am-Passw0rd-42").decode()
        assert "am-Passw0rd-42" not in caplog.text and request.headers["Authorization"] not in caplog.text


def test_mutual_tls_presents_the_client_certificate(tmp_path, db_password):
    tls = make_tls(tmp_path)
    with FakeHTTP(tls.server_context(require_client_cert=True)) as server:
        server.route("POST", PATH, Reply(200, None))
        h = _harness(server.url, tls={"ca_file": str(tls.cert), "cert_file": str(tls.cert), "key_file": str(tls.key)})
        h.evaluate(failed(0))
        assert _channel(h).pump() == {"0": None}
        assert len(server.requests) == 1


def test_bearer_token(fake_am, monkeypatch, db_password, caplog):
    monkeypatch.setenv("CDC_TEST_AM_TOKEN", "tok-abcdef-123456")
    h = _harness(fake_am.url, bearer_token="${CDC_TEST_AM_TOKEN}")
    h.evaluate(failed(0))
    with caplog.at_level(logging.DEBUG):
        _channel(h).pump()
    (request,) = fake_am.requests
    assert request.headers["Authorization"] == "Bearer tok-abcdef-123456"
    assert "tok-abcdef-123456" not in caplog.text


def test_an_untrusted_certificate_is_an_error_not_a_crash(tmp_path, db_password):
    tls = make_tls(tmp_path)
    with FakeHTTP(tls.server_context()) as server:
        server.route("POST", PATH, Reply(200, None))
        h = _harness(server.url)  # no ca_file: the self-signed certificate is not trusted
        h.evaluate(failed(0))
        assert _channel(h).pump()["0"] == h.clock.monotonic() + 1.0
        assert server.requests == []
        assert 'cdc_notification_alertmanager_errors_total{alertmanager="0"} 1' in h.metrics()


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"urls": []}, "at least 1 item"),
        ({"urls": ["ftp://am:9093"]}, "is not an http:// or https:// URL"),
        ({"urls": ["http://u:hunter2@am:9093"]}, "carries credentials"),
        ({"urls": ["http://am:9093", "http://am:9093/"]}, "listed once"),
        (
            {"urls": ["http://am:9093"], "auth": {"username": "u", "password": "${HOME}"}, "bearer_token": "${HOME}"},
            "at most one of auth and bearer_token",
        ),
        ({"urls": ["http://am:9093"], "bearer_token": "literal"}, "never literally"),
    ],
)
def test_config_problems_are_named(section, problem):
    with pytest.raises(ConfigError) as raised:
        parse_config({"connect_clusters": [{"url": "http://w1:8083"}], "alerting": {"alertmanager": section}})
    assert problem in str(raised.value)
    assert "hunter2" not in str(raised.value)
