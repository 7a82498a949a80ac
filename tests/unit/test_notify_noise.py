"""Per-connector log noise never becomes a Sentry event per connector: the daemon's own
warnings pass a limiter (one event per logger and message per window, a budget in all)
before they are queued for Sentry (real sentry-sdk, capturing endpoint)."""

from __future__ import annotations

import logging

from cdc_watch.notify.sentry import LOG_EVENT_WINDOW_SECONDS, LOG_EVENTS_PER_WINDOW
from tests.unit.test_notify import ENVELOPES, Harness, failed

SENTRY = {"sentry": {"dsn": "${SENTRY_DSN}"}, "rules": {"keep_firing_for": "0s"}}
OFFSETS_LOG = "cdc_watch.sources.connect.poll"


def _events(slack_env) -> list[dict]:
    return [e for r in slack_env.received(ENVELOPES) for e in r.sentry_events()]


def test_a_warning_for_each_of_1000_connectors_is_one_sentry_event(slack_env, sentry_cleanup):
    h = Harness(SENTRY)
    h.sentry.transport.limiter.clock = h.clock.monotonic
    log = logging.getLogger(OFFSETS_LOG)
    for i in range(1000):
        log.warning(
            "offsets not read; keeping the previous ones",
            extra={"source": "connect_offsets:prod", "connector": f"c{i}", "reason": "timeout"},
        )
    assert h.delivery.pending("sentry") == 1
    h.evaluate(failed(0))
    h.evaluate(failed(0), advance=60)  # an alert is not limited
    h.delivery.run_pending()
    events = _events(slack_env)
    assert [e.get("logger") for e in events] == [OFFSETS_LOG, "cdc_watch.alerts"]
    assert events[0]["extra"]["connector"] == "c0"
    assert "cdc_sentry_log_events_suppressed_total 999" in h.metrics()
    h.clock.advance(LOG_EVENT_WINDOW_SECONDS)  # the window passed: the next one goes, with the count
    log.warning("offsets not read; keeping the previous ones", extra={"connector": "c1000"})
    log.warning("offsets not read; keeping the previous ones", extra={"connector": "c1001"})
    h.delivery.run_pending()
    (later,) = [e for e in _events(slack_env)[2:]]
    assert later["extra"]["connector"] == "c1000" and later["extra"]["similar_held_back"] == 999


def test_distinct_warnings_are_bounded_by_the_budget(slack_env, sentry_cleanup):
    h = Harness(SENTRY)
    h.sentry.transport.limiter.clock = h.clock.monotonic
    for i in range(1000):
        logging.getLogger(f"cdc_watch.sources.connect.c{i % 100}").warning(f"connector c{i} odd")  # 1000 messages
    h.delivery.run_pending()
    assert len(_events(slack_env)) == LOG_EVENTS_PER_WINDOW
    assert f"cdc_sentry_log_events_suppressed_total {1000 - LOG_EVENTS_PER_WINDOW}" in h.metrics()
