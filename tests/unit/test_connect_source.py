"""Connect REST source on replies recorded from the real stack, through a fake that asserts
the exact requests."""

from __future__ import annotations

import json

import pytest

from cdc_watch.config import parse_config
from cdc_watch.core.model import ErrorReason, PollResult, SourceError, SourceFailure
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.sources.connect import parse
from cdc_watch.sources.connect.model import State
from cdc_watch.sources.connect.poll import ConnectOffsetsSource, ConnectSource
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.recorded import body, recorded

EXPAND = "/connectors?expand=status&expand=info"


def cluster(*urls: str, **extra):
    return parse_config(
        {"connect_clusters": [{"name": "prod", "urls": list(urls), "timeout": "2s", **extra}]}
    ).connect_clusters[0]


@pytest.fixture
def fake():
    with FakeHTTP() as server:
        yield server
    assert not server.unexpected, f"unexpected requests: {[(s.method, s.path) for s in server.unexpected]}"


def serve_cluster(fake: FakeHTTP, expanded: str = "connectors_expand_healthy") -> None:
    fake.route("GET", "/", Reply(200, body("connect", "root")))
    fake.route("GET", EXPAND, Reply(200, body("connect", expanded)))


def test_healthy_cluster_in_two_requests(fake):
    serve_cluster(fake)
    state = ConnectSource(cluster(fake.url)).poll()
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/"), ("GET", EXPAND)]
    assert state.version == "3.9.0" and state.kafka_cluster_id
    connector = next(iter(state.connectors.values()))
    assert connector.state is State.RUNNING and connector.type == "source"
    assert [t.state for t in connector.tasks] == [State.RUNNING]
    assert connector.settings.is_debezium_mysql
    assert connector.settings.topic_prefix and connector.settings.database_user == "debezium"
    assert state.workers == {connector.worker_id}


def test_connector_config_secrets_are_dropped_at_parse_time():
    reply = body("connect", "connectors_expand_failed_task_non_retriable")
    name = next(n for n, e in reply.items() if any(t.get("trace") for t in e["status"]["tasks"]))
    reply[name]["info"]["config"]["database.password"] = "Sup3r-S3cret-Pw"
    task = reply[name]["status"]["tasks"][0]
    task["trace"] = task["trace"] + "\nCaused by: boom password=Sup3r-S3cret-Pw"
    connectors, _, _ = parse.parse_expanded(reply)
    assert "Sup3r-S3cret-Pw" not in repr(connectors)
    assert "Access denied" in connectors[name].tasks[0].trace


@pytest.mark.parametrize(
    ("fixture", "cause"),
    [
        ("connectors_expand_failed_task_retriable", "Communications link failure"),
        ("connectors_expand_failed_task_non_retriable", "Access denied"),
    ],
)
def test_failed_task_with_its_trace(fixture, cause):
    connectors, _, problems = parse.parse_expanded(body("connect", fixture))
    failed = [c for c in connectors.values() if any(t.state is State.FAILED for t in c.tasks)]
    assert len(failed) == 1 and not problems
    assert failed[0].state is State.RUNNING  # the normal Debezium picture: connector RUNNING, task FAILED
    assert cause in failed[0].tasks[0].trace


def test_task_still_running_while_the_database_is_down():
    connectors, _, _ = parse.parse_expanded(body("connect", "connectors_expand_db_down_still_running"))
    assert all(t.state is State.RUNNING for c in connectors.values() for t in c.tasks)


def test_restarting_state_keeps_the_old_trace():
    reply = body("connect", "restart_202_restarting_retriable")
    _state, _kind, _worker, _trace, tasks, problems = parse.parse_status("rec", reply)
    assert tasks[0].state is State.RESTARTING and tasks[0].trace
    assert not problems


def test_partial_entries_are_kept_and_reported():
    reply = body("connect", "connectors_expand_healthy")
    name = next(iter(reply))
    reply["no-status-yet"] = {"info": reply[name]["info"]}
    reply["vanished"] = {"status": reply[name]["status"], "info": None}
    reply["weird-state"] = json.loads(json.dumps(reply[name]))
    reply["weird-state"]["status"]["connector"]["state"] = "DESTROYED"
    reply["garbage"] = 42
    connectors, _, problems = parse.parse_expanded(reply)
    assert connectors["no-status-yet"].state is State.UNKNOWN
    assert connectors["vanished"].settings is None and connectors["vanished"].state is State.RUNNING
    assert connectors["weird-state"].state is State.UNKNOWN
    assert "garbage" not in connectors
    assert len(problems) == 4


def test_include_exclude_counts_what_it_hides():
    reply = body("connect", "connectors_expand_healthy")
    name = next(iter(reply))
    connectors, excluded, _ = parse.parse_expanded(reply, cluster("http://x", exclude=[name]).selects)
    assert name not in connectors and excluded == 1
    assert len(connectors) == len(reply) - 1


def test_401_plain_text_is_an_auth_error_without_the_body(fake):
    fake.route("GET", "/", Reply(401, "User cannot access the resource.", content_type="text/plain"))
    with pytest.raises(SourceFailure) as caught:
        ConnectSource(cluster(fake.url)).poll()
    assert caught.value.reason is ErrorReason.AUTH
    assert "User cannot" not in caught.value.message


def test_basic_auth_is_sent_preemptively(fake, monkeypatch):
    monkeypatch.setenv("CW_TEST_PW", "pw-value")
    serve_cluster(fake)
    ConnectSource(cluster(fake.url, auth={"username": "cdc", "password": "${CW_TEST_PW}"})).poll()
    assert fake.requests[0].headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(409, body("connect", "error_409_connector_exists")), ErrorReason.CONFLICT),
        (
            Reply(500, {"error_code": 500, "message": "Request cannot be completed because a rebalance is expected"}),
            ErrorReason.CONFLICT,
        ),
        (Reply(200, "<html>proxy error</html>", content_type="text/html"), ErrorReason.DECODE),
        (Reply(200, [1, 2]), ErrorReason.DECODE),  # a list, but not of names
        (Reply(404, body("connect", "error_404_unknown_path")), ErrorReason.HTTP_STATUS),
        (Reply(503, "upstream down", content_type="text/plain"), ErrorReason.HTTP_STATUS),
    ],
    ids=["409", "rebalance-500", "html", "wrong-shape", "404", "503"],
)
def test_bad_replies_become_typed_errors(fake, reply, reason):
    fake.route("GET", "/", Reply(200, body("connect", "root")))
    fake.route("GET", EXPAND, reply)
    with pytest.raises(SourceFailure) as caught:
        ConnectSource(cluster(fake.url)).poll()
    assert caught.value.reason is reason


def test_timeout(fake):
    fake.route("GET", "/", Reply(200, body("connect", "root"), delay=1.0))
    source = ConnectSource(cluster(fake.url, timeout="200ms"))
    with pytest.raises(SourceFailure) as caught:
        source.poll()
    assert caught.value.reason is ErrorReason.TIMEOUT


def test_next_worker_is_tried_and_then_preferred(fake):
    serve_cluster(fake)
    source = ConnectSource(cluster("http://127.0.0.1:9", fake.url))
    assert source.poll().worker_url == fake.url
    assert source.client.last_url == fake.url
    fake.requests.clear()
    source.poll()
    assert len(fake.requests) == 2  # went straight to the worker that answered last time


def test_all_workers_down_is_a_connect_error():
    with pytest.raises(SourceFailure) as caught:
        ConnectSource(cluster("http://127.0.0.1:9", "http://127.0.0.1:7")).poll()
    assert caught.value.reason is ErrorReason.CONNECT
    assert "all 2 workers failed" in caught.value.message


def test_cluster_older_than_2_3_uses_per_connector_calls(fake):
    names = body("connect", "connectors_names")
    status = body("connect", "connector_status_running")
    config = body("connect", "connector_info")["config"]
    root = dict(body("connect", "root"), version="2.2.1")
    fake.route("GET", "/", Reply(200, root))
    fake.route("GET", EXPAND, Reply(200, names))  # before 2.3 `expand` is ignored
    for name in names:
        fake.route("GET", f"/connectors/{name}/status", Reply(200, dict(status, name=name)))
        fake.route("GET", f"/connectors/{name}/config", Reply(200, config))
    state = ConnectSource(cluster(fake.url)).poll()
    assert sorted(state.connectors) == sorted(names)
    assert all(c.settings is not None for c in state.connectors.values())


def test_offsets_source_reads_debezium_connectors_only(fake):
    serve_cluster(fake)
    cl = cluster(fake.url)
    connect_state = ConnectSource(cl).poll()
    name = next(iter(connect_state.connectors))
    offsets_reply = recorded("connect", "connector_offsets_running")
    for each in connect_state.connectors:
        fake.route("GET", f"/connectors/{each}/offsets", Reply(200, offsets_reply["body"]))
    store = SnapshotStore()
    store.register([("connect:prod", "connect"), ("connect_offsets:prod", "connect_offsets")])
    store.record(PollResult("connect:prod", "connect", 0.0, 0.1, connect_state))
    offsets = ConnectOffsetsSource(cl).poll(store.current())
    ((partition, offset),) = offsets[name]
    assert "server" in partition and offset["file"].startswith("mysql-bin.") and offset["pos"] > 0


def test_offsets_source_skips_clusters_without_the_offsets_api(fake):
    serve_cluster(fake)
    cl = cluster(fake.url)
    connect_state = ConnectSource(cl).poll()
    old = parse.build_cluster_state("prod", fake.url, ("3.4.0", "", ""), dict(connect_state.connectors), 0, [])
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    store.record(PollResult("connect:prod", "connect", 0.0, 0.1, old))
    fake.requests.clear()
    assert dict(ConnectOffsetsSource(cl).poll(store.current())) == {}
    assert fake.requests == []


def test_a_post_that_timed_out_is_not_sent_to_another_worker():
    with FakeHTTP() as slow, FakeHTTP() as other:
        slow.route("POST", "/connectors/x/restart?includeTasks=true&onlyFailed=true", Reply(202, {}, delay=1.0))
        source = ConnectSource(cluster(slow.url, other.url, timeout="200ms"))
        with pytest.raises(SourceFailure) as caught:
            source.client.request(
                "POST", "/connectors/x/restart", params=[("includeTasks", "true"), ("onlyFailed", "true")]
            )
        assert caught.value.reason is ErrorReason.TIMEOUT
        assert other.requests == []


def test_a_post_moves_on_when_the_first_worker_refused_the_connection(fake):
    fake.route("POST", "/connectors/x/restart", Reply(204))
    source = ConnectSource(cluster("http://127.0.0.1:9", fake.url))
    assert source.client.request("POST", "/connectors/x/restart").status_code == 204
    assert len(fake.requests) == 1


def test_a_post_answered_with_500_is_not_repeated_elsewhere(fake):
    with FakeHTTP() as other:
        fake.route("POST", "/connectors/x/restart", Reply(500, {"error_code": 500, "message": "boom"}))
        source = ConnectSource(cluster(fake.url, other.url))
        assert source.client.request("POST", "/connectors/x/restart").status_code == 500
        assert other.requests == []


def test_credentials_in_a_url_never_reach_an_error_message():
    from cdc_watch.config import ConnectCluster

    # Config refuses such a URL; a cluster built around validation must still not leak it.
    leaky = ConnectCluster.model_construct(**dict(cluster("http://x"), urls=("http://admin:Url-Pw-1@127.0.0.1:9",)))
    source = ConnectSource(leaky)
    with pytest.raises(SourceFailure) as caught:
        source.poll()
    assert "127.0.0.1:9" in caught.value.message
    assert "Url-Pw-1" not in caught.value.message and "admin" not in caught.value.message
    assert "Url-Pw-1" not in source.client.last_url


def test_a_trickling_reply_times_out_at_the_overall_timeout(fake):
    # Every byte arrives well within the timeout, so per-read timeouts alone never fire.
    fake.route(
        "GET",
        "/",
        Reply(200, b'{"version": "3.9.0", "commit": "c", "kafka_cluster_id": "k"}' + b" " * 40, trickle=0.05),
    )
    with pytest.raises(SourceFailure) as caught:
        ConnectSource(cluster(fake.url, timeout="300ms")).poll()
    assert caught.value.reason is ErrorReason.TIMEOUT


def test_failover_stops_at_the_poll_deadline_and_the_next_poll_starts_where_it_stopped():
    with FakeHTTP() as first, FakeHTTP() as second, FakeHTTP() as third:
        for hung in (first, second):
            hung.route("GET", "/", Reply(200, body("connect", "root"), delay=2.0))
        serve_cluster(third)
        source = ConnectSource(cluster(first.url, second.url, third.url, timeout="300ms", poll_interval="450ms"))
        with pytest.raises(SourceFailure) as caught:
            source.poll()
        assert caught.value.reason is ErrorReason.TIMEOUT
        assert "poll deadline reached after 2 of 3 workers" in caught.value.message
        assert third.requests == []
        assert source.poll().worker_url == third.url  # straight to the worker not reached
        assert len(first.requests) == len(second.requests) == 1


def offsets_world(fake: FakeHTTP, expanded: str = "connectors_expand_two_workers"):
    """The Connect state of a recorded reply recorded in a store, as the offsets source sees it."""
    serve_cluster(fake, expanded)
    cl = cluster(fake.url, timeout="300ms")
    state = ConnectSource(cl).poll()
    fake.requests.clear()
    store = SnapshotStore()
    store.register([("connect:prod", "connect"), ("connect_offsets:prod", "connect_offsets")])
    store.record(PollResult("connect:prod", "connect", 0.0, 0.1, state))
    return cl, state, store


def test_offsets_source_waits_for_the_first_connect_poll_instead_of_failing(fake):
    from cdc_watch.core.clock import FakeClock
    from cdc_watch.core.poller import NotReady, Poller

    cl = cluster(fake.url)
    store = SnapshotStore()
    store.register([("connect:prod", "connect"), ("connect_offsets:prod", "connect_offsets")])
    source = ConnectOffsetsSource(cl)
    with pytest.raises(NotReady):
        source.poll(store.current())
    assert Poller(source, store, FakeClock()).poll_once() is None
    assert store.current().sources["connect_offsets:prod"].last is None  # not polled, no error
    assert fake.requests == []
    # Once Connect has answered (even with an error) the offsets source polls for real.
    store.record(
        PollResult("connect:prod", "connect", 0.0, 0.1, None, error=SourceError(ErrorReason.CONNECT, "refused"))
    )
    with pytest.raises(SourceFailure) as caught:
        source.poll(store.current())
    assert caught.value.reason is ErrorReason.CONNECT


def test_offsets_use_the_last_good_connector_list_while_connect_fails(fake):
    cl, state, store = offsets_world(fake, "connectors_expand_healthy")
    store.record(PollResult("connect:prod", "connect", 1.0, 0.1, None, SourceError(ErrorReason.TIMEOUT, "timed out")))
    (name,) = state.connectors
    fake.route("GET", f"/connectors/{name}/offsets", Reply(200, body("connect", "connector_offsets_running")))
    assert list(ConnectOffsetsSource(cl).poll(store.current())) == [name]


def test_one_connector_timing_out_keeps_its_previous_offsets_and_the_others(fake, caplog):
    cl, state, store = offsets_world(fake)
    names = sorted(state.connectors)
    slow, *others = names
    running = body("connect", "connector_offsets_running")
    for name in names:
        fake.route("GET", f"/connectors/{name}/offsets", Reply(200, running))
    source = ConnectOffsetsSource(cl)
    first = source.poll(store.current())
    assert sorted(first) == names and first.stale == frozenset()
    store.record(PollResult("connect_offsets:prod", "connect_offsets", 1.0, 0.1, first))

    moved = json.loads(json.dumps(running))
    moved["offsets"][0]["offset"]["pos"] += 1000
    for name in others:
        fake.route("GET", f"/connectors/{name}/offsets", Reply(200, moved))
    fake.route("GET", f"/connectors/{slow}/offsets", Reply(200, moved, delay=1.0))
    with caplog.at_level("INFO", logger="cdc_watch.sources.connect"):
        second = source.poll(store.current())
        store.record(PollResult("connect_offsets:prod", "connect_offsets", 2.0, 0.1, second))
        third = source.poll(store.current())
    assert second.stale == third.stale == frozenset({slow})
    assert second[slow] == first[slow]  # carried over, not dropped
    assert all(second[n][0][1]["pos"] == first[n][0][1]["pos"] + 1000 for n in others)
    assert caplog.text.count("offsets not read") == 1  # logged once, not on every poll

    from cdc_watch.exporter.connect import connect_metrics
    from cdc_watch.exporter.render import render

    store.record(PollResult("connect_offsets:prod", "connect_offsets", 3.0, 0.1, third))
    assert 'cdc_connect_offsets_stale{connect_cluster="prod"} 1' in render(store.current(), (connect_metrics,)).decode()


def test_offsets_poll_fails_only_when_no_request_is_answered(fake):
    _cl, state, store = offsets_world(fake)
    down = cluster("http://127.0.0.1:9", timeout="300ms")
    with pytest.raises(SourceFailure) as caught:
        ConnectOffsetsSource(down).poll(store.current())
    assert caught.value.reason is ErrorReason.CONNECT
    assert f"no offsets request of {len(state.connectors)} answered" in caught.value.message


def poll_with_previous(source: ConnectSource, store: SnapshotStore):
    state = source.poll(store.current())
    store.record(PollResult("connect:prod", "connect", 0.0, 0.1, state))
    return state


def test_a_connector_whose_status_is_missing_keeps_its_last_status_for_a_grace_period(fake, caplog):
    from cdc_watch.exporter.connect import connect_metrics
    from cdc_watch.exporter.render import render

    serve_cluster(fake, "connectors_expand_two_workers")
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    source = ConnectSource(cluster(fake.url))
    before = poll_with_previous(source, store)
    gap = sorted(before.connectors)[0]
    partial = body("connect", "connectors_expand_two_workers")
    del partial[gap]["status"]
    fake.route("GET", EXPAND, Reply(200, partial))
    with caplog.at_level("INFO", logger="cdc_watch.sources.connect"):
        states = [poll_with_previous(source, store) for _ in range(parse.INCOMPLETE_GRACE_POLLS + 1)]
    for polls, state in enumerate(states[:-1], 1):
        assert state.connectors[gap] == before.connectors[gap]  # last known status, not UNKNOWN
        assert dict(state.incomplete) == {gap: polls}
    assert states[-1].connectors[gap].state is State.UNKNOWN  # grace over: what the reply says
    assert caplog.text.count("missing its status or info") == 1
    text = render(store.current(), (connect_metrics,)).decode()
    assert 'cdc_connect_connectors_incomplete{connect_cluster="prod"} 1' in text
    fake.route("GET", EXPAND, Reply(200, body("connect", "connectors_expand_two_workers")))
    with caplog.at_level("INFO", logger="cdc_watch.sources.connect"):
        assert poll_with_previous(source, store).incomplete == {}
    assert "complete again" in caplog.text
    assert ("GET", "/connectors") not in [(r.method, r.path) for r in fake.requests]  # nothing went missing


def test_an_omitted_entry_is_carried_while_listed_and_a_deleted_connector_vanishes(fake):
    serve_cluster(fake, "connectors_expand_two_workers")
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    source = ConnectSource(cluster(fake.url))
    before = poll_with_previous(source, store)
    omitted, deleted = sorted(before.connectors)[:2]
    reply = body("connect", "connectors_expand_two_workers")
    del reply[omitted], reply[deleted]
    fake.route("GET", EXPAND, Reply(200, reply))
    fake.route("GET", "/connectors", Reply(200, sorted(set(before.connectors) - {deleted})))
    state = poll_with_previous(source, store)
    assert state.connectors[omitted] == before.connectors[omitted]
    assert deleted not in state.connectors
    assert dict(state.incomplete) == {omitted: 1}
    assert state.deleted == {deleted}  # confirmed by the listing: the rules resolve at once


def test_a_missing_connector_is_not_confirmed_deleted_when_the_listing_fails(fake):
    serve_cluster(fake, "connectors_expand_two_workers")
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    source = ConnectSource(cluster(fake.url))
    before = poll_with_previous(source, store)
    gone = sorted(before.connectors)[0]
    reply = body("connect", "connectors_expand_two_workers")
    del reply[gone]
    fake.route("GET", EXPAND, Reply(200, reply))
    fake.route("GET", "/connectors", Reply(500, {"error_code": 500, "message": "boom"}))
    state = poll_with_previous(source, store)
    assert gone not in state.connectors and state.deleted == frozenset()  # vanished_after decides


def states_of(state) -> dict[str, tuple[State, tuple[State, ...]]]:
    return {name: (c.state, tuple(t.state for t in c.tasks)) for name, c in state.connectors.items()}


def rendered(state) -> str:
    from cdc_watch.exporter.connect import connect_metrics
    from cdc_watch.exporter.render import render

    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    store.record(PollResult("connect:prod", "connect", 0.0, 0.1, state))
    return render(store.current(), (connect_metrics,)).decode()


def test_recorded_paused_and_stopped_connectors(fake):
    serve_cluster(fake, "connectors_expand_paused_and_stopped")
    state = ConnectSource(cluster(fake.url)).poll()
    seen = states_of(state)
    paused = next(n for n, (s, _) in seen.items() if s is State.PAUSED)
    stopped = next(n for n, (s, _) in seen.items() if s is State.STOPPED)
    assert seen[paused] == (State.PAUSED, (State.PAUSED,))
    assert seen[stopped] == (State.STOPPED, ())  # Connect 3.5+ STOPPED: no tasks at all
    assert not state.problems
    text = rendered(state)
    assert f'cdc_connector_state{{connect_cluster="prod",connector="{paused}",state="PAUSED"}} 1' in text
    assert f'cdc_connector_state{{connect_cluster="prod",connector="{stopped}",state="STOPPED"}} 1' in text
    assert f'cdc_connector_tasks{{connect_cluster="prod",connector="{stopped}"}} 0' in text
    assert f'cdc_connector_state{{connect_cluster="prod",connector="{stopped}",state="RUNNING"}} 0' in text


def test_recorded_unassigned_connectors_after_a_worker_left(fake):
    serve_cluster(fake, "connectors_expand_unassigned")
    state = ConnectSource(cluster(fake.url)).poll()
    unassigned = {n for n, (s, _) in states_of(state).items() if s is State.UNASSIGNED}
    assert len(unassigned) == 2
    for name in unassigned:
        # The connector instance lost its worker; its task still runs on the other one.
        assert states_of(state)[name][1] == (State.RUNNING,)
    text = rendered(state)
    for name in unassigned:
        assert f'cdc_connector_state{{connect_cluster="prod",connector="{name}",state="UNASSIGNED"}} 1' in text


def test_recorded_tasks_spread_over_two_workers(fake):
    serve_cluster(fake, "connectors_expand_two_workers")
    state = ConnectSource(cluster(fake.url)).poll()
    assert state.workers == {"127.0.0.1:18083", "127.0.0.1:18084"}
    tasks = {w: sum(t.worker_id == w for c in state.connectors.values() for t in c.tasks) for w in state.workers}
    text = rendered(state)
    assert 'cdc_connect_workers{connect_cluster="prod"} 2' in text
    for worker, count in tasks.items():
        assert f'cdc_connect_worker_tasks{{connect_cluster="prod",worker="{worker}"}} {count}' in text
    assert sum(tasks.values()) == len(state.connectors)
