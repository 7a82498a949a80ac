"""What leadership gates and what a takeover adopts, on the real alerting wiring (Harness) and
a local Slack capture: a follower judges but sends nothing; a new leader that adopts the
published state neither re-announces a firing alert nor loses its resolve; undelivered
messages move to the new leader. The lease itself is tested on a real broker
(tests/integration/test_ha_lease.py); the HA config section here."""

from __future__ import annotations

import pytest

from cdc_watch.config import ConfigError, parse_config
from tests.unit.test_notify import WEBHOOK, Harness, failed, healthy


def _pair() -> tuple[Harness, Harness]:
    leader, follower = Harness(WEBHOOK), Harness(WEBHOOK)
    follower.service.gate = follower.delivery.gate = lambda: False
    return leader, follower


def _both(pair: tuple[Harness, Harness], step, advance: float = 0.0) -> None:
    for h in pair:
        h.step(step, advance)


def _texts(capture, word: str) -> list[str]:
    return [t for r in capture.received("/slack/") if word in (t := r.json()["text"])]


def test_a_follower_judges_every_poll_but_sends_nothing(slack_env):
    leader, follower = _pair()
    _both((leader, follower), failed(0))
    _both((leader, follower), failed(0), advance=60)
    assert len(_texts(slack_env, "FIRING")) == 1  # the leader's only
    assert 'cdc_alert_firing{alert="CdcTaskFailed"' in follower.metrics()  # same /metrics as the leader
    assert follower.delivery.sent["slack"] == 0
    assert len(follower.service.outbox) == 0  # nothing planned either


def test_a_new_leader_that_adopts_the_published_state_pages_once_and_resolves_once(slack_env):
    leader, follower = _pair()
    _both((leader, follower), failed(0))
    _both((leader, follower), failed(0), advance=60)
    published = leader.service.shared()
    follower.service.adopt(published)
    follower.service.gate = follower.delivery.gate = lambda: True
    follower.step(failed(0), advance=15)
    assert len(_texts(slack_env, "FIRING")) == 1  # not announced again
    follower.step(healthy(), advance=15)
    assert len(_texts(slack_env, "RESOLVED")) == 1  # and its resolve still goes out


def test_without_the_published_state_a_new_leader_would_page_again(slack_env):
    """The control for the test above: the adoption is what prevents the second page."""
    leader, follower = _pair()
    _both((leader, follower), failed(0))
    _both((leader, follower), failed(0), advance=60)
    follower.service.gate = follower.delivery.gate = lambda: True
    follower.step(failed(0), advance=15)
    assert len(_texts(slack_env, "FIRING")) == 2


def test_messages_the_old_leader_had_not_delivered_are_sent_by_the_new_one(slack_env):
    leader, follower = _pair()
    leader.evaluate(failed(0))
    leader.evaluate(failed(0), advance=60)  # planned and queued, never delivered: the leader dies here
    published = leader.service.shared()
    assert len(published["outbox_items"]) == 1
    _both((follower,), failed(0))
    follower.service.gate = follower.delivery.gate = lambda: True
    assert follower.service.adopt(published) == 1
    follower.delivery.run_pending()
    assert len(_texts(slack_env, "FIRING")) == 1
    follower.step(failed(0), advance=15)
    assert len(_texts(slack_env, "FIRING")) == 1


def test_a_queue_held_by_the_gate_sends_once_it_opens_and_drops_what_another_leader_took(slack_env):
    h = Harness(WEBHOOK)
    leading = [False]
    h.delivery.gate = lambda: leading[0]
    h.step(failed(0))
    h.evaluate(failed(0), advance=60)  # planned while leading... (service gate stays open here)
    h.delivery.run_pending()
    assert _texts(slack_env, "FIRING") == []  # held: the delivery gate is shut
    leading[0] = True
    h.delivery.run_pending()
    assert len(_texts(slack_env, "FIRING")) == 1
    # A held item whose outbox entry was given up (adopted state superseded it) is not sent.
    leading[0] = False
    h.step(healthy(), advance=15)
    for item in h.service.outbox.items():
        h.service.outbox.done(item["id"], False)
    leading[0] = True
    h.delivery.run_pending()
    assert _texts(slack_env, "RESOLVED") == []


def test_unreadable_published_state_keeps_the_replicas_own(slack_env, caplog):
    leader, follower = _pair()
    _both((leader, follower), failed(0))
    assert follower.service.adopt("not an object") == 0
    assert "published alert state is not an object" in caplog.text
    assert len(follower.service.alerts.entries) == 1


BASE = {"connect_clusters": [{"url": "http://w1:8083"}]}


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"bootstrap_servers": "k:9092", "heartbeat_interval": "5s"}, "heartbeat_interval must be at most a third"),
        ({"bootstrap_servers": "k:9092", "step_down_margin": "9s"}, "step_down_margin must be shorter"),
        ({"bootstrap_servers": "k:9092", "lease_topic": "x", "state_topic": "x"}, "must differ"),
        ({"bootstrap_servers": "k:9092", "session_timeout": "10m"}, "between 1s and 5m"),
        ({"bootstrap_servers": "k:9092", "backend": "zookeeper"}, "backend"),
        ({"bootstrap_servers": "k:9092", "leader": True}, "leader"),
        ({"bootstrap_servers": "k:9092", "sasl": {"username": "u", "password": "literal"}}, "never literally"),
        ({"bootstrap_servers": "k:9092", "max_state_bytes": 1024}, "max_state_bytes"),
    ],
)
def test_a_bad_high_availability_section_is_a_clear_config_error(section, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config({**BASE, "high_availability": section})
    text = "\n".join(caught.value.problems)
    assert "high_availability" in text and problem in text, text


def test_the_smallest_high_availability_section_takes_the_defaults():
    ha = parse_config({**BASE, "high_availability": {"bootstrap_servers": "k1:9092,k2:9092"}}).high_availability
    assert ha is not None
    assert ha.bootstrap_servers == ("k1:9092", "k2:9092") and ha.group_id == "cdc-watch"
    assert ha.session_timeout == 10.0 and ha.security_protocol == "PLAINTEXT"
