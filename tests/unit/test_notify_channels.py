"""The channel registry is the only place a notifier is named: a fake channel added to
`channels.REGISTRY` (and nowhere else) gets planned messages and remediation notices through the
outbox and its own delivery queue, sees every evaluation, is counted, and survives a restart."""

from __future__ import annotations

from typing import Any

import pytest

from cdc_watch.config import AlertingConfig
from cdc_watch.notify import channels
from cdc_watch.notify.channel import Channel, ChannelContext, Outcome
from cdc_watch.notify.messages import Message, Notice, payload_from_json
from cdc_watch.remediation.runner import RemediationNotice
from tests.unit.test_notify import Harness, failed, healthy


class Pager(Channel):
    """A queued channel as a new notifier would write it."""

    name = "pager"

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.evaluations = 0

    def payloads(self, message: Message) -> list[Any]:
        return [message.to_json()]

    def notice_payloads(self, notice: Notice) -> list[Any]:
        return [notice.to_json()]

    def restored_kind(self, payload: Any) -> str | None:
        try:
            parsed = payload_from_json(payload)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        return "notice" if isinstance(parsed, Notice) else str(parsed.kind)

    def send(self, payload: Any) -> Outcome:
        self.sent.append(payload_from_json(payload))
        return Outcome(True)

    def observe(self, alerts, transitions, now, settings) -> None:
        self.evaluations += 1


@pytest.fixture
def pager(monkeypatch):
    built: list[Pager] = []

    def build(alerting: AlertingConfig, context: ChannelContext) -> Pager:
        built.append(Pager())
        return built[-1]

    monkeypatch.setattr(channels, "REGISTRY", (*channels.REGISTRY, build))
    return built


def test_a_channel_registered_in_the_registry_gets_messages_notices_and_evaluations(pager, monkeypatch):
    monkeypatch.setenv("CDC_TEST_DB_PASSWORD", "unused-password")
    h = Harness({"rules": {"keep_firing_for": "0s", "overrides": {"CdcTaskFailed": {"for": "0s"}}}})
    (channel,) = pager
    assert h.service.channels == (channel,)  # no Slack, Sentry or Alertmanager configured
    h.step(failed(0))
    h.service.notify_remediation(RemediationNotice("prod", "orders", "restarted", (0,), 1, None, None, False))
    h.delivery.run_pending()
    h.step(healthy())
    assert [(type(m).__name__, getattr(m, "kind", None)) for m in channel.sent] == [
        ("Message", "firing"),
        ("Notice", None),
        ("Message", "resolved"),
    ]
    assert channel.sent[0].alerts[0].key.alert == "CdcTaskFailed"
    assert channel.evaluations == 2
    assert 'cdc_notifications_total{channel="pager"} 3' in h.metrics()


def test_a_registered_channels_undelivered_messages_survive_a_restart(pager, monkeypatch, tmp_path):
    monkeypatch.setenv("CDC_TEST_DB_PASSWORD", "unused-password")
    state = tmp_path / "state.json"
    alerting = {"rules": {"keep_firing_for": "0s", "overrides": {"CdcTaskFailed": {"for": "0s"}}}}
    first = Harness(alerting, state)
    first.evaluate(failed(0))  # planned and saved in the outbox, never delivered
    assert pager[0].sent == []
    second = Harness(alerting, state, clock=first.clock)
    second.delivery.run_pending()
    assert [m.kind for m in pager[1].sent] == ["firing"]
