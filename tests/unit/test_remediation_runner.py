"""The remediation runner: exact restart requests, outcomes, counters, metrics, persistence."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from types import MappingProxyType

import httpx
import pytest

from cdc_watch.config import parse_config
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.model import PollResult
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.core.statefile import StateFile
from cdc_watch.exporter.exposition import MetricsWriter
from cdc_watch.remediation.policy import Outcome, Suppression
from cdc_watch.remediation.runner import RemediationNotice, RemediationRunner
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorStatus,
    State,
    TaskStatus,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "remediation"


def _recorded(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


RESTARTING = _recorded("restart_202_restarting.json")
TASK_204 = _recorded("task_restart_204.json")
UNKNOWN_404 = _recorded("restart_404_unknown.json")
RETRIABLE = RESTARTING["body"]["tasks"][0]["trace"]
NON_RETRIABLE = next(
    t["trace"] for t in _recorded("status_task_failed_access_denied.json")["body"]["tasks"] if t["state"] == "FAILED"
)
REBALANCE_409 = {
    "error_code": 409,
    "message": "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.",
}


class FakeConnect:
    """Answers only the requests a test expects, in order; anything else fails the test."""

    def __init__(self):
        self.expected: list[tuple[str, str, tuple[tuple[str, str], ...], int, object]] = []
        self.seen: list[str] = []

    def expect(self, method: str, path: str, params: tuple[tuple[str, str], ...], status: int, body: object) -> None:
        self.expected.append((method, path, params, status, body))

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert self.expected, f"unexpected request {request.method} {request.url}"
        method, path, params, status, body = self.expected.pop(0)
        assert request.method == method
        assert request.url.path == path
        assert tuple(request.url.params.multi_items()) == params
        self.seen.append(f"{request.method} {request.url.path}")
        content = b"" if body is None else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers={"Content-Type": "application/json"} if content else {})


KIP745 = (("includeTasks", "true"), ("onlyFailed", "true"))


class Harness:
    def __init__(self, tmp_path: Path, remediation: dict | None = None, version: str = "3.9.0"):
        self.clock = FakeClock()
        self.fake = FakeConnect()
        self.notices: list[RemediationNotice] = []
        self.state_path = tmp_path / "state.json"
        self.config = parse_config(
            {
                "connect_clusters": [{"name": "prod", "urls": ["http://w1:8083"]}],
                "remediation": {"enabled": True, **(remediation or {})},
            }
        )
        self.version = version
        self.store = SnapshotStore()
        self.store.register([("connect:prod", "connect")])
        self.runner = self.new_runner()

    def new_runner(self) -> RemediationRunner:
        transport = httpx.MockTransport(self.fake.handler)
        return RemediationRunner(
            self.config,
            StateFile(self.state_path),
            self.clock,
            self.notices.append,
            transport_for=lambda name: transport if name == "remediation:prod" else None,
        )

    def poll(self, *connectors: ConnectorStatus):
        data = ConnectClusterState(
            "prod", "http://w1:8083", self.version, "", "kc", MappingProxyType({c.name: c for c in connectors})
        )
        result = PollResult("connect:prod", "connect", self.clock.now(), 0.01, data)
        snapshot = self.store.record(result)
        return self.runner.run("prod", snapshot)

    def metrics(self) -> str:
        out = MetricsWriter()
        self.runner.contribute(self.store.current(), out)
        return out.render().decode()


def failed(name: str = "inv", trace: str = RETRIABLE, tasks: int = 1, state: State = State.FAILED) -> ConnectorStatus:
    return ConnectorStatus(
        name,
        "source",
        State.RUNNING,
        "w1:8083",
        tuple(TaskStatus(i, state, "w1:8083", trace if state is State.FAILED else None) for i in range(tasks)),
        None,
    )


def test_kip745_restart_is_sent_counted_persisted_and_noticed(tmp_path):
    h = Harness(tmp_path)
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, RESTARTING["status_code"], RESTARTING["body"])
    ((_decision, outcome),) = h.poll(failed())
    assert outcome is Outcome.RESTARTED and h.fake.expected == []
    text = h.metrics()
    assert 'cdc_remediation_restarts_total{connect_cluster="prod",connector="inv",result="restarted"} 1' in text
    assert (
        f'cdc_remediation_next_allowed_timestamp_seconds{{connect_cluster="prod",connector="inv"}} {int(h.clock.now()) + 120}'
        in text
    )
    assert 'cdc_remediation_attempts{connect_cluster="prod",connector="inv"} 1' in text
    assert 'cdc_remediation_mode{mode="on"} 1' in text
    saved = json.loads(h.state_path.read_text())["sections"]["remediation"]
    assert saved["clusters"]["prod"]["inv"]["attempts"] == 1
    (notice,) = h.notices
    assert notice.text().startswith("Restarted task 0 of inv on prod (connection_refused), attempt 1, next allowed at ")


def test_connector_name_is_url_encoded(tmp_path):
    h = Harness(tmp_path)
    h.fake.expect("POST", "/connectors/a b/restart", KIP745, 202, RESTARTING["body"])
    ((_, outcome),) = h.poll(failed(name="a b"))
    assert outcome is Outcome.RESTARTED


def test_conflict_is_not_counted_and_retried_on_the_next_poll(tmp_path):
    h = Harness(tmp_path)
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, 409, REBALANCE_409)
    ((_, outcome),) = h.poll(failed())
    assert outcome is Outcome.CONFLICT
    assert 'result="conflict"} 1' in h.metrics()
    assert "cdc_remediation_next_allowed_timestamp_seconds" not in h.metrics()
    assert h.notices == []
    h.clock.advance(5)
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, 202, RESTARTING["body"])
    ((decision, outcome),) = h.poll(failed())
    assert (decision.attempt, outcome) == (1, Outcome.RESTARTED)


def test_rebalance_500_counts_as_conflict(tmp_path):
    h = Harness(tmp_path)
    h.fake.expect(
        "POST",
        "/connectors/inv/restart",
        KIP745,
        500,
        {"error_code": 500, "message": "Request cannot be completed because a rebalance is expected"},
    )
    ((_, outcome),) = h.poll(failed())
    assert outcome is Outcome.CONFLICT


def test_per_task_restarts_on_connect_before_3_0(tmp_path):
    h = Harness(tmp_path, version="2.8.2")
    h.fake.expect("POST", "/connectors/inv/tasks/0/restart", (), TASK_204["status_code"], None)
    h.fake.expect("POST", "/connectors/inv/tasks/1/restart", (), 204, None)
    ((_decision, outcome),) = h.poll(failed(tasks=2))
    assert outcome is Outcome.RESTARTED
    assert h.fake.seen == ["POST /connectors/inv/tasks/0/restart", "POST /connectors/inv/tasks/1/restart"]


def test_unknown_connector_is_not_found(tmp_path):
    h = Harness(tmp_path)
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, UNKNOWN_404["status_code"], UNKNOWN_404["body"])
    ((_, outcome),) = h.poll(failed())
    assert outcome is Outcome.NOT_FOUND
    assert "cdc_remediation_attempts" not in h.metrics()


def test_transport_error_backs_off_and_the_third_in_a_row_counts_as_an_attempt(tmp_path, caplog):
    h = Harness(tmp_path)
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(h.clock.now())
        raise httpx.ReadTimeout("timed out", request=request)  # Connect may have got the POST

    h.fake.handler = refuse  # type: ignore[method-assign]
    h.runner = h.new_runner()
    start = h.clock.now()
    ((_, outcome),) = h.poll(failed())
    assert outcome is Outcome.ERROR and 'result="error"} 1' in h.metrics()
    assert 'cdc_remediation_attempts{connect_cluster="prod",connector="inv"} 0' in h.metrics()
    assert (
        f'cdc_remediation_next_allowed_timestamp_seconds{{connect_cluster="prod",connector="inv"}} {int(start) + 30}'
        in h.metrics()
    )
    with caplog.at_level(logging.INFO, logger="cdc_watch.remediation.runner"):
        for _ in range(9):  # polls every 10 s for 90 s
            h.clock.advance(10)
            h.poll(failed())
    assert [t - start for t in calls] == [0, 30, 90]  # not one POST per poll
    assert 'cdc_remediation_attempts{connect_cluster="prod",connector="inv"} 1' in h.metrics()
    assert 'result="error"} 3' in h.metrics()
    assert [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "restart failed" in r.getMessage()
    ] == [
        "restart failed; retrying after a short backoff",
        "restart failed; retrying after a short backoff",
        "restart failed again; counted as an attempt, retrying after the backoff",
    ]
    assert h.notices == []  # nothing was restarted


class Gate:
    """A Connect that holds each restart call until released (a slow or hung worker)."""

    def __init__(self, fake: FakeConnect):
        self.fake = fake
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.entered.set()
        self.release.wait(10)
        try:
            return self.fake.handler(request)
        finally:
            self.finished.set()


def _gated(h: Harness) -> tuple[Gate, PollResult]:
    """A threaded runner whose one expected restart call hangs until released; a failed poll."""
    gate = Gate(h.fake)
    transport = httpx.MockTransport(gate.handler)
    h.runner = RemediationRunner(
        h.config, StateFile(h.state_path), h.clock, h.notices.append, transport_for=lambda _name: transport
    )
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, 202, RESTARTING["body"])
    data = ConnectClusterState("prod", "http://w1:8083", "3.9.0", "", "kc", MappingProxyType({"inv": failed()}))
    return gate, PollResult("connect:prod", "connect", h.clock.now(), 0.01, data)


def test_restart_calls_run_on_the_worker_never_on_the_poll_thread(tmp_path):
    h = Harness(tmp_path)
    gate, result = _gated(h)
    try:
        h.runner.on_result(result, h.store.record(result))  # returns while the call is in flight
        assert gate.entered.wait(10) and not gate.finished.is_set()
        h.runner.on_result(result, h.store.current())  # the next poll is not held up either
        assert not gate.finished.is_set()
        gate.release.set()
        assert h.runner.wait_idle(10)
    finally:
        gate.release.set()
        h.runner.close()
    assert h.fake.seen == ["POST /connectors/inv/restart"]  # the second poll predates the restart: no second call
    assert 'result="restarted"} 1' in h.metrics() and len(h.notices) == 1


def test_close_is_bounded_while_a_restart_call_hangs(tmp_path, caplog):
    h = Harness(tmp_path)
    gate, result = _gated(h)
    h.runner.on_result(result, h.store.record(result))
    assert gate.entered.wait(10)
    with caplog.at_level(logging.WARNING, logger="cdc_watch.remediation.runner"):
        h.runner.close(budget=0.1)
    assert "restart call still in flight at shutdown; abandoning it" in caplog.messages
    gate.release.set()
    h.runner.on_result(result, h.store.current())  # closed: ignored
    assert h.runner.wait_idle(10)


def test_newest_snapshot_per_cluster_replaces_one_still_waiting(tmp_path):
    h = Harness(tmp_path)
    h.runner = RemediationRunner(h.config, StateFile(h.state_path), h.clock, h.notices.append, threaded=False)
    seen = []
    h.runner.run = lambda cluster, snapshot: seen.append((cluster, snapshot))  # type: ignore[method-assign]
    first = h.store.current()
    h.runner.on_result(PollResult("connect:prod", "connect", 0.0, 0.0, None), first)
    newer = h.store.record(PollResult("connect:prod", "connect", 1.0, 0.0, None))
    h.runner.on_result(PollResult("connect:prod", "connect", 1.0, 0.0, None), newer)
    h.runner.run_pending()
    assert seen == [("prod", newer)]


def test_dry_run_sends_nothing(tmp_path):
    h = Harness(tmp_path, {"dry_run": True})
    ((_decision, outcome),) = h.poll(failed())  # FakeConnect fails on any request
    assert outcome is Outcome.WOULD_RESTART and h.fake.seen == []
    assert 'result="would_restart"} 1' in h.metrics()
    assert 'cdc_remediation_mode{mode="dry_run"} 1' in h.metrics()
    assert h.notices[0].text().startswith("Would restart task 0 of inv")


def test_disabled_does_nothing(tmp_path):
    h = Harness(tmp_path, {"enabled": False})
    assert h.poll(failed()) == []
    assert h.runner.on_result(PollResult("connect:prod", "connect", 0.0, 0.0, None), h.store.current()) is None
    assert 'cdc_remediation_mode{mode="off"} 1' in h.metrics()
    assert not h.state_path.exists()


def test_non_retriable_suppression_is_logged_with_hint_and_counted(tmp_path, caplog):
    h = Harness(tmp_path)
    with caplog.at_level(logging.INFO, logger="cdc_watch.remediation.runner"):
        ((decision, outcome),) = h.poll(failed(trace=NON_RETRIABLE))
        h.clock.advance(10)
        assert h.poll(failed(trace=NON_RETRIABLE)) == []
    assert outcome is None and decision.reason is Suppression.NON_RETRIABLE
    assert (
        'cdc_remediation_suppressed_total{connect_cluster="prod",connector="inv",reason="non_retriable"} 1'
        in h.metrics()
    )
    (record,) = [r for r in caplog.records if r.getMessage() == "not restarting: non_retriable"]
    assert record.kind == "access_denied" and "password" in record.hint
    assert "Access denied for user 'debezium'" in record.failure


def test_backoff_survives_a_daemon_restart(tmp_path):
    h = Harness(tmp_path)
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, 202, RESTARTING["body"])
    h.poll(failed())
    h.clock.advance(30)
    h.runner = h.new_runner()  # a new daemon process reading the same state file
    ((decision, outcome),) = h.poll(failed())
    assert decision.reason is Suppression.BACKOFF and outcome is None
    assert decision.next_allowed == h.clock.now() - 30 + 120


def test_corrupt_state_file_is_set_aside_and_runner_starts_clean(tmp_path, caplog):
    h = Harness(tmp_path)
    h.state_path.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        h.runner = h.new_runner()
    assert any("state file unreadable" in r.getMessage() for r in caplog.records)
    assert list(tmp_path.glob("state.json.corrupt-*"))
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, 202, RESTARTING["body"])
    ((_, outcome),) = h.poll(failed())
    assert outcome is Outcome.RESTARTED


def test_malformed_remediation_section_starts_clean(tmp_path, caplog):
    h = Harness(tmp_path)
    h.state_path.write_text(
        json.dumps({"version": 1, "sections": {"remediation": {"clusters": {"prod": {"inv": {"attempts": "x"}}}}}})
    )
    with caplog.at_level(logging.WARNING):
        h.runner = h.new_runner()
    assert any(r.getMessage() == "remediation state unreadable; starting clean" for r in caplog.records)
    assert h.runner.state.records == {}


def test_notifier_failure_does_not_stop_remediation(tmp_path):
    h = Harness(tmp_path)

    def broken(_notice):
        raise RuntimeError("slack down")

    h.runner.notify = broken
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, 202, RESTARTING["body"])
    ((_, outcome),) = h.poll(failed())
    assert outcome is Outcome.RESTARTED


def test_max_restarts_gives_up_with_a_notice(tmp_path):
    h = Harness(tmp_path, {"max_restarts": 1})
    h.fake.expect("POST", "/connectors/inv/restart", KIP745, 202, RESTARTING["body"])
    h.poll(failed())
    h.clock.advance(200)
    ((decision, _),) = h.poll(failed())
    assert decision.reason is Suppression.MAX_RESTARTS
    assert h.notices[-1].outcome == "gave_up"
    assert "max_restarts reached" in h.notices[-1].text()


@pytest.mark.parametrize("kind", ["jolokia", "connect_offsets"])
def test_only_connect_polls_trigger_a_run(tmp_path, kind):
    h = Harness(tmp_path)
    h.runner.on_result(PollResult(f"{kind}:prod", kind, 0.0, 0.0, None), h.store.current())
    assert h.fake.seen == []
