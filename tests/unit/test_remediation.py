"""The remediation policy as a pure function under a fake clock."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest

from cdc_watch.config import RemediationConfig
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.model import PollResult
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.remediation.policy import (
    ConnectorRecord,
    Decision,
    Method,
    Outcome,
    RemediationState,
    Suppression,
    Trigger,
    apply_outcome,
    backoff_delay,
    evaluate,
)
from cdc_watch.sources.connect import parse as connect_parse
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
    TaskStatus,
)
from cdc_watch.sources.jolokia.model import JolokiaClusterState, StreamingMetrics
from cdc_watch.sources.mysql.model import DatabaseState, Endpoint, Identity
from cdc_watch.sources.mysql.parse import BinlogFile, Flavour, HeadPosition, ServerInfo

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "remediation"


def _recorded(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _failed_trace(body: dict) -> str:
    return next(t["trace"] for t in body["tasks"] if t["state"] == "FAILED")


RETRIABLE = _recorded("restart_202_restarting.json")["body"]["tasks"][0]["trace"]  # Communications link failure
NON_RETRIABLE = _failed_trace(_recorded("status_task_failed_access_denied.json")["body"])  # Access denied
UNKNOWN = "java.lang.NullPointerException: oops\n\tat a.B.c(B.java:1)\n"

SETTINGS = ConnectorSettings(
    connector_class="io.debezium.connector.mysql.MySqlConnector",
    topic_prefix="inv",
    database_hostname="127.0.0.1",
    database_port=3306,
    database_user="debezium",
    tasks_max=1,
)


def connector(
    name: str = "inv",
    task_state: State = State.FAILED,
    trace: str | None = RETRIABLE,
    state: State = State.RUNNING,
    connector_trace: str | None = None,
    tasks: int = 1,
) -> ConnectorStatus:
    task_list = tuple(
        TaskStatus(i, task_state, "w1:8083", trace if task_state is State.FAILED else None) for i in range(tasks)
    )
    return ConnectorStatus(name, "source", state, "w1:8083", task_list, SETTINGS, connector_trace)


class World:
    """A fake clock, a snapshot store and the policy state; each `poll` is a fresh Connect poll."""

    def __init__(self, **config):
        self.clock = FakeClock()
        self.config = RemediationConfig(enabled=True, **config)
        self.state = RemediationState()
        self.store = SnapshotStore()
        self.store.register(
            [
                ("connect:prod", "connect"),
                ("jolokia:prod", "jolokia"),
                ("connect_offsets:prod", "connect_offsets"),
                ("mysql:db1", "mysql"),
            ]
        )
        self.connectors: tuple[ConnectorStatus, ...] = ()
        self.version = "3.9.0"
        self.outcome = Outcome.RESTARTED
        self.restart_times: list[float] = []

    def record(self, source: str, kind: str, data) -> None:
        self.store.record(PollResult(source, kind, self.clock.now(), 0.01, data))

    def poll(self, *connectors: ConnectorStatus, fresh: bool = True) -> list[Decision]:
        if connectors:
            self.connectors = connectors
        if fresh:
            data = ConnectClusterState(
                "prod",
                "http://w1:8083",
                self.version,
                "c0ffee",
                "kc1",
                MappingProxyType({c.name: c for c in self.connectors}),
            )
            self.record("connect:prod", "connect", data)
        now = self.clock.now()
        self.state, decisions = evaluate(self.state, self.store.current(), now, self.config)
        for decision in decisions:
            if decision.restart:
                outcome = Outcome.WOULD_RESTART if decision.dry_run else self.outcome
                self.state = apply_outcome(self.state, decision, outcome, now, self.config)
                if outcome in (Outcome.RESTARTED, Outcome.WOULD_RESTART):
                    self.restart_times.append(now)
        return decisions

    def run(self, seconds: float, step: float = 10, *connectors: ConnectorStatus) -> list[Decision]:
        """Poll every `step` seconds for `seconds`; all decisions."""
        seen: list[Decision] = []
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            seen += self.poll(*connectors)
            self.clock.advance(step)
        return seen

    @property
    def record_(self) -> ConnectorRecord:
        return self.state.get("prod", "inv")


def restarts(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.restart]


def suppressions(decisions: list[Decision]) -> list[Suppression | None]:
    return [d.reason for d in decisions if not d.restart]


# ------------------------------------------------------------------------------- backoff
def test_backoff_follows_strimzi_schedule_capped_at_an_hour():
    config = RemediationConfig()
    minutes = [backoff_delay(n, config) / 60 for n in range(10)]
    assert minutes == [0, 2, 6, 12, 20, 30, 42, 56, 60, 60]


def test_backoff_unit_is_configurable():
    config = RemediationConfig(backoff_base="2s", backoff_max="30s")
    assert [backoff_delay(n, config) for n in range(6)] == [0, 4, 12, 24, 30, 30]


def test_first_restart_at_once_then_on_the_backoff_schedule():
    world = World()
    start = world.clock.now()
    decisions = world.run(5 * 3600, 10, connector())
    assert [t - start for t in world.restart_times[:6]] == [0, 120, 480, 1200, 2400, 4200]
    first = restarts(decisions)[0]
    assert (first.trigger, first.method, first.tasks, first.attempt) == (
        Trigger.FAILED,
        Method.CONNECTOR_RESTART,
        (0,),
        1,
    )
    assert first.classification is not None and first.classification.kind == "connection_refused"
    assert first.next_allowed == start + 120
    # Capped at one hour after the seventh restart.
    assert world.restart_times[7] - world.restart_times[6] == 3360
    assert world.restart_times[8] - world.restart_times[7] == 3600


def test_backoff_suppression_reported_once_per_streak_step():
    world = World()
    decisions = world.run(119, 10, connector())
    assert len(restarts(decisions)) == 1
    assert suppressions(decisions) == [Suppression.BACKOFF]
    backoff = next(d for d in decisions if not d.restart)
    assert backoff.next_allowed == world.restart_times[0] + 120


def test_poll_older_than_the_restart_is_not_judged():
    world = World()
    assert len(restarts(world.poll(connector()))) == 1
    world.clock.advance(500)
    # The snapshot still holds the poll from before the restart: nothing is decided on it.
    assert world.poll(fresh=False) == []
    assert world.record_.awaiting_effect


def test_failing_again_after_restart_counts_toward_backoff():
    world = World()
    world.poll(connector())
    world.clock.advance(10)
    world.poll(connector(task_state=State.RESTARTING))
    assert world.record_.awaiting_effect and world.record_.attempts == 1
    world.clock.advance(10)
    decisions = world.poll(connector())
    assert suppressions(decisions) == [Suppression.BACKOFF]
    assert not world.record_.awaiting_effect and world.record_.attempts == 1


# ------------------------------------------------------------------------------- cap and reset
def test_max_restarts_per_window():
    world = World(max_restarts=2, max_restarts_window="30m")
    decisions = world.run(1800, 10, connector())
    assert len(world.restart_times) == 2  # at 0 and 120 s; the third (480 s) hits the cap
    assert Suppression.MAX_RESTARTS in suppressions(decisions)
    # Once the first restart leaves the window, restarts resume.
    decisions = world.run(600, 10)
    assert len(world.restart_times) == 3


def test_counters_reset_after_staying_healthy():
    world = World(reset_after="10m")
    world.run(200, 10, connector())
    assert world.record_.attempts == 2
    healthy = connector(task_state=State.RUNNING)
    world.run(590, 10, healthy)
    assert world.record_.attempts == 2  # healthy, but not for long enough yet
    world.run(20, 10, healthy)
    assert world.record_.attempts == 0 and world.record_.next_allowed is None
    before = len(world.restart_times)
    assert len(restarts(world.poll(connector()))) == 1  # a new failure is restarted at once
    assert len(world.restart_times) == before + 1


def test_short_healthy_spell_does_not_reset():
    world = World(reset_after="10m")
    world.run(130, 10, connector())  # restarts at 0 and 120
    world.run(60, 10, connector(task_state=State.RUNNING))
    decisions = world.poll(connector())
    assert suppressions(decisions) == [Suppression.BACKOFF]
    assert world.record_.attempts == 2


def test_healthy_connector_is_forgotten():
    world = World(reset_after="1m", max_restarts_window="2m")
    world.poll(connector())
    world.run(200, 10, connector(task_state=State.RUNNING))
    assert ("prod", "inv") not in world.state.records


# ------------------------------------------------------------------------------- classification
def test_non_retriable_failure_is_never_restarted_and_says_why():
    world = World()
    decisions = world.run(6 * 3600, 30, connector(trace=NON_RETRIABLE))
    assert restarts(decisions) == []
    assert suppressions(decisions) == [Suppression.NON_RETRIABLE]  # reported once, not per poll
    (decision,) = decisions
    assert decision.classification is not None
    assert decision.classification.kind == "access_denied"
    assert "password" in decision.classification.hint


def test_one_non_retriable_task_holds_the_whole_connector():
    world = World()
    tasks = (TaskStatus(0, State.FAILED, "w", RETRIABLE), TaskStatus(1, State.FAILED, "w", NON_RETRIABLE))
    decisions = world.poll(ConnectorStatus("inv", "source", State.RUNNING, "w", tasks, SETTINGS))
    assert suppressions(decisions) == [Suppression.NON_RETRIABLE]


def test_unknown_failure_restarted_by_default():
    world = World()
    decisions = world.poll(connector(trace=UNKNOWN))
    assert len(restarts(decisions)) == 1
    assert restarts(decisions)[0].classification.kind == "unknown"


def test_unknown_failure_skipped_when_configured():
    world = World(unknown_failures="skip")
    decisions = world.run(600, 10, connector(trace=UNKNOWN))
    assert restarts(decisions) == []
    assert suppressions(decisions) == [Suppression.UNKNOWN_FAILURE]


def test_failed_connector_instance_is_restarted_too():
    world = World()
    failed = ConnectorStatus("inv", "source", State.FAILED, "w", (), SETTINGS, RETRIABLE)
    (decision,) = world.poll(failed)
    assert decision.restart and decision.restart_connector and decision.tasks == ()


# ------------------------------------------------------------------------------- 409 and methods
def test_conflict_is_retried_next_poll_and_not_counted():
    world = World()
    world.outcome = Outcome.CONFLICT
    first = world.poll(connector())
    world.clock.advance(10)
    second = world.poll(connector())
    assert [d.attempt for d in restarts(first + second)] == [1, 1]
    assert world.record_.attempts == 0 and world.record_.next_allowed is None
    world.outcome = Outcome.RESTARTED
    world.clock.advance(10)
    world.poll(connector())
    assert world.record_.attempts == 1


def test_failed_calls_back_off_and_every_third_in_a_row_counts_as_an_attempt():
    world = World()  # backoff_base 1m: error delays 30 s, 60 s; the third error is attempt n
    world.outcome = Outcome.ERROR
    start = world.clock.now()
    calls = []
    for _ in range(67):  # 11 minutes of 10 s polls
        if restarts(world.poll(connector())):
            calls.append(world.clock.now() - start)
        world.clock.advance(10)
    assert calls == [0, 30, 90, 210, 240, 300, 660]  # not one call per poll
    assert (world.record_.attempts, world.record_.errors) == (2, 1)  # at 90 s and 300 s; 660 s starts a third


def test_a_failed_call_that_reached_connect_is_forgotten_once_healthy():
    world = World()
    world.outcome = Outcome.ERROR  # e.g. a timeout after Connect received the POST
    world.poll(connector())
    assert (world.record_.errors, world.record_.attempts, world.record_.next_allowed) == (1, 0, world.clock.now() + 30)
    world.clock.advance(10)
    world.poll(connector(task_state=State.RUNNING))
    assert ("prod", "inv") not in world.state.records
    world.outcome = Outcome.RESTARTED
    world.clock.advance(10)
    assert len(restarts(world.poll(connector()))) == 1  # a new failure: restarted at once


def test_not_found_forgets_the_connector():
    world = World()
    world.outcome = Outcome.NOT_FOUND
    world.poll(connector())
    assert ("prod", "inv") not in world.state.records


def test_old_connect_uses_per_task_restarts():
    world = World()
    world.version = "2.8.1"
    (decision,) = world.poll(connector(tasks=2))
    assert decision.method is Method.PER_TASK and decision.tasks == (0, 1)


def test_restart_storm_is_limited_per_poll():
    world = World(max_restarts_per_poll=2)
    many = [connector(name=f"c{i}") for i in range(5)]
    decisions = world.poll(*many)
    assert [d.connector for d in restarts(decisions)] == ["c0", "c1"]
    assert suppressions(decisions) == [Suppression.RATE_LIMIT] * 3
    world.clock.advance(10)
    decisions = world.poll(*many)
    assert [d.connector for d in restarts(decisions)] == ["c2", "c3"]


# ------------------------------------------------------------------------------- modes
def test_dry_run_decides_and_counts_but_marks_it():
    world = World(dry_run=True)
    decisions = world.run(130, 10, connector())
    assert [d.dry_run for d in restarts(decisions)] == [True, True]
    assert len(world.restart_times) == 2  # the backoff schedule is the real one


def test_excluded_connector_is_left_alone():
    world = World(exclude=("prod/in*",))
    decisions = world.run(300, 10, connector())
    assert restarts(decisions) == []
    assert suppressions(decisions) == [Suppression.EXCLUDED]


def test_operator_managed_connector_is_left_to_its_operator():
    world = World(operator_managed=("prod/inv",))
    decisions = world.run(300, 10, connector(), connector(name="other"))
    assert [d.connector for d in restarts(decisions)] == ["other", "other"]
    held = [(d.connector, d.reason) for d in decisions if not d.restart and d.connector == "inv"]
    assert held == [("inv", Suppression.OPERATOR_MANAGED)]  # once per change of reason
    assert World(operator_managed=("prod/x*", "dev/*")).run(10, 10, connector()) != []  # no pattern matches


def test_paused_and_stopped_connectors_are_not_touched():
    world = World()
    assert world.run(300, 10, connector(state=State.PAUSED, task_state=State.PAUSED)) == []
    assert world.run(300, 10, ConnectorStatus("inv", "source", State.STOPPED, "w", (), SETTINGS)) == []


def test_deleted_connector_and_removed_cluster_are_forgotten():
    world = World()
    world.poll(connector())
    assert ("prod", "inv") in world.state.records
    world.clock.advance(10)
    world.poll(connector(name="other", task_state=State.RUNNING))
    assert ("prod", "inv") not in world.state.records
    world.state = world.state.with_record("gone", "x", ConnectorRecord(attempts=3))
    world.poll()
    assert ("gone", "x") not in world.state.records


# ------------------------------------------------------------------------------- not streaming
def not_connected(world: World, connected: bool | None = False) -> None:
    world.record(
        "jolokia:prod",
        "jolokia",
        JolokiaClusterState(
            cluster="prod",
            endpoints=MappingProxyType({}),
            streaming=MappingProxyType({"inv": StreamingMetrics(connected=connected)}),
            joined=True,
        ),
    )


def test_not_streaming_is_ignored_by_default():
    world = World()
    not_connected(world)
    assert world.run(3600, 30, connector(task_state=State.RUNNING)) == []


def test_not_streaming_task_restarted_when_enabled_after_grace():
    world = World(restart_not_streaming=True, not_streaming_for="2m")
    not_connected(world)
    running = connector(task_state=State.RUNNING)
    decisions = world.run(110, 10, running)
    assert decisions == []
    decisions = world.run(20, 10, running)
    (decision,) = restarts(decisions)
    assert (decision.trigger, decision.method, decision.tasks) == (Trigger.NOT_STREAMING, Method.PER_TASK, (0,))


def test_not_streaming_resets_when_connected_again():
    world = World(restart_not_streaming=True, not_streaming_for="2m")
    running = connector(task_state=State.RUNNING)
    not_connected(world)
    world.run(100, 10, running)
    not_connected(world, connected=True)
    world.poll(running)
    not_connected(world)
    assert world.run(100, 10, running) == []


def _database(files: tuple[str, ...]) -> DatabaseState:
    return DatabaseState(
        endpoint=Endpoint("db1", "127.0.0.1", 3306),
        server=ServerInfo(Flavour.MARIADB, (10, 11, 0), "10.11.0-MariaDB"),
        polled_at=0.0,
        identity=Identity("uuid", "1", False),
        head=HeadPosition(files[-1], 400),
        files=tuple(BinlogFile(f, 1000) for f in files),
        retention_seconds=0,
        gtid_mode=False,
        gtid_executed="",
        gtid_purged="",
        settings=(),
        privileges=MappingProxyType({}),
        unknown_checks=MappingProxyType({}),
        failovers=0,
        written_bytes=0,
        write_rate=None,
    )


@pytest.mark.parametrize(
    ("files", "restarted"),
    [
        (("mysql-bin.000003", "mysql-bin.000004"), False),  # the connector's file 000002 was purged
        (("mysql-bin.000002", "mysql-bin.000003"), True),
    ],
)
def test_never_restart_when_the_binlog_position_is_lost(files, restarted):
    world = World(restart_not_streaming=True, not_streaming_for="1m")
    world.record("mysql:db1", "mysql", _database(files))
    world.record(
        "connect_offsets:prod",
        "connect_offsets",
        MappingProxyType({"inv": (({"server": "inv"}, {"file": "mysql-bin.000002", "pos": 154}),)}),
    )
    not_connected(world)
    decisions = world.run(300, 10, connector(task_state=State.RUNNING))
    assert bool(restarts(decisions)) is restarted
    if not restarted:
        assert suppressions(decisions) == [Suppression.BINLOG_LOST]


def test_failed_task_with_lost_binlog_is_not_restarted():
    world = World()
    world.record("mysql:db1", "mysql", _database(("mysql-bin.000009",)))
    world.record(
        "connect_offsets:prod",
        "connect_offsets",
        MappingProxyType({"inv": (({"server": "inv"}, {"file": "mysql-bin.000002", "pos": 154}),)}),
    )
    decisions = world.poll(connector())
    assert suppressions(decisions) == [Suppression.BINLOG_LOST]


# ------------------------------------------------------------------------------- recorded + persistence
def test_recorded_listing_drives_a_restart_of_the_failed_connector_only():
    body = _recorded("connectors_task_failed_retriable.json")["body"]
    connectors, _, _ = connect_parse.parse_expanded(body)
    failed = [n for n, c in connectors.items() if any(t.state is State.FAILED for t in c.tasks)]
    world = World()
    decisions = world.poll(*connectors.values())
    assert [d.connector for d in restarts(decisions)] == failed


def test_state_round_trips_through_json():
    world = World()
    world.run(200, 10, connector())
    raw = json.loads(json.dumps(world.state.to_json()))
    assert RemediationState.from_json(raw) == world.state


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"clusters": []},
        {"clusters": {"prod": {"inv": {"attempts": "many"}}}},
        {"clusters": {"prod": {"inv": {"attempts": 1, "next_allowed": "soon"}}}},
        {"clusters": {"prod": {"inv": {"history": ["x"]}}}},
        {"clusters": {"prod": {"inv": {"errors": -1}}}},
    ],
)
def test_corrupt_state_section_is_refused(raw):
    with pytest.raises(ValueError):
        RemediationState.from_json(raw)


# ------------------------------------------------------------------------------- config
def test_config_defaults_are_safe():
    config = RemediationConfig()
    assert (config.enabled, config.dry_run, config.restart_not_streaming) == (False, False, False)
    assert (config.backoff_base, config.backoff_max, config.reset_after) == (60, 3600, 600)


def test_config_refuses_unknown_values():
    from cdc_watch.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "connect_clusters": [{"url": "http://w:8083"}],
                "remediation": {"unknown_failures": "maybe", "backoff": "1m", "max_restarts": 0},
            }
        )
    text = "\n".join(caught.value.problems)
    assert "remediation.unknown_failures" in text
    assert "remediation.backoff: unknown key" in text
    assert "remediation.max_restarts" in text


def test_exclude_patterns_match_name_or_cluster_slash_name():
    config = RemediationConfig(exclude=("legacy-*", "prod/orders"))
    assert config.excludes("any", "legacy-x")
    assert config.excludes("prod", "orders") and not config.excludes("stage", "orders")
