"""The time order of joined readings (docs/architecture.md): CdcNotStreaming's "behind and
still" verdict, over random interleavings of database and Jolokia polls around write bursts.

A true timeline is simulated: the database head moves with write bursts; Debezium reads every
event at once (healthy) or stops reading at some moment (stalled). Each poll reads the truth at
a moment inside its own [start, start + duration] window. Whatever the interleaving:
- a verdict is never contradicted by the timeline: when the rule says "behind", the head the
  database reading saw was truly past the position Debezium truly had at the later Jolokia
  reading;
- a healthy Debezium is never judged behind;
- a stalled one behind a write is judged behind once a database poll and then a Jolokia poll
  have both started after the burst.
"""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_watch.config import RulesConfig
from cdc_watch.core.model import PollResult, SourceStatus
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.rules import table as rules
from generate.snapshots import cluster_state, database_state, jolokia_state

FILE = "mysql-bin.000005"
SOURCES = ("connect:prod", "jolokia:prod", "mysql:db1")


class Timeline:
    def __init__(self, bursts: list[tuple[float, int]], stall_at: float | None):
        self.bursts = sorted(bursts)
        self.stall_at = stall_at

    def head(self, t: float) -> int:
        return 1000 + sum(size for at, size in self.bursts if at <= t)

    def position(self, t: float) -> int:
        """Debezium reads each event the moment it is written, until it stalls."""
        return self.head(t if self.stall_at is None else min(t, self.stall_at))


def _status(name: str, kind: str, started: float, duration: float, data) -> SourceStatus:
    return SourceStatus(name, kind).with_result(PollResult(name, kind, started, duration, data=data))


polls = st.lists(
    st.tuples(
        st.sampled_from(["jolokia", "mysql"]),
        st.floats(0.5, 20.0),  # gap since the previous poll of any source started
        st.floats(0.0, 2.0),  # poll duration
        st.floats(0.0, 1.0),  # where inside its window the poll reads the truth
    ),
    min_size=2,
    max_size=40,
)
bursts = st.lists(st.tuples(st.floats(0.0, 300.0), st.integers(1, 5000)), max_size=8)


def _run(timeline: Timeline, schedule):
    """Every evaluation: (verdict, truth at the database reading the rule used, truth at the
    latest Jolokia reading)."""
    cfg = RulesConfig()
    connect = _status(
        "connect:prod", "connect", 0.0, 0.1, cluster_state("prod", {"orders": ("RUNNING", {0: "RUNNING@w1:8083"})})
    )
    latest: dict[str, SourceStatus] = {}
    head_read_at: dict[float, float] = {}  # end of a database poll -> when it read the head
    position_read_at = 0.0
    memory = None
    t = 0.0
    out = []
    for kind, gap, duration, where in schedule:
        t += gap
        read_at = t + where * duration
        if kind == "jolokia":
            data = jolokia_state("prod", {"orders": {"position": (FILE, timeline.position(read_at))}})
            latest["jolokia:prod"] = _status("jolokia:prod", "jolokia", t, duration, data)
            position_read_at = read_at
        else:
            spec = {"files": (FILE,), "file_size": 10**9, "head": (FILE, timeline.head(read_at))}
            latest["mysql:db1"] = _status("mysql:db1", "mysql", t, duration, database_state("db1", spec, t, 0.0))
            head_read_at[t + duration] = read_at
        if len(latest) < 2:
            continue
        now = t + duration
        snapshot = Snapshot(MappingProxyType({"connect:prod": connect, **latest}))
        observation = rules._not_streaming(snapshot, cfg, memory, now)
        memory = observation.memory
        (evidence,) = observation.verdicts.values()
        (item,) = memory.values()
        used = head_read_at.get(item[3])
        out.append((evidence, used, position_read_at))
    return out


@settings(max_examples=400, deadline=None)
@given(polls, bursts, st.one_of(st.none(), st.floats(0.0, 300.0)))
def test_a_verdict_is_never_contradicted_by_the_true_timeline(schedule, writes, stall_at):
    timeline = Timeline(writes, stall_at)
    for evidence, head_at, position_at in _run(timeline, schedule):
        if evidence is None:
            continue
        assert stall_at is not None, "a healthy Debezium was judged behind"
        assert head_at is not None and head_at <= position_at
        # the head the database reading saw was truly past where Debezium truly was afterwards
        assert timeline.head(head_at) > timeline.position(position_at)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 100.0), st.integers(1, 5000), st.floats(0.0, 2.0))
def test_a_stalled_connector_behind_a_write_is_judged_behind(stall_at, size, duration):
    timeline = Timeline([(stall_at + 1.0, size)], stall_at)
    # after the burst: a Jolokia poll, a database poll that starts after it, a Jolokia poll after that
    schedule = [("jolokia", stall_at + 2.0, duration, 0.5), ("mysql", duration + 0.1, duration, 0.5)]
    schedule += [("jolokia", duration + 0.1, duration, 0.5)]
    evidence = _run(timeline, schedule)[-1][0]
    assert evidence is not None
    assert dict(evidence.facts)["behind by"] == f"{size} bytes"


def test_a_burst_read_between_a_database_and_a_jolokia_poll_is_not_behind():
    """The page seen on the devstack: head read before the burst, position after it, then silence."""
    timeline = Timeline([(10.0, 4000)], None)
    schedule = [("mysql", 5.0, 0.1, 0.0), ("jolokia", 10.0, 0.1, 0.5)]  # head 1000 at 5 s, position 5000 at 15 s
    schedule += [("mysql", 10.0, 0.1, 0.0), ("jolokia", 10.0, 0.1, 0.0)] * 10  # idle afterwards
    assert all(evidence is None for evidence, _head_at, _position_at in _run(timeline, schedule))
