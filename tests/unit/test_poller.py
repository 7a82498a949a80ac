"""The poller: results and typed errors land in the snapshot; nothing escapes."""

from __future__ import annotations

import logging

from cdc_watch.core.clock import FakeClock
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.poller import Poller
from cdc_watch.core.snapshot import SnapshotStore


class ScriptedSource:
    """Returns or raises the scripted outcomes in order, advancing the fake clock."""

    kind = "test"
    interval = 10.0

    def __init__(self, clock: FakeClock, outcomes: list):
        self.name = "test:one"
        self.clock = clock
        self.outcomes = outcomes
        self.seen_snapshots = []

    def poll(self, snapshot):
        self.seen_snapshots.append(snapshot)
        self.clock.advance(0.25)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self):
        pass


def make(outcomes):
    clock = FakeClock()
    store = SnapshotStore()
    source = ScriptedSource(clock, outcomes)
    store.register([(source.name, source.kind)])
    hooked = []
    poller = Poller(source, store, clock, on_result=lambda result, snap: hooked.append((result, snap)))
    return clock, store, source, poller, hooked


def test_success_then_typed_failure_then_recovery(caplog):
    _clock, store, _source, poller, hooked = make(
        [{"n": 1}, SourceFailure(ErrorReason.TIMEOUT, "GET http://x/: timed out"), {"n": 2}]
    )
    first = poller.poll_once()
    assert first.ok and first.data == {"n": 1} and first.duration == 0.25
    with caplog.at_level(logging.INFO):
        failed = poller.poll_once()
        poller.poll_once()
    assert failed.error.reason is ErrorReason.TIMEOUT
    status = store.current().sources["test:one"]
    assert status.polls_total == 3 and status.up
    assert dict(status.errors_total) == {ErrorReason.TIMEOUT: 1}
    assert status.last_success.data == {"n": 2}
    assert [r.ok for r, _ in hooked] == [True, False, True]
    assert "poll failed" in caplog.text and "poll recovered" in caplog.text


def test_failed_poll_keeps_last_success_but_data_is_none():
    _clock, store, _source, poller, _ = make([{"n": 1}, SourceFailure(ErrorReason.CONNECT, "refused")])
    poller.poll_once()
    poller.poll_once()
    snapshot = store.current()
    assert snapshot.data("test:one") is None
    assert snapshot.last_good("test:one") == {"n": 1}


def test_a_bug_in_a_source_becomes_an_internal_error_without_its_message(caplog):
    _clock, _store, _source, poller, _ = make([ValueError("invalid literal: 's3cret-value'")])
    with caplog.at_level(logging.WARNING):
        result = poller.poll_once()
    assert result.error.reason is ErrorReason.INTERNAL
    assert "ValueError at test_poller.py:" in result.error.message
    assert "s3cret" not in result.error.message and "s3cret" not in caplog.text


def test_repeated_identical_failure_is_logged_once(caplog):
    failure = SourceFailure(ErrorReason.CONNECT, "refused")
    _clock, _store, _source, poller, _ = make([failure, failure, failure])
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            poller.poll_once()
    assert caplog.text.count("poll failed") == 1


def test_source_sees_the_current_snapshot():
    _clock, _store, source, poller, _ = make([{"a": 1}, {"a": 2}])
    poller.poll_once()
    poller.poll_once()
    assert source.seen_snapshots[0].data("test:one") is None
    assert source.seen_snapshots[1].data("test:one") == {"a": 1}


def test_result_of_a_source_removed_by_reload_is_dropped():
    _clock, store, _source, poller, _ = make([{"a": 1}])
    store.register([])
    poller.poll_once()
    assert store.current().sources == {}


def test_a_failure_message_with_url_credentials_is_scrubbed_before_it_is_stored(caplog):
    _clock, store, _source, poller, _ = make(
        [SourceFailure(ErrorReason.CONNECT, "GET http://admin:Hunter-22@w:8083/: cannot connect")]
    )
    with caplog.at_level(logging.WARNING):
        poller.poll_once()
    message = store.current().sources["test:one"].last.error.message
    assert "Hunter-22" not in message and "w:8083" in message
    assert "Hunter-22" not in caplog.text


def test_the_poller_closes_its_source_when_it_stops():
    closed = []
    _clock, _store, source, poller, _ = make([{"a": 1}])
    source.close = lambda: closed.append("never started")
    poller.stop()
    assert closed == ["never started"]

    _clock, _store, source, poller, _hooked = make([{"a": 1}])
    source.close = lambda: closed.append("thread ended")
    poller.jitter = 0.0  # poll at once
    poller.start()
    poller.stop()
    assert poller.join(5)
    assert closed[-1] == "thread ended"


def test_a_source_that_is_not_ready_records_nothing():
    from cdc_watch.core.poller import NotReady

    _clock, store, _source, poller, hooked = make([NotReady(), {"a": 1}])
    assert poller.poll_once() is None
    assert store.current().sources["test:one"].last is None and hooked == []
    assert poller.poll_once().ok
