"""What lets one daemon watch thousands of connectors (issue 24): the expanded reply decoded one
connector at a time, traces kept as a bounded `Failure` and explained once while they stay, the
per-task switch of the exporter, and the offsets source bounded in what it asks, how many at a
time and for how long. On replies recorded from the real stack, through a fake that asserts the
exact requests."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdc_watch.core.model import ErrorReason, PollResult, SourceFailure
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.exporter.connect import connect_metrics
from cdc_watch.exporter.exposition import PER_TASK
from cdc_watch.exporter.render import render
from cdc_watch.sources.connect import failures, parse
from cdc_watch.sources.connect.model import State
from cdc_watch.sources.connect.poll import ConnectOffsetsSource, ConnectSource
from cdc_watch.sources.mysql.model import Endpoint
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.recorded import ROOT, body
from tests.unit.test_connect_source import EXPAND, cluster, serve_cluster

EXPANDED_FIXTURES = sorted(p.stem for p in (ROOT / "connect").glob("connectors_expand_*.json"))
FAILED = "connectors_expand_failed_task_non_retriable"


@pytest.fixture
def fake():
    with FakeHTTP() as server:
        yield server
    assert not server.unexpected, f"unexpected requests: {[(s.method, s.path) for s in server.unexpected]}"


def encoded(reply: dict) -> bytes:
    return json.dumps(reply).encode()


def failed_entry() -> tuple[str, dict]:
    reply = body("connect", FAILED)
    return next((n, e) for n, e in reply.items() if any(t.get("trace") for t in e["status"]["tasks"]))


def copies(n: int, unique_traces: bool = False) -> dict:
    """`n` copies of the recorded FAILED connector, each with its own password."""
    name, entry = failed_entry()
    reply = {}
    for i in range(n):
        copy_ = copy.deepcopy(entry)
        copy_["info"]["config"]["database.password"] = f"pw-of-connector-{i}"
        if unique_traces:
            for task in copy_["status"]["tasks"]:
                task["trace"] = f"copy {i}: {task['trace']}"
        reply[f"{name}-{i}"] = copy_
    return reply


# ------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize("fixture", EXPANDED_FIXTURES)
def test_the_lazy_decoding_reads_every_recorded_reply_as_plain_json_does(fixture):
    reply = body("connect", fixture)
    lazy = parse.read_expanded(parse.decode_expanded(encoded(reply), "GET x"))
    plain = parse.read_expanded(reply)
    assert lazy == plain
    assert (lazy.no_status, lazy.no_info) == parse.incomplete_entries(reply)


def test_odd_entries_take_the_careful_path_with_the_same_result():
    reply = body("connect", FAILED)
    _name, entry = failed_entry()
    odd = copy.deepcopy(entry)
    odd["status"]["tasks"][0]["id"] = "0"  # a string id
    odd["status"]["tasks"].append({"id": 7, "state": "DESTROYING", "worker_id": "w:8083"})
    reply["odd-ids"] = odd
    reply["tasks-not-a-list"] = dict(copy.deepcopy(entry), status=dict(entry["status"], tasks="none"))
    reply["status-a-list"] = dict(copy.deepcopy(entry), status=[])
    reply["not-an-object"] = 7
    reply["no-info"] = dict(copy.deepcopy(entry), info=None)
    lazy = parse.read_expanded(parse.decode_expanded(encoded(reply), "GET x"))
    assert lazy == parse.read_expanded(reply)
    assert lazy.connectors["odd-ids"].tasks[0].failure is not None
    assert any("unknown state 'DESTROYING'" in p for p in lazy.problems)
    assert "not-an-object" not in lazy.connectors and "no-info" in lazy.no_info


def test_an_entry_that_cannot_be_decoded_is_reported_and_carried_not_the_whole_reply():
    reply = body("connect", "connectors_expand_two_workers")
    names = sorted(reply)
    reply[names[0]]["info"]["config"]["tasks.max"] = "ABSURD"
    raw = encoded(reply).replace(b'"ABSURD"', b"1e999")  # out of a float's range
    lazy = parse.read_expanded(parse.decode_expanded(raw, "GET x"))
    assert sorted(lazy.connectors) == names[1:]
    assert names[0] in lazy.no_status and names[0] in lazy.no_info  # carried from the last poll
    assert lazy.problems == [f"connector {names[0]}: entry cannot be decoded"]


@pytest.mark.parametrize(
    ("raw", "said"),
    [(b"[" * 100_000 + b"]" * 100_000, "nested deeper than"), (b"<html>proxy error</html>", "non-JSON body")],
)
def test_a_reply_too_deep_or_not_json_is_a_decode_failure(raw, said):
    with pytest.raises(SourceFailure) as caught:
        parse.decode_expanded(raw, "GET x")
    assert caught.value.reason is ErrorReason.DECODE and said in caught.value.message


def test_old_connect_answers_a_list_of_names():
    assert parse.decode_expanded(b'["a", "b"]', "GET x") == ["a", "b"]


# ------------------------------------------------------------------------------- traces


def test_a_failed_task_keeps_a_bounded_scrubbed_excerpt_its_classification_and_a_digest():
    name, entry = failed_entry()
    trace = entry["status"]["tasks"][0]["trace"]
    entry["info"]["config"]["database.password"] = "Sup3r-S3cret-Pw"
    entry["status"]["tasks"][0]["trace"] = trace + "\nCaused by: boom (Sup3r-S3cret-Pw)" + "\n\tat x.y(Z.java:1)" * 500
    state = parse.read_expanded(parse.decode_expanded(encoded({name: entry}), "GET x")).connectors[name]
    task = state.tasks[0]
    assert task.failure is not None and task.trace == task.failure.excerpt
    lines = task.trace.splitlines()
    assert len(lines) <= failures.TRACE_LINES and all(len(line) <= failures.TRACE_LINE_LIMIT for line in lines)
    assert "\tat " not in task.trace and "Sup3r-S3cret-Pw" not in task.trace and "Access denied" in task.trace
    assert task.failure.classification.kind == "access_denied"
    assert len(task.failure.digest) == 16 and int(task.failure.digest, 16) >= 0
    other = failures.explain(trace + "\nCaused by: something else")
    assert other is not None and other.digest != task.failure.digest


def test_a_trace_is_explained_once_while_it_stays_in_the_replies(monkeypatch):
    calls = []

    def spy(text, secrets=()):
        calls.append(text)
        return failures.explain(text, secrets)

    monkeypatch.setattr(parse, "explain", spy)
    memo = parse.FailureMemo()
    same = copies(3)
    first = parse.read_expanded(parse.decode_expanded(encoded(same), "GET x"), memo=memo)
    assert len(calls) == 3  # one per connector: each is scrubbed of its own password
    tasks = [c.tasks[0] for c in first.connectors.values()]
    assert tasks[0].failure is tasks[1].failure is tasks[2].failure  # equal failures share one object
    parse.read_expanded(parse.decode_expanded(encoded(same), "GET x"), memo=memo)
    assert len(calls) == 3  # the next poll hashes, it does not explain again
    parse.read_expanded(parse.decode_expanded(encoded(copies(3, unique_traces=True)), "GET x"), memo=memo)
    assert len(calls) == 6  # new traces are explained
    healthy = encoded(body("connect", "connectors_expand_healthy"))
    parse.read_expanded(parse.decode_expanded(healthy, "GET x"), memo=memo)
    parse.read_expanded(parse.decode_expanded(healthy, "GET x"), memo=memo)
    parse.read_expanded(parse.decode_expanded(encoded(same), "GET x"), memo=memo)
    assert len(calls) == 9  # the memo keeps only the last reply's failures


def test_an_unchanged_config_is_decoded_once_and_a_new_trace_is_still_scrubbed_of_its_secret(monkeypatch):
    decoded = []
    real = parse.secret_values

    def spy(config):
        decoded.append(config)
        return real(config)

    monkeypatch.setattr(parse, "secret_values", spy)
    memo = parse.FailureMemo()
    healthy = copies(3)
    for connector in healthy.values():
        for task in connector["status"]["tasks"]:
            task.pop("trace", None)
    first = parse.read_expanded(parse.decode_expanded(encoded(healthy), "GET x"), memo=memo)
    assert len(decoded) == 3  # one per connector
    second = parse.read_expanded(parse.decode_expanded(encoded(healthy), "GET x"), memo=memo)
    assert len(decoded) == 3  # unchanged: hashed, not decoded
    assert all(second.connectors[n] is first.connectors[n] for n in healthy)  # the same records
    name = sorted(healthy)[0]
    changed = copy.deepcopy(healthy)
    changed[name]["info"]["config"]["database.hostname"] = "moved.example"
    changed[name]["status"]["tasks"][0]["trace"] = "java.sql.SQLException: pw-of-connector-0 was refused"
    after = parse.read_expanded(parse.decode_expanded(encoded(changed), "GET x"), memo=memo)
    assert (
        after.connectors[name].settings.database_hostname
        == "moved.example"
        != first.connectors[name].settings.database_hostname
    )
    assert len(decoded) == 5  # the changed config, and its secrets again for the new trace
    assert "pw-of-connector-0" not in after.connectors[name].tasks[0].trace
    assert "was refused" in after.connectors[name].tasks[0].trace
    assert all(after.connectors[n] is first.connectors[n] for n in healthy if n != name)


def test_the_same_trace_is_scrubbed_of_each_connectors_own_secret():
    _name, entry = failed_entry()
    reply = {}
    for own in ("alpha-secret-1", "bravo-secret-2"):
        each = copy.deepcopy(entry)
        each["info"]["config"]["database.password"] = own
        each["status"]["tasks"][0]["trace"] += "\nCaused by: Access denied (alpha-secret-1 bravo-secret-2)"
        reply[own] = each
    connectors = parse.read_expanded(parse.decode_expanded(encoded(reply), "GET x")).connectors
    for own, other in (("alpha-secret-1", "bravo-secret-2"), ("bravo-secret-2", "alpha-secret-1")):
        excerpt = connectors[own].tasks[0].trace
        assert own not in excerpt and other in excerpt


def test_a_poll_keeps_no_trace_whole(fake):
    reply = copies(20, unique_traces=True)
    fake.route("GET", "/", Reply(200, body("connect", "root")))
    fake.route("GET", EXPAND, Reply(200, reply))
    state = ConnectSource(cluster(fake.url)).poll()
    whole = {t["trace"] for e in reply.values() for t in e["status"]["tasks"] if t.get("trace")}
    kept = [t.trace for c in state.connectors.values() for t in c.tasks if t.trace]
    assert len(kept) == 20 and not any(trace in whole for trace in kept)
    assert max(len(trace) for trace in kept) < min(len(trace) for trace in whole) / 2


# ----------------------------------------------------------------------------- exporter


def snapshot_of(fake: FakeHTTP, expanded: str):
    serve_cluster(fake, expanded)
    source = ConnectSource(cluster(fake.url))
    store = SnapshotStore()
    store.register([(source.name, source.kind)])
    store.record(PollResult(source.name, source.kind, 0.0, 0.1, source.poll()))
    return store.current()


def test_without_per_task_metrics_no_series_has_a_task_label_and_tasks_are_counted_per_connector(fake):
    snapshot = snapshot_of(fake, "connectors_expand_two_workers")
    full = render(snapshot, (connect_metrics,)).decode()
    small = render(snapshot, (connect_metrics,), per_task=False).decode()
    families = {f.name: f for f in text_string_to_metric_families(small)}
    assert all("task" not in s.labels for f in families.values() for s in f.samples)
    assert not PER_TASK & set(families)
    state = snapshot.sources["connect:prod"].last.data
    for connector in state.connectors.values():
        counted = {
            s.labels["state"]: s.value
            for s in families["cdc_connector_tasks_by_state"].samples
            if s.labels["connector"] == connector.name
        }
        assert counted == {str(st): sum(t.state is st for t in connector.tasks) for st in State if st != State.UNKNOWN}
    assert "cdc_connector_tasks_by_state" not in full  # the default keeps today's series
    kept = [line for line in full.splitlines() if "task=" not in line and "cdc_task_" not in line]
    assert all(line in small.splitlines() for line in kept)


def test_one_hot_groups_render_as_one_line_per_state(fake):
    text = render(snapshot_of(fake, FAILED), (connect_metrics,)).decode()
    failed = [line for line in text.splitlines() if line.startswith("cdc_task_state{") and 'task="0"' in line]
    names = {line.split('connector="')[1].split('"')[0] for line in failed}
    assert len(failed) == 6 * len(names)
    assert sum(line.endswith(" 1") for line in failed) == len(names)
    assert [line.split('state="')[1].split('"')[0] for line in failed[:6]] == [
        "UNASSIGNED",
        "RUNNING",
        "PAUSED",
        "STOPPED",
        "RESTARTING",
        "FAILED",
    ]
    assert list(text_string_to_metric_families(text))


# ------------------------------------------------------------------------------ offsets


def offsets_state(fake: FakeHTTP, **extra):
    serve_cluster(fake, "connectors_expand_two_workers")
    cl = cluster(fake.url, **extra)
    state = ConnectSource(cl).poll()
    fake.requests.clear()
    store = SnapshotStore()
    store.register([("connect:prod", "connect"), ("connect_offsets:prod", "connect_offsets")])
    store.record(PollResult("connect:prod", "connect", 0.0, 0.1, state))
    return cl, sorted(state.connectors), store


def offsets_paths(fake: FakeHTTP) -> list[str]:
    return [r.path for r in fake.requests if r.path.endswith("/offsets")]


def test_offsets_are_asked_only_for_connectors_of_a_configured_database(fake):
    cl, names, store = offsets_state(fake)
    wanted = names[1]
    fake.route("GET", f"/connectors/{wanted}/offsets", Reply(200, body("connect", "connector_offsets_running")))
    databases = [Endpoint("orders", "db.other.example", 3306), Endpoint("inv", None, 3306, connectors=(wanted,))]
    offsets = ConnectOffsetsSource(cl, databases=databases).poll(store.current())
    assert offsets_paths(fake) == [f"/connectors/{wanted}/offsets"] and list(offsets) == [wanted]
    fake.requests.clear()
    assert not ConnectOffsetsSource(cl, databases=[]).poll(store.current())  # no database: no check needs them
    assert fake.requests == []


def test_offsets_requests_in_flight_are_bounded_by_offsets_concurrency(fake):
    cl, names, store = offsets_state(fake, offsets_concurrency=2)
    release = threading.Event()
    for name in names:
        fake.route(
            "GET", f"/connectors/{name}/offsets", Reply(200, body("connect", "connector_offsets_running"), gate=release)
        )
    source = ConnectOffsetsSource(cl)
    done: list = []
    poll = threading.Thread(target=lambda: done.append(source.poll(store.current())))
    poll.start()
    deadline = time.monotonic() + 10
    while len(fake.requests) < 2 and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    workers = [t for t in threading.enumerate() if t.name.startswith(f"{source.name}-")]
    assert len(workers) == 2 and len(fake.requests) == 2  # both held in flight, no third one sent
    release.set()
    poll.join(10)
    assert sorted(done[0]) == names and sorted(offsets_paths(fake)) == sorted(f"/connectors/{n}/offsets" for n in names)


def test_connectors_the_offsets_budget_did_not_reach_are_stale_and_read_first_next_time(fake):
    cl, names, store = offsets_state(fake, offsets_concurrency=2, offsets_budget="500ms", timeout="2s")
    hung = threading.Event()  # never set: the request holds one of the two workers until the budget ends
    slow, *others = names
    fake.route("GET", f"/connectors/{slow}/offsets", Reply(200, {}, gate=hung))
    for name in others:
        fake.route("GET", f"/connectors/{name}/offsets", Reply(200, body("connect", "connector_offsets_running")))
    source = ConnectOffsetsSource(cl)
    t0 = time.monotonic()
    first = source.poll(store.current())
    assert time.monotonic() - t0 < 1.5  # the budget, not the 2 s request timeout
    assert first.stale == frozenset({slow}) and sorted(first) == others
    store.record(PollResult("connect_offsets:prod", "connect_offsets", 1.0, 0.1, first))
    connect_state = store.current().sources["connect:prod"].last.data
    assert source.wanted(connect_state, first) == [slow, *others]  # the stale one goes first next time


def test_failing_offsets_log_one_summary_line_per_cycle_never_one_per_connector(fake, caplog):
    cl, names, store = offsets_state(fake)
    name = names[0]
    for each in names:
        reply = Reply(500, {"error_code": 500, "message": "offsets unavailable"})
        fake.route(
            "GET",
            f"/connectors/{each}/offsets",
            reply if each != name else Reply(200, body("connect", "connector_offsets_running")),
        )
    source = ConnectOffsetsSource(cl)
    logger = "cdc_watch.sources.connect.poll"
    with caplog.at_level(logging.INFO, logger=logger):
        first = source.poll(store.current())
    lines = [r for r in caplog.records if r.name == logger]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert lines[0].stale == lines[0].new == len(names) - 1 and lines[0].reasons == f"http_status={len(names) - 1}"
    store.record(PollResult("connect_offsets:prod", "connect_offsets", 1.0, 0.1, first))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=logger):
        second = source.poll(store.current())
    assert second.stale == first.stale and not [r for r in caplog.records if r.name == logger]


def recorded_traces() -> list[str]:
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "trace" and isinstance(inner, str):
                    found.append(inner)
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for path in sorted(ROOT.rglob("*.json")):
        walk(json.loads(path.read_text()))
    return found


def test_a_kept_failure_says_what_classifying_and_excerpting_the_scrubbed_trace_says():
    from cdc_watch.core.redact import scrub

    traces = recorded_traces()
    assert len(traces) >= 10
    for trace in traces + [t.replace("\n", "\r\n") for t in traces]:
        failure = failures.explain(trace, {"REDACTED"})
        text = scrub(trace, {"REDACTED"})
        assert failure is not None
        assert failure.excerpt == failures.trace_excerpt(text)
        assert failure.classification == failures.classify(text)
