"""Silences over the daemon's HTTP API and the `cdc-watch silence` CLI; the alert metrics."""

from __future__ import annotations

import io
import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cdc_watch.commands import silence as silence_command
from cdc_watch.config import AlertingConfig, RulesConfig
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.statefile import StateFile
from cdc_watch.exporter.exposition import MetricsWriter
from cdc_watch.notify import api
from cdc_watch.notify.delivery import Delivery
from cdc_watch.notify.service import AlertService
from generate.scenarios import Step
from generate.snapshots import snapshot_for


def service(tmp_path=None, clock=None) -> AlertService:
    config = AlertingConfig(rules=RulesConfig.model_validate({"overrides": {"CdcTaskFailed": {"for": "0s"}}}))
    return AlertService(
        lambda: config,
        StateFile(tmp_path / "state.json" if tmp_path else None),
        clock or FakeClock(),
        Delivery({}, clock or FakeClock()),
    )


def test_silence_api_add_list_remove_and_persist(tmp_path):
    clock = FakeClock()
    svc = service(tmp_path, clock)
    status, body, _ = api.handle(
        svc,
        "POST",
        "/api/v1/silences",
        json.dumps({"matchers": {"connector": "orders"}, "duration": "2h", "comment": "migration"}).encode(),
        True,
    )
    assert status == 200
    silence = json.loads(body)["silence"]
    assert silence["until"] == clock.now() + 7200 and silence["matchers"] == {"connector": "orders"}
    restarted = service(tmp_path, clock)  # kept in the state file
    assert [s["id"] for s in restarted.list_silences()] == [silence["id"]]
    clock.advance(7200)
    assert restarted.list_silences() == []  # expired
    status, _, _ = api.handle(svc, "DELETE", f"/api/v1/silences/{silence['id']}", b"", True)
    assert status == 200


def test_silence_api_refuses_unauthorized_changes_and_bad_input():
    svc = service()
    body = json.dumps({"matchers": {"connector": "x"}, "duration": "1h"}).encode()
    refused = api.handle(svc, "POST", "/api/v1/silences", body, False)
    assert refused[0] == 403 and b"admin token" in refused[1]
    assert api.handle(svc, "DELETE", "/api/v1/silences/abc", b"", False)[0] == 403
    assert api.handle(svc, "POST", "/api/v1/silences", body, True)[0] == 200
    assert api.handle(svc, "POST", "/api/v1/silences", b'{"matchers": {"nope": "x"}, "duration": "1h"}', True)[0] == 400
    assert (
        api.handle(svc, "POST", "/api/v1/silences", b'{"matchers": {"connector": "x"}, "duration": "90d"}', True)[0]
        == 400
    )
    assert (
        api.handle(svc, "POST", "/api/v1/silences", b'{"matchers": {"connector": "x"}, "duration": 5}', True)[0] == 400
    )
    assert api.handle(svc, "GET", "/metrics", b"", True) is None


def test_cli_silence_add_sends_exactly_one_request():
    seen = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "silence": {"id": "abc123", "until": 0.0, "matchers": {"alert": "CdcTaskFailed", "connector": "orders"}}
            },
        )

    parser_args = [
        "silence",
        "--web.url",
        "http://127.0.0.1:9999",
        "add",
        "--alert",
        "CdcTaskFailed",
        "--connector",
        "orders",
        "--for",
        "2h",
        "--comment",
        "deploy",
    ]
    from cdc_watch.cli import build_parser

    args = build_parser().parse_args(parser_args)
    out = io.StringIO()
    assert silence_command.run(args, out=out, transport=httpx.MockTransport(reply)) == 0
    (request,) = seen
    assert request.method == "POST" and str(request.url) == "http://127.0.0.1:9999/api/v1/silences"
    sent = json.loads(request.content)
    assert (
        sent["matchers"] == {"alert": "CdcTaskFailed", "connector": "orders"}
        and sent["duration"] == "2h"
        and sent["comment"] == "deploy"
    )
    assert "silence abc123" in out.getvalue()


def test_cli_silence_reports_a_refusal():
    from cdc_watch.cli import build_parser

    args = build_parser().parse_args(["silence", "remove", "nope"])
    err = io.StringIO()
    transport = httpx.MockTransport(lambda r: httpx.Response(404, json={"error": "no such run-time silence"}))
    assert silence_command.run(args, err=err, transport=transport) == 1
    assert "no such run-time silence" in err.getvalue()


def test_cli_silence_sends_the_admin_token_from_the_environment(monkeypatch):
    from cdc_watch.cli import build_parser

    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"removed": "abc"})

    monkeypatch.setenv(silence_command.TOKEN_ENV, "tok-xyz")
    args = build_parser().parse_args(["silence", "remove", "abc"])
    assert silence_command.run(args, out=io.StringIO(), transport=httpx.MockTransport(reply)) == 0
    assert seen[0].headers["authorization"] == "Bearer tok-xyz"


def test_alert_firing_metric_carries_the_alert_labels():
    svc = service()
    step = Step(0, {"prod": {"orders": ("RUNNING", {0: "FAILED@w1:8083"})}})
    svc.evaluate(snapshot_for(step, (("connect:prod", "connect"),), 0.0))
    out = MetricsWriter()
    svc.contribute(None, out)
    families = {f.name: f for f in text_string_to_metric_families(out.render().decode())}
    (sample,) = families["cdc_alert_firing"].samples
    assert sample.labels == {
        "alert": "CdcTaskFailed",
        "severity": "critical",
        "connect_cluster": "prod",
        "connector": "orders",
        "task": "0",
    }
    assert sample.value == 1
    assert families["cdc_alerts_pending"].samples[0].value == 0
