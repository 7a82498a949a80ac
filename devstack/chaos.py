"""Chaos on the devstack: inject faults from the fault catalogue at random (seeded) times, heal
them, write a timeline, and judge a monitor's alerts against it.

- `CATALOGUE` names each fault kind: how to inject it and heal it (through `Faults` and `Stack`
  public methods only), the alerts it must raise (`expect`, within `bound` seconds of the
  injection) and the alerts it may also explain (`allow`: side effects, such as the database
  source being unreadable while the database is down).
- `ChaosDriver.run()` runs faults one at a time, each after a random gap and held for a random
  time, and records every injection and heal in a `Timeline` (JSON lines on disk as it goes).
- `Oracle` takes the timeline and the alerts seen (`AlertLog`, filled from the daemon's alert
  API `GET /api/v1/alerts` and from the Slack messages a capture endpoint received) and reports
  recall (every fault raised an expected alert within its bound and it resolved after the
  heal) and precision (no alert fired that no fault explains), per fault kind.

Faults are sequential: one fault is healed, and the connector streams again, before the next is
injected, so each alert has at most one candidate explanation.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import ConnectorHandle
    from .stack import Stack


@dataclass(frozen=True)
class Names:
    """How the monitor names what the faults touch (from its configuration)."""

    cluster: str = "devstack"
    database: str = "devdb"


@dataclass(frozen=True)
class Expectation:
    alert: str
    labels: tuple[tuple[str, str], ...]  # a subset the alert's labels must contain

    def matches(self, alert: str, labels: Mapping[str, str]) -> bool:
        return alert == self.alert and all(labels.get(k) == v for k, v in self.labels)


Context = tuple["Stack", "ConnectorHandle", Names]


@dataclass(frozen=True)
class FaultKind:
    name: str
    inject: Callable[[Stack, ConnectorHandle], Any]
    heal: Callable[[Stack, ConnectorHandle], Any]
    expect: Callable[[ConnectorHandle, Names], tuple[Expectation, ...]]  # all must fire
    allow: Callable[[ConnectorHandle, Names], tuple[Expectation, ...]] = lambda _c, _n: ()
    bound: float = 30.0  # seconds from injection to every expected alert firing
    hold: tuple[float, float] = (15.0, 30.0)  # how long the fault stays (at least `bound`), at random


def _e(alert: str, **labels: str) -> Expectation:
    return Expectation(alert, tuple(sorted(labels.items())))


def _on(c: ConnectorHandle, n: Names) -> dict[str, str]:
    return {"connect_cluster": n.cluster, "connector": c.name}


def _heal_failed_task(stack: Stack, conn: ConnectorHandle) -> None:
    stack.faults.restore_debezium_password()
    stack.faults.heal_all()


def _heal_all(stack: Stack, _conn: ConnectorHandle) -> None:
    stack.faults.heal_all()


def _heal_purged(stack: Stack, conn: ConnectorHandle) -> None:
    """A purged position cannot come back: stop the connector, drop its offsets (Connect 3.6+)
    and resume it, so it snapshots anew and streams from the current head."""
    stack.faults.stop_connector(conn)
    reply = stack.rest("DELETE", f"/connectors/{conn.name}/offsets")
    if reply.status_code not in (200, 204):
        raise RuntimeError(f"DELETE offsets of {conn.name}: HTTP {reply.status_code} {reply.text[:200]}")
    stack.faults.heal_all()


def _load_on(stack: Stack, _conn: ConnectorHandle) -> Any:
    return stack.faults.write_load(rows_per_second=20)


def _restart_worker2(stack: Any, conn: Any) -> None:
    """Start the killed worker again and wait until the group has given it its share back:
    until then a fault injected next would hit a task that is about to move (a database
    stopped under a task still starting fails it instead of cutting a stream)."""
    stack.faults.start_worker(2)
    stack.wait_group_settled()


CATALOGUE: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind(
            "task_failed_non_retriable",
            lambda s, c: s.faults.task_failed_non_retriable(c),
            _heal_failed_task,
            lambda c, n: (_e("CdcTaskFailed", **_on(c, n)),),
            bound=15.0,
        ),
        FaultKind(
            "task_failed_retriable",
            lambda s, c: s.faults.task_failed_retriable(c),
            _heal_all,
            lambda c, n: (_e("CdcTaskFailed", **_on(c, n)), _e("CdcSourceUnreadable", source=f"mysql:{n.database}")),
            # the database is down: its own source and every streaming connector say so
            allow=lambda c, n: (
                _e("CdcNotStreaming", connect_cluster=n.cluster),
                _e("CdcTaskFailed", connect_cluster=n.cluster),
            ),
            bound=45.0,
        ),
        FaultKind(
            "db_stop",
            lambda s, c: s.faults.not_streaming(c),
            _heal_all,
            lambda c, n: (
                _e("CdcSourceUnreadable", source=f"mysql:{n.database}"),
                _e("CdcNotStreaming", **_on(c, n)),
            ),
            # every connector streaming from it is cut off, and a task may give up
            allow=lambda c, n: (
                _e("CdcNotStreaming", connect_cluster=n.cluster),
                _e("CdcTaskFailed", connect_cluster=n.cluster),
            ),
            bound=45.0,
        ),
        FaultKind(
            "pause",
            lambda s, c: s.faults.pause_connector(c),
            _heal_all,
            lambda c, n: (),  # an operator's choice: nothing to page
        ),
        FaultKind("stop", lambda s, c: s.faults.stop_connector(c), _heal_all, lambda c, n: ()),
        FaultKind(
            "jolokia_down",
            lambda s, c: s.faults.jolokia_unreachable(1),
            lambda s, c: s.faults.jolokia_reachable(1),
            lambda c, n: (_e("CdcSourceUnreadable", source=f"jolokia:{n.cluster}"),),
            bound=25.0,
        ),
        FaultKind(
            "binlog_format_drift",
            lambda s, c: s.faults.set_binlog_format("STATEMENT"),
            lambda s, c: s.faults.restore_settings(),
            lambda c, n: (_e("CdcPrerequisiteDrift", database=n.database, setting="binlog_format"),),
            bound=25.0,
        ),
        FaultKind(
            "retention_shortened",
            lambda s, c: s.faults.set_binlog_retention(3600),
            lambda s, c: s.faults.restore_settings(),
            lambda c, n: (_e("CdcBinlogPurgeRisk", **_on(c, n)),),
            # a server setting: every connector reading that database is at risk
            allow=lambda c, n: (_e("CdcBinlogPurgeRisk", connect_cluster=n.cluster, database=n.database),),
            bound=30.0,
        ),
        FaultKind(
            "grant_revoked",
            lambda s, c: s.faults.revoke_grant("REPLICATION SLAVE"),
            lambda s, c: s.faults.restore_grants(),
            lambda c, n: (_e("CdcPrivilegeMissing", database=n.database, privilege="replication_slave"),),
            bound=25.0,
        ),
        FaultKind(
            "write_load",
            _load_on,
            _heal_all,
            lambda c, n: (),  # load alone must never page
        ),
        FaultKind(
            "purge_past_stopped",
            lambda s, c: s.faults.purge_binlog_past(c),
            _heal_purged,
            lambda c, n: (_e("CdcBinlogPositionLost", **_on(c, n)),),
            # the task resumes without a streaming MBean: not streaming is part of the picture
            allow=lambda c, n: (_e("CdcNotStreaming", **_on(c, n)), _e("CdcTaskFailed", **_on(c, n))),
            bound=45.0,
        ),
        FaultKind(
            "worker_kill",
            lambda s, c: s.faults.kill_worker(2),
            _restart_worker2,
            lambda c, n: (_e("CdcWorkerLost", connect_cluster=n.cluster),),
            allow=lambda c, n: (
                _e("CdcTaskUnassigned", connect_cluster=n.cluster),
                _e("CdcSourceUnreadable", source=f"jolokia:{n.cluster}"),
            ),
            bound=60.0,
        ),
    )
}

# What a fault that cannot be undone leaves behind (a purged position needs a new snapshot).
NOT_REPEATABLE = frozenset({"purge_past_stopped"})


# --------------------------------------------------------------------------- timeline


@dataclass
class Event:
    kind: str
    injected_at: float  # wall clock
    healed_at: float | None = None
    settled_at: float | None = None  # the stack was healthy again (the connector streams)
    error: str | None = None

    @property
    def recovered_at(self) -> float | None:
        """When the truth stopped being faulty: the settle after the heal, else the heal."""
        return self.settled_at if self.settled_at is not None else self.healed_at

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "injected_at": self.injected_at,
            "healed_at": self.healed_at,
            "settled_at": self.settled_at,
            "error": self.error,
        }


@dataclass
class Timeline:
    seed: int
    started_at: float
    events: list[Event] = field(default_factory=list)
    ended_at: float | None = None
    path: Path | None = None

    def write(self, record: Mapping[str, Any]) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record, sort_keys=True) + "\n")


class ChaosDriver:
    """Injects faults of `kinds` at random times (seeded) for `duration` seconds, one at a time.

    `settle(stack, conn)` is called after each heal and must return once the stack is healthy
    again (the connector streams); its time counts as part of the gap before the next fault.
    """

    def __init__(
        self,
        stack: Stack,
        connector: ConnectorHandle,
        kinds: Iterable[str],
        seed: int,
        duration: float,
        gap: tuple[float, float] = (10.0, 30.0),
        timeline_path: Path | None = None,
        settle: Callable[[Stack, ConnectorHandle], None] | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.stack = stack
        self.connector = connector
        self.kinds = [CATALOGUE[k] for k in kinds]
        self.rng = random.Random(seed)
        self.duration = duration
        self.gap = gap
        self.settle = settle
        self.stop = stop or threading.Event()
        self.clock = clock
        self.timeline = Timeline(seed, clock(), path=timeline_path)
        if timeline_path is not None:
            timeline_path.write_text("")

    def run(self) -> Timeline:
        timeline = self.timeline
        timeline.write({"start": timeline.started_at, "seed": timeline.seed})
        end = time.monotonic() + self.duration
        used: set[str] = set()
        bag: list[FaultKind] = []
        while not self.stop.is_set():
            if self.stop.wait(self.rng.uniform(*self.gap)):
                break
            if not bag:  # a seeded shuffle of the kinds, refilled when used up: each comes up
                bag = [k for k in self.kinds if k.name not in (used & NOT_REPEATABLE)]
                self.rng.shuffle(bag)
                if not bag:
                    break
            kind = bag.pop()
            hold = self.rng.uniform(*kind.hold)
            if time.monotonic() + max(hold, kind.bound) > end:
                break  # not enough time left to see it raised and healed
            used.add(kind.name)
            event = Event(kind.name, self.clock())
            timeline.events.append(event)
            try:
                kind.inject(self.stack, self.connector)
            except Exception as exc:
                event.error = f"inject: {exc}"[:500]
            timeline.write({"inject": kind.name, "at": event.injected_at, "error": event.error})
            self.stop.wait(max(hold, kind.bound))
            try:
                kind.heal(self.stack, self.connector)
            except Exception as exc:
                event.error = (event.error or "") + f" heal: {exc}"[:500]
            event.healed_at = self.clock()
            timeline.write({"heal": kind.name, "at": event.healed_at, "error": event.error})
            if self.settle is not None:
                try:
                    self.settle(self.stack, self.connector)
                    event.settled_at = self.clock()
                except Exception as exc:  # a stack that does not heal is a finding, not a crash
                    event.error = (event.error or "") + f" settle: {exc}"[:500]
                timeline.write({"settle": kind.name, "at": event.settled_at, "error": event.error})
        timeline.ended_at = self.clock()
        timeline.write({"end": timeline.ended_at})
        return timeline


# --------------------------------------------------------------------------- what the monitor said


@dataclass
class Seen:
    """One alert instance: first seen firing, last seen firing (wall clock)."""

    alert: str
    labels: dict[str, str]
    first: float
    last: float
    sources: set[str] = field(default_factory=set)  # "api", "slack"
    resolved_at: float | None = None  # first observation of it no longer firing


class AlertLog:
    """Alerts as the monitor reported them; `observe_api` is fed GET /api/v1/alerts replies,
    `observe_slack` each Slack message body, both with the wall-clock time they were read."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, tuple[tuple[str, str], ...]], Seen] = {}
        self._firing: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self._lock = threading.Lock()

    def observe_api(self, body: Mapping[str, Any], at: float) -> None:
        now_firing = set()
        for item in body.get("alerts", []):
            if item.get("state") != "firing":
                continue
            key = (str(item["alert"]), tuple(sorted((str(k), str(v)) for k, v in item["labels"].items())))
            now_firing.add(key)
            fired = item.get("fired_at") or at
            self._note(key, float(fired), at, "api")
        with self._lock:
            for key in self._firing - now_firing:
                entry = self.seen[key]
                if entry.resolved_at is None or entry.resolved_at < entry.last:
                    entry.resolved_at = at
            self._firing = now_firing

    def observe_slack(self, message: Mapping[str, Any], at: float) -> None:
        """A FIRING message lists its new alerts in its blocks as `*CdcName*`; the group gives
        the connector or database. Only used to check Slack agrees with the API."""
        text = str(message.get("text", ""))
        if "FIRING" not in text or "STILL FIRING" in text:
            return
        names = text.split(": ", 1)[1].split(" on ", 1)[0] if ": " in text else ""
        for name in (n.strip() for n in names.split(",")):
            for key, entry in self.seen.items():
                if key[0] == name and entry.first <= at + 5:
                    entry.sources.add("slack")

    def _note(self, key: tuple[str, tuple[tuple[str, str], ...]], fired: float, at: float, source: str) -> None:
        with self._lock:
            entry = self.seen.get(key)
            if entry is None or (entry.resolved_at is not None and entry.resolved_at <= at and fired > entry.last):
                # a new firing of the same alert after it resolved: keep both by suffixing the key
                if entry is not None:
                    self.seen[(key[0] + f"#{fired:.0f}", key[1])] = entry
                entry = self.seen[key] = Seen(key[0], dict(key[1]), fired, at)
            entry.last = at
            entry.sources.add(source)
            if entry.resolved_at is not None and entry.resolved_at <= at:
                entry.resolved_at = None


class ApiWatcher(threading.Thread):
    """Polls the daemon's GET /api/v1/alerts every `interval` seconds into an AlertLog."""

    def __init__(self, url: str, log: AlertLog, interval: float = 1.0):
        super().__init__(name="chaos-api-watcher", daemon=True)
        self.url = url.rstrip("/") + "/api/v1/alerts"
        self.log = log
        self.interval = interval
        self.errors = 0
        self._halt = threading.Event()

    def run(self) -> None:
        import httpx

        with httpx.Client(timeout=5) as client:
            while not self._halt.is_set():
                try:
                    reply = client.get(self.url)
                    self.log.observe_api(reply.json(), time.time())
                except (httpx.HTTPError, ValueError):
                    self.errors += 1
                self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


# --------------------------------------------------------------------------- the oracle


@dataclass
class KindReport:
    injected: int = 0
    detected: int = 0  # every expected alert fired within the bound
    resolved: int = 0  # ... and resolved after the heal, within the resolve bound
    expected: int = 0  # injections that expect any alert
    delays: list[float] = field(default_factory=list)  # seconds to the last expected alert
    false_alerts: int = 0
    missed: list[str] = field(default_factory=list)

    def row(self, name: str) -> str:
        med = f"{statistics.median(self.delays):.1f}" if self.delays else "-"
        worst = f"{max(self.delays):.1f}" if self.delays else "-"
        detected = f"{self.detected}/{self.expected}" if self.expected else "n/a"
        return f"{name:<26} {self.injected:>8} {detected:>9} {med:>9} {worst:>9} {self.false_alerts:>7}"


@dataclass
class Report:
    kinds: dict[str, KindReport]
    false_alerts: list[str]
    missed: list[str]

    @property
    def recall(self) -> float:
        expected = sum(k.expected for k in self.kinds.values())
        return 1.0 if expected == 0 else sum(k.resolved for k in self.kinds.values()) / expected

    @property
    def precision(self) -> float:
        fired = sum(k.detected for k in self.kinds.values()) + len(self.false_alerts)
        return 1.0 if fired == 0 else 1.0 - len(self.false_alerts) / fired

    def table(self) -> str:
        head = f"{'fault kind':<26} {'injected':>8} {'detected':>9} {'median s':>9} {'worst s':>9} {'false':>7}"
        lines = [head] + [k.row(name) for name, k in sorted(self.kinds.items())]
        lines.append(f"recall {self.recall:.3f}  precision {self.precision:.3f}")
        lines += [f"FALSE: {f}" for f in self.false_alerts] + [f"MISSED: {m}" for m in self.missed]
        return "\n".join(lines)


class Oracle:
    """Judges an AlertLog against a Timeline.

    `resolve_bound`: seconds after the recovery by which every alert the fault raised must have
    resolved (the monitor's `keep_firing_for` plus a few polls). The recovery is when the stack
    was healthy again (the settle after the heal: the connector streams), not the heal itself:
    a connector may take a keep-alive interval to reconnect to a restarted database, and an
    alert that says so meanwhile is true. An alert is explained by a fault when it is one of
    the fault's `expect` or `allow` alerts and it fired between the injection and the recovery
    plus `resolve_bound`.
    """

    def __init__(self, connector: ConnectorHandle, names: Names, resolve_bound: float = 60.0):
        self.connector = connector
        self.names = names
        self.resolve_bound = resolve_bound

    def judge(self, timeline: Timeline, log: AlertLog) -> Report:
        kinds: dict[str, KindReport] = {}
        explained: set[int] = set()
        alerts = list(log.seen.values())
        for event in timeline.events:
            kind = CATALOGUE[event.kind]
            report = kinds.setdefault(event.kind, KindReport())
            report.injected += 1
            recovered = event.recovered_at
            if recovered is None:
                recovered = timeline.ended_at or time.time()
            window_end = recovered + self.resolve_bound
            expected = kind.expect(self.connector, self.names)
            allowed = expected + kind.allow(self.connector, self.names)
            for i, seen in enumerate(alerts):
                if event.injected_at - 1 <= seen.first <= window_end and any(
                    e.matches(seen.alert.split("#")[0], seen.labels) for e in allowed
                ):
                    explained.add(i)
            if not expected:
                continue
            report.expected += 1
            delays: list[float] = []
            resolved_ok = True
            for want in expected:
                hits = [
                    s
                    for s in alerts
                    if want.matches(s.alert.split("#")[0], s.labels)
                    and event.injected_at - 1 <= s.first <= event.injected_at + kind.bound
                ]
                if not hits:
                    report.missed.append(
                        f"{event.kind}@{event.injected_at:.0f}: {want.alert} not within {kind.bound:.0f}s"
                    )
                    delays = []
                    break
                delays.append(min(h.first for h in hits) - event.injected_at)
                if any(h.resolved_at is None or h.resolved_at > window_end for h in hits):
                    resolved_ok = False
                    report.missed.append(
                        f"{event.kind}@{event.injected_at:.0f}: {want.alert} did not resolve after the heal"
                    )
            if delays:
                report.detected += 1
                report.delays.append(max(delays))
                report.resolved += 1 if resolved_ok else 0
        false_alerts = []
        for i, seen in enumerate(alerts):
            if i in explained:
                continue
            label = ",".join(f"{k}={v}" for k, v in sorted(seen.labels.items()))
            false_alerts.append(f"{seen.alert}{{{label}}} fired at +{seen.first - timeline.started_at:.0f}s")
            kind_at = _kind_at(timeline, seen.first)
            kinds.setdefault(kind_at, KindReport()).false_alerts += 1
        missed = [m for k in kinds.values() for m in k.missed]
        return Report(kinds, false_alerts, missed)


def _kind_at(timeline: Timeline, at: float) -> str:
    """The fault in force (or last healed) at `at`, for attributing a false alert; "(none)"."""
    last = "(none)"
    for event in timeline.events:
        if event.injected_at <= at:
            last = event.kind
    return last
