"""Performs the remediation policy's restarts against Kafka Connect, and reports them.

I/O side of `remediation.py`: after each successful Connect poll of a cluster it runs the pure
policy for that cluster, sends the restart calls (KIP-745 `POST /connectors/{c}/restart?
includeTasks=true&onlyFailed=true` on Connect >= 3.0, one `POST .../tasks/{t}/restart` per task
on older clusters and for not-streaming tasks), feeds each outcome back to the policy, persists
the state in the state file's `remediation` section, logs every decision with its reason, counts
it, and hands a short notice to the injected `notify` callback (Slack when wired).

All of that runs on one remediation worker thread: the poller's `on_result` only records "judge
this cluster on this snapshot" (the newest per cluster replaces an older one still waiting) and
returns, so a slow restart call never delays any poll. `close(budget)` abandons what waits and
never waits longer than its budget for a call in flight. Tests call `run()` or `run_pending()`.

A 409 or a "rebalance is expected" 500 is a `conflict`: retried on a later poll, never counted
as an attempt. Errors never escape: the worker must keep working.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from cdc_watch.config import Config, ConnectCluster, RemediationConfig
from cdc_watch.core.clock import Clock
from cdc_watch.core.model import PollResult, SourceFailure
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.core.statefile import StateFile
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.remediation.policy import (
    Decision,
    Method,
    Outcome,
    RemediationState,
    Suppression,
    apply_outcome,
    evaluate,
)
from cdc_watch.sources.connect.parse import is_rebalance_error
from cdc_watch.sources.connect.poll import ConnectClient, connector_path

log = logging.getLogger(__name__)
LOG_SIZE = 50  # remediation notices kept for the status page

SECTION = "remediation"
MODES = ("off", "dry_run", "on")


@dataclass(frozen=True, slots=True)
class RemediationNotice:
    """A short human notice about one remediation action (for Slack)."""

    cluster: str
    connector: str
    outcome: str  # an Outcome value, or "gave_up" when max_restarts stops further restarts
    tasks: tuple[int, ...]
    attempt: int
    next_allowed: float | None
    kind: str | None
    dry_run: bool

    def text(self) -> str:
        what = ", ".join(f"task {t}" for t in self.tasks) or "the connector"
        when = (
            time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(self.next_allowed))
            if self.next_allowed is not None
            else "not scheduled"
        )
        cause = f" ({self.kind})" if self.kind else ""
        if self.outcome == "gave_up":
            return (
                f"Gave up restarting {what} of {self.connector} on {self.cluster}{cause} after "
                f"{self.attempt} attempts (max_restarts reached); a human must look."
            )
        verb = "Would restart" if self.dry_run else "Restarted"
        return f"{verb} {what} of {self.connector} on {self.cluster}{cause}, attempt {self.attempt}, next allowed at {when}."


Notify = Callable[[RemediationNotice], None]


def log_notice(notice: RemediationNotice) -> None:
    """The default notifier: a log line (used until a Slack notifier is wired in)."""
    log.info(
        notice.text(), extra={"connect_cluster": notice.cluster, "connector": notice.connector, "notice": "remediation"}
    )


TransportFactory = Callable[[str], httpx.BaseTransport | None]


class RemediationRunner:
    def __init__(
        self,
        config: Config,
        state_file: StateFile,
        clock: Clock,
        notify: Notify | None = None,
        transport_for: TransportFactory | None = None,
        threaded: bool = True,
    ):
        self._lock = threading.Lock()  # config and clients (never held during a restart call)
        self._counts_lock = threading.Lock()  # counters only, so a scrape never waits for a restart call
        self._work = threading.Condition()  # guards _waiting, _busy, _closed
        self._waiting: dict[str, Snapshot] = {}  # cluster -> newest snapshot to judge, oldest request first
        self._busy = False
        self._closed = False
        self._threaded = threaded  # False: nothing runs until run_pending() (tests)
        self._thread: threading.Thread | None = None
        self._clock = clock
        self._state_file = state_file
        self.notify = notify or log_notice
        # The last LOG_SIZE notices, newest last, for the status page (older ones are dropped).
        self._log: collections.deque[dict[str, Any]] = collections.deque(maxlen=LOG_SIZE)
        self._log_lock = threading.Lock()
        self._transport_for = transport_for or (lambda _name: None)
        self._clients: dict[str, ConnectClient] = {}
        self.restarts: Counter[tuple[str, str, str]] = Counter()
        self.suppressed: Counter[tuple[str, str, str]] = Counter()
        self.state = self._load_state()
        # HA (set by the composition root): False on a replica that is not the leader, which
        # then restarts nothing; checked before each restart call.
        self.gate: Callable[[], bool] = lambda: True
        self._config = config.remediation
        self._clusters: dict[str, ConnectCluster] = {}
        self.reconfigure(config)

    # ------------------------------------------------------------------ lifecycle
    def _load_state(self) -> RemediationState:
        raw = self._state_file.section(SECTION)
        try:
            return RemediationState.from_json(raw)
        except ValueError as exc:
            log.warning("remediation state unreadable; starting clean", extra={"error": str(exc)[:200]})
            return RemediationState()

    def adopt(self, raw: Any) -> None:
        """Take over the restart counters and backoff a previous HA leader published."""
        try:
            state = RemediationState.from_json(raw)
        except ValueError as exc:
            log.warning(
                "published remediation state unreadable; keeping this replica's own", extra={"error": str(exc)[:200]}
            )
            return
        self.state = state
        self._state_file.save(SECTION, state.to_json())

    def reconfigure(self, config: Config) -> None:
        with self._lock:
            self._config = config.remediation
            old = self._clusters
            self._clusters = {c.name: c for c in config.connect_clusters}
            for name in list(self._clients):
                if old.get(name) != self._clusters.get(name):
                    self._clients.pop(name).close()

    def close(self, budget: float = 1.0) -> None:
        """Stop the worker: waiting runs are dropped, a call in flight gets at most `budget`."""
        with self._work:
            self._closed = True
            self._waiting.clear()
            self._work.notify_all()
        if self._thread is not None:
            self._thread.join(budget)
            if self._thread.is_alive():
                log.warning("restart call still in flight at shutdown; abandoning it")
                return  # its client stays open for it; the process is exiting
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    @property
    def config(self) -> RemediationConfig:
        return self._config

    # ------------------------------------------------------------------ the hook
    def on_result(self, result: PollResult, snapshot: Snapshot) -> None:
        """Poller hook: queue a policy run for the cluster whose Connect poll just succeeded."""
        if result.kind != "connect" or not result.ok or not self._config.enabled:
            return
        cluster = result.source.split(":", 1)[1]
        with self._work:
            if self._closed:
                return
            self._waiting.pop(cluster, None)  # a newer snapshot supersedes one still waiting
            self._waiting[cluster] = snapshot
            self._work.notify_all()
            if self._threaded and self._thread is None:
                self._thread = threading.Thread(target=self._worker, name="remediation", daemon=True)
                self._thread.start()

    def _next(self, block: bool) -> tuple[str, Snapshot] | None:
        with self._work:
            while block and not self._waiting and not self._closed:
                self._work.wait()
            if self._closed or not self._waiting:
                return None
            cluster = next(iter(self._waiting))
            self._busy = True
            return cluster, self._waiting.pop(cluster)

    def _run_one(self, cluster: str, snapshot: Snapshot) -> None:
        try:
            self.run(cluster, snapshot)
        except Exception as exc:  # a bug must not stop remediation for every later poll
            log.error("remediation run failed", extra={"connect_cluster": cluster, "error": type(exc).__name__})
        finally:
            with self._work:
                self._busy = False
                self._work.notify_all()

    def _worker(self) -> None:
        while (job := self._next(block=True)) is not None:
            self._run_one(*job)

    def run_pending(self) -> None:
        """Run every queued policy run in this thread (tests, with threaded=False)."""
        while (job := self._next(block=False)) is not None:
            self._run_one(*job)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing waits and nothing runs (tests)."""
        with self._work:
            return self._work.wait_for(lambda: not self._waiting and not self._busy, timeout)

    def run(self, cluster: str, snapshot: Snapshot) -> list[tuple[Decision, Outcome | None]]:
        """One policy run and its restart calls (on the worker; only one at a time)."""
        with self._lock:
            config = self._config
        if not config.enabled or not self.gate():
            return []
        before = self.state
        state, decisions = evaluate(self.state, snapshot, self._clock.now(), config, clusters=[cluster])
        done: list[tuple[Decision, Outcome | None]] = []
        for decision in decisions:
            if not self.gate():
                break  # leadership lost mid-run: nothing more is restarted, nor recorded
            if not decision.restart:
                self._report_suppression(decision)
                done.append((decision, None))
                continue
            outcome = Outcome.WOULD_RESTART if decision.dry_run else self._restart(decision)
            now = self._clock.now()
            attempts = state.get(decision.cluster, decision.connector).attempts
            state = apply_outcome(state, decision, outcome, now, config)
            self._report_restart(
                decision, outcome, state, counted=state.get(decision.cluster, decision.connector).attempts > attempts
            )
            done.append((decision, outcome))
        self.state = state
        if state != before:
            self._state_file.save(SECTION, state.to_json())
        return done

    # ------------------------------------------------------------------ I/O
    def _client(self, cluster: str) -> ConnectClient | None:
        with self._lock:
            client = self._clients.get(cluster)
            if client is None and cluster in self._clusters:
                client = self._clients[cluster] = ConnectClient(
                    self._clusters[cluster], self._transport_for(f"remediation:{cluster}")
                )
            return client

    def _post(self, client: ConnectClient, path: str, params: list[tuple[str, str]] | None = None) -> Outcome:
        try:
            reply = client.request("POST", path, params=params)
        except SourceFailure as failure:
            log.warning(
                "restart request failed", extra={"path": path, "reason": str(failure.reason), "error": failure.message}
            )
            return Outcome.ERROR
        except Exception as exc:  # e.g. the client was closed by a reload meanwhile
            log.warning("restart request failed", extra={"path": path, "error": type(exc).__name__})
            return Outcome.ERROR
        if reply.status_code in (200, 202, 204):
            return Outcome.RESTARTED
        if is_rebalance_error(reply.status_code, reply.body):
            return Outcome.CONFLICT
        if reply.status_code == 404:
            return Outcome.NOT_FOUND
        log.warning("restart request answered unexpectedly", extra={"path": path, "status": reply.status_code})
        return Outcome.ERROR

    def _restart(self, decision: Decision) -> Outcome:
        client = self._client(decision.cluster)
        if client is None:
            return Outcome.ERROR
        if decision.method is Method.CONNECTOR_RESTART:
            return self._post(
                client,
                connector_path(decision.connector, "/restart"),
                params=[("includeTasks", "true"), ("onlyFailed", "true")],
            )
        outcomes = []
        if decision.restart_connector:
            outcomes.append(self._post(client, connector_path(decision.connector, "/restart")))
        for task in decision.tasks:
            outcomes.append(self._post(client, connector_path(decision.connector, f"/tasks/{task}/restart")))
        for outcome in (Outcome.RESTARTED, Outcome.CONFLICT, Outcome.ERROR):
            if outcome in outcomes:
                return outcome
        return Outcome.NOT_FOUND

    # ------------------------------------------------------------------ reporting
    def _fields(self, decision: Decision) -> dict[str, object]:
        fields: dict[str, object] = {
            "connect_cluster": decision.cluster,
            "connector": decision.connector,
            "trigger": decision.trigger.value,
            "tasks": ",".join(str(t) for t in decision.tasks),
            "dry_run": decision.dry_run,
        }
        if decision.classification is not None:
            fields.update(
                kind=decision.classification.kind,
                category=decision.classification.category.value,
                failure=decision.classification.summary,
            )
        return fields

    def _report_restart(
        self, decision: Decision, outcome: Outcome, state: RemediationState, counted: bool = False
    ) -> None:
        with self._counts_lock:
            self.restarts[(decision.cluster, decision.connector, outcome.value)] += 1
        record = state.get(decision.cluster, decision.connector)
        fields = self._fields(decision) | {"result": outcome.value, "attempt": decision.attempt}
        if outcome in (Outcome.RESTARTED, Outcome.WOULD_RESTART):
            fields["next_allowed"] = record.next_allowed
            message = "would restart (dry run)" if outcome is Outcome.WOULD_RESTART else "restarted"
            log.warning(message, extra=fields)
            self._send(
                RemediationNotice(
                    decision.cluster,
                    decision.connector,
                    outcome.value,
                    decision.tasks,
                    record.attempts,
                    record.next_allowed,
                    decision.classification.kind if decision.classification else None,
                    decision.dry_run,
                )
            )
        elif outcome is Outcome.CONFLICT:
            log.info("restart refused during a rebalance; retrying on a later poll", extra=fields)
        elif outcome is Outcome.NOT_FOUND:
            log.info("restart target vanished", extra=fields)
        elif counted:
            fields.update(next_allowed=record.next_allowed, attempts=record.attempts)
            log.warning("restart failed again; counted as an attempt, retrying after the backoff", extra=fields)
        else:
            fields.update(next_allowed=record.next_allowed, errors=record.errors)
            log.warning("restart failed; retrying after a short backoff", extra=fields)

    def _report_suppression(self, decision: Decision) -> None:
        assert decision.reason is not None
        with self._counts_lock:
            self.suppressed[(decision.cluster, decision.connector, decision.reason.value)] += 1
        fields = self._fields(decision) | {"reason": decision.reason.value, "attempts": decision.attempt}
        if decision.classification is not None:
            fields["hint"] = decision.classification.hint
        if decision.reason is Suppression.BACKOFF:
            fields["next_allowed"] = decision.next_allowed
            log.info("not restarting yet: backoff", extra=fields)
        elif decision.reason is Suppression.RATE_LIMIT:
            log.info("not restarting in this poll: per-poll restart limit reached", extra=fields)
        else:
            log.warning(f"not restarting: {decision.reason.value}", extra=fields)
        if decision.reason is Suppression.MAX_RESTARTS:
            self._send(
                RemediationNotice(
                    decision.cluster,
                    decision.connector,
                    "gave_up",
                    decision.tasks,
                    decision.attempt,
                    None,
                    decision.classification.kind if decision.classification else None,
                    decision.dry_run,
                )
            )

    def _send(self, notice: RemediationNotice) -> None:
        entry = {
            "at": self._clock.now(),
            "connect_cluster": notice.cluster,
            "connector": notice.connector,
            "action": "dry-run restart" if notice.dry_run else "restart",
            "outcome": notice.outcome,
            "detail": notice.text(),
        }
        with self._log_lock:
            self._log.append(entry)
        try:
            self.notify(notice)
        except Exception as exc:  # a notifier problem must not stop remediation
            log.error("remediation notice failed", extra={"connector": notice.connector, "error": type(exc).__name__})

    def recent(self) -> list[dict[str, Any]]:
        """The last notices (at most LOG_SIZE), newest last."""
        with self._log_lock:
            return list(self._log)

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    # ------------------------------------------------------------------ metrics
    def contribute(self, snapshot: Snapshot, out: MetricsWriter) -> None:
        config, state = self._config, self.state  # immutable values, swapped whole
        with self._counts_lock:
            restarts, suppressed = sorted(self.restarts.items()), sorted(self.suppressed.items())
        mode = "off" if not config.enabled else "dry_run" if config.dry_run else "on"
        out.one_hot("cdc_remediation_mode", "", "mode", mode, MODES)
        for (cluster, connector, result), count in restarts:
            out.add(
                "cdc_remediation_restarts_total",
                labels(("connect_cluster", cluster), ("connector", connector), ("result", result)),
                count,
            )
        for (cluster, connector, reason), count in suppressed:
            out.add(
                "cdc_remediation_suppressed_total",
                labels(("connect_cluster", cluster), ("connector", connector), ("reason", reason)),
                count,
            )
        for (cluster, connector), record in sorted(state.records.items()):
            label_text = labels(("connect_cluster", cluster), ("connector", connector))
            out.add("cdc_remediation_attempts", label_text, record.attempts)
            out.add("cdc_remediation_next_allowed_timestamp_seconds", label_text, record.next_allowed)
