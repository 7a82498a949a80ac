"""The App's alerting and remediation wiring: notices reach alerting, each poll hook is guarded
on its own, and the rules judge the store's newest snapshot."""

from __future__ import annotations

import logging

import pytest

from cdc_watch.app import App
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.model import PollResult
from generate.snapshots import cluster_state


@pytest.fixture
def app(tmp_path, monkeypatch, capture):
    monkeypatch.setenv("CDC_TEST_SLACK", capture.webhook_url())
    path = tmp_path / "cdc-watch.yaml"
    path.write_text(
        "connect_clusters:\n  - name: prod\n    url: http://127.0.0.1:9\n"
        "alerting:\n  slack:\n    webhook_url: ${CDC_TEST_SLACK}\n"
        "remediation:\n  enabled: true\n"
    )
    app = App(path, listen_address="127.0.0.1:0", clock=FakeClock())
    yield app
    app.web.stop()  # never started: closes the listening socket
    app.remediation.close()


def test_app_sends_remediation_notices_through_alerting(app):
    assert app.remediation.notify == app.alerting.notify_remediation


def test_a_failing_alerting_hook_does_not_disable_remediation(app, caplog):
    seen = []

    def broken(_result, _snapshot):
        raise KeyError("bug")

    app.alerting.on_result = broken  # type: ignore[method-assign]
    app.remediation.on_result = lambda result, snapshot: seen.append(result.source)  # type: ignore[method-assign]
    app.on_result = lambda result, snapshot: seen.append("caller")
    result = PollResult("connect:prod", "connect", 0.0, 0.1, cluster_state("prod", {}))
    with caplog.at_level(logging.ERROR, logger="cdc_watch.app"):
        app._after_poll(result, app.store.current())
    assert seen == ["connect:prod", "caller"]
    (record,) = caplog.records
    assert record.hook == "alerting" and record.error.startswith("KeyError at test_notify_wiring.py:")


def test_the_app_judges_the_stores_newest_snapshot(app):
    app.store.register([("connect:prod", "connect")])
    stale = app.store.current()
    app.store.record(
        PollResult("connect:prod", "connect", 0.0, 0.1, error=None, data=cluster_state("prod", {"c": ("FAILED", {})}))
    )
    app.alerting.on_result(PollResult("connect:prod", "connect", 0.0, 0.1, None), stale)
    assert "CdcConnectorFailed" in {e.key.alert for e in app.alerting.alerts.entries.values()}
