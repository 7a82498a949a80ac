"""Performs the remediation policy's restarts against Kafka Connect, and reports them.

I/O side of `remediation.py`: after each successful Connect poll of a cluster it runs the pure
policy for that cluster, sends the restart calls (KIP-745 `POST /connectors/{c}/restart?
includeTasks=true&onlyFailed=true` on Connect >= 3.0, one `POST .../tasks/{t}/restart` per task
on older clusters and for not-streaming tasks), feeds each outcome back to the policy, persists
the state in the state file's `remediation` section, logs every decision with its reason, counts
it, and hands a short notice to the injected `notify` callback (Slack when wired).

A 409 or a "rebalance is expected" 500 is a `conflict`: retried on a later poll, never counted
as an attempt. Errors never escape: the poller thread that calls `on_result` must keep polling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from cdc_watch.clock import Clock
from cdc_watch.config import Config, ConnectCluster, RemediationConfig
from cdc_watch.exposition import MetricsWriter, labels
from cdc_watch.model import PollResult, SourceFailure
from cdc_watch.remediation import (
    Decision,
    Method,
    Outcome,
    RemediationState,
    Suppression,
    apply_outcome,
    evaluate,
)
from cdc_watch.snapshot import Snapshot
from cdc_watch.sources.connect import ConnectClient, connector_path
from cdc_watch.sources.connect_parse import is_rebalance_error
from cdc_watch.statefile import StateFile

log = logging.getLogger(__name__)

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
    log.info(notice.text(), extra={"connect_cluster": notice.cluster, "connector": notice.connector, "notice": "remediation"})


TransportFactory = Callable[[str], httpx.BaseTransport | None]


class RemediationRunner:
    def __init__(
        self,
        config: Config,
        state_file: StateFile,
        clock: Clock,
        notify: Notify | None = None,
        transport_for: TransportFactory | None = None,
    ):
        self._lock = threading.Lock()  # one policy run at a time (held during restart calls)
        self._counts_lock = threading.Lock()  # counters only, so a scrape never waits for a restart call
        self._clock = clock
        self._state_file = state_file
        self.notify = notify or log_notice
        self._transport_for = transport_for or (lambda _name: None)
        self._clients: dict[str, ConnectClient] = {}
        self.restarts: Counter[tuple[str, str, str]] = Counter()
        self.suppressed: Counter[tuple[str, str, str]] = Counter()
        self.state = self._load_state()
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

    def reconfigure(self, config: Config) -> None:
        with self._lock:
            self._config = config.remediation
            old = self._clusters
            self._clusters = {c.name: c for c in config.connect_clusters}
            for name in list(self._clients):
                if old.get(name) != self._clusters.get(name):
                    self._clients.pop(name).close()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    @property
    def config(self) -> RemediationConfig:
        return self._config

    # ------------------------------------------------------------------ the hook
    def on_result(self, result: PollResult, snapshot: Snapshot) -> None:
        """Poller hook: run the policy for the cluster whose Connect poll just succeeded."""
        if result.kind != "connect" or not result.ok or not self._config.enabled:
            return
        self.run(result.source.split(":", 1)[1], snapshot)

    def run(self, cluster: str, snapshot: Snapshot) -> list[tuple[Decision, Outcome | None]]:
        with self._lock:
            config = self._config
            if not config.enabled:
                return []
            before = self.state
            state, decisions = evaluate(self.state, snapshot, self._clock.now(), config, clusters=[cluster])
            done: list[tuple[Decision, Outcome | None]] = []
            for decision in decisions:
                if not decision.restart:
                    self._report_suppression(decision)
                    done.append((decision, None))
                    continue
                outcome = Outcome.WOULD_RESTART if decision.dry_run else self._restart(decision)
                now = self._clock.now()
                state = apply_outcome(state, decision, outcome, now, config)
                self._report_restart(decision, outcome, state)
                done.append((decision, outcome))
            self.state = state
            if state != before:
                self._state_file.save(SECTION, state.to_json())
            return done

    # ------------------------------------------------------------------ I/O
    def _client(self, cluster: str) -> ConnectClient | None:
        client = self._clients.get(cluster)
        if client is None and cluster in self._clusters:
            client = self._clients[cluster] = ConnectClient(self._clusters[cluster], self._transport_for(f"remediation:{cluster}"))
        return client

    def _post(self, client: ConnectClient, path: str, params: list[tuple[str, str]] | None = None) -> Outcome:
        try:
            reply = client.request("POST", path, params=params)
        except SourceFailure as failure:
            log.warning("restart request failed", extra={"path": path, "reason": str(failure.reason), "error": failure.message})
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

    def _report_restart(self, decision: Decision, outcome: Outcome, state: RemediationState) -> None:
        with self._counts_lock:
            self.restarts[(decision.cluster, decision.connector, outcome.value)] += 1
        record = state.get(decision.cluster, decision.connector)
        fields = self._fields(decision) | {"result": outcome.value, "attempt": decision.attempt}
        if outcome in (Outcome.RESTARTED, Outcome.WOULD_RESTART):
            fields["next_allowed"] = record.next_allowed
            message = "would restart (dry run)" if outcome is Outcome.WOULD_RESTART else "restarted"
            log.warning(message, extra=fields)
            self._send(RemediationNotice(
                decision.cluster, decision.connector, outcome.value, decision.tasks, record.attempts,
                record.next_allowed, decision.classification.kind if decision.classification else None, decision.dry_run,
            ))
        elif outcome is Outcome.CONFLICT:
            log.info("restart refused during a rebalance; retrying on a later poll", extra=fields)
        elif outcome is Outcome.NOT_FOUND:
            log.info("restart target vanished", extra=fields)
        else:
            log.warning("restart failed; retrying on a later poll", extra=fields)

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
            self._send(RemediationNotice(
                decision.cluster, decision.connector, "gave_up", decision.tasks, decision.attempt, None,
                decision.classification.kind if decision.classification else None, decision.dry_run,
            ))

    def _send(self, notice: RemediationNotice) -> None:
        try:
            self.notify(notice)
        except Exception as exc:  # a notifier problem must not stop remediation
            log.error("remediation notice failed", extra={"connector": notice.connector, "error": type(exc).__name__})

    # ------------------------------------------------------------------ metrics
    def contribute(self, snapshot: Snapshot, out: MetricsWriter) -> None:
        config, state = self._config, self.state  # immutable values, swapped whole
        with self._counts_lock:
            restarts, suppressed = sorted(self.restarts.items()), sorted(self.suppressed.items())
        mode = "off" if not config.enabled else "dry_run" if config.dry_run else "on"
        out.one_hot("cdc_remediation_mode", "", "mode", mode, MODES)
        for (cluster, connector, result), count in restarts:
            out.add("cdc_remediation_restarts_total", labels(("connect_cluster", cluster), ("connector", connector), ("result", result)), count)
        for (cluster, connector, reason), count in suppressed:
            out.add("cdc_remediation_suppressed_total", labels(("connect_cluster", cluster), ("connector", connector), ("reason", reason)), count)
        for (cluster, connector), record in sorted(state.records.items()):
            label_text = labels(("connect_cluster", cluster), ("connector", connector))
            out.add("cdc_remediation_attempts", label_text, record.attempts)
            out.add("cdc_remediation_next_allowed_timestamp_seconds", label_text, record.next_allowed)
