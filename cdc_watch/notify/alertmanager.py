"""Alertmanager: the daemon's alerts posted to `/api/v2/alerts` of every configured Alertmanager.

It behaves as Prometheus's notifier does, so an Alertmanager cannot tell the daemon from a
Prometheus evaluating the shipped rules:
- labels are the exported rules' (`alertname`, `severity` and the rule's own labels such as
  `connect_cluster`, `connector`, `task`, `database`); annotations are `summary`, `description`,
  `runbook_url`, plus the daemon's evidence (`why`, `hint`, `evidence`, `failure_kind`, `trace`)
  and `dashboard_url` when configured;
- a firing alert is sent when it fires and re-sent once `resend_interval` has passed since its
  last send (checked at each evaluation), with `startsAt` = when it fired and `endsAt` = now +
  4 x max(resend_interval, evaluation interval): if the daemon stops sending, Alertmanager
  resolves the alert by itself after that lease;
- a resolved alert is sent with `endsAt` = when it resolved, and re-sent on the same schedule
  for 15 minutes (`RESOLVED_RETENTION`), so one lost POST does not leave it firing.

Each Alertmanager has its own pending set and its own worker thread, so a down or slow one never
delays the others. Its pending set holds the newest body of each alert (by label set): a failed
POST is retried with backoff (1 s doubling to 60 s), and what is re-sent is always the current
truth, not a backlog. Bounds: at most `MAX_PENDING` alerts wait per Alertmanager (past it the
oldest are dropped and counted), `MAX_BATCH` alerts per POST, each annotation at most
`ANNOTATION_LIMIT` characters, each request done within `timeout` (an overall deadline).

Errors are logged and counted by the Alertmanager's position in `urls` (`alertmanager="0"`),
never by URL, and never with the auth header. Sent with httpx, built like the sources' clients
(sources/http.py: basic auth, TLS, overall deadline); the bearer token is one more header.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from cdc_watch.config import AlertingConfig, AlertmanagerSettings
from cdc_watch.core import redact
from cdc_watch.core.clock import Clock
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.notify.channel import Channel, ChannelContext, Outcome, outcome_for_status
from cdc_watch.notify.delivery import PumpWorker
from cdc_watch.notify.messages import AlertView
from cdc_watch.notify.plan import PlanSettings, view
from cdc_watch.rules.model import AlertKey, AlertState, Change, Transition
from cdc_watch.sources.http import DEADLINE, build_client

log = logging.getLogger(__name__)

API_PATH = "/api/v2/alerts"
RESOLVED_RETENTION = 15 * 60.0  # seconds a resolved alert keeps being re-sent (as Prometheus does)
LEASE_FACTOR = 4  # endsAt of a firing alert: now + 4 x max(resend, evaluation interval)
MAX_PENDING = 10_000  # alerts waiting per Alertmanager
MAX_BATCH = 64  # alerts per POST
ANNOTATION_LIMIT = 4000  # characters per annotation value
MAX_BACKOFF_SECONDS = 60.0


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cut(text: str) -> str:
    return text if len(text) <= ANNOTATION_LIMIT else text[: ANNOTATION_LIMIT - 1] + "…"


def alert_labels(key: AlertKey, severity: str) -> dict[str, str]:
    """The label set of the shipped Prometheus rule's alert for the same instance."""
    return {"alertname": key.alert, "severity": severity, **dict(key.labels)}


def alert_body(
    alert: AlertView,
    starts_at: float,
    ends_at: float,
    secrets: Sequence[str] = (),
    memo: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One alert of a `POST /api/v2/alerts` body (pure). Every free-text value is scrubbed of the
    known secrets and of secret-shaped text, then cut to `ANNOTATION_LIMIT`; `memo` (one dict
    per batch) scrubs the texts many alerts share (the same trace, summary, hint) once."""
    evidence = alert.evidence
    texts = {
        "summary": alert.summary,
        "description": alert.description,
        "runbook_url": alert.runbook_url,
        "dashboard_url": alert.dashboard_url,
        "why": evidence.why,
        "hint": evidence.hint,
        "evidence": "; ".join(f"{k}: {v}" for k, v in evidence.facts) or None,
        "failure_kind": evidence.kind,
        "trace": evidence.trace,
    }
    annotations = {name: _cut(redact.scrub(text, secrets, memo)) for name, text in texts.items() if text}
    return {
        "labels": alert_labels(alert.key, str(alert.severity)),
        "annotations": annotations,
        "startsAt": _rfc3339(starts_at),
        "endsAt": _rfc3339(ends_at),
    }


def _fingerprint(body: dict[str, Any]) -> str:
    return json.dumps(body["labels"], sort_keys=True)


@dataclass(slots=True)
class _Resolved:
    alert: AlertView
    starts_at: float
    resolved_at: float
    last_sent: float | None = None


class Target(PumpWorker):
    """One Alertmanager: its pending alerts, backoff, counters and worker thread."""

    thread_prefix = "alertmanager"

    def __init__(
        self,
        index: int,
        url: str,
        client: httpx.Client,
        clock: Clock,
        timeout: float,
        headers: dict[str, str] | None = None,
    ):
        self.name = str(index)  # the metric label and log field: never the URL
        self._endpoint = url + API_PATH
        self._client = client
        self._headers = headers or {}
        self.clock = clock
        self._timeout = timeout
        self._pending: dict[str, dict[str, Any]] = {}  # fingerprint -> newest body, oldest first
        self._cond = threading.Condition()
        self._not_before = float("-inf")
        self._failures = 0
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None
        self.alerts_sent = 0
        self.posts_ok = 0
        self.errors = 0
        self.dropped = 0

    # ------------------------------------------------------------------ producer side
    def submit(self, bodies: Sequence[dict[str, Any]]) -> None:
        dropped = 0
        with self._cond:
            for body in bodies:
                fingerprint = _fingerprint(body)
                self._pending.pop(fingerprint, None)  # the newest body goes to the back
                self._pending[fingerprint] = body
            while len(self._pending) > MAX_PENDING:
                del self._pending[next(iter(self._pending))]
                dropped += 1
            self.dropped += dropped
            self._cond.notify_all()
        if dropped:
            log.warning(
                "alertmanager queue full; dropping the oldest alerts",
                extra={"alertmanager": self.name, "dropped": dropped},
            )

    def pending(self) -> int:
        with self._cond:
            return len(self._pending)  # what is in flight stays there until it is settled

    # ------------------------------------------------------------------ the schedule
    def pump(self) -> float | None:
        """POST what is due; the monotonic time to try again, None when idle (or stopping)."""
        while True:
            with self._cond:
                if not self._pending:
                    return None
                now = self.clock.monotonic()
                if self._deadline is not None and now >= self._deadline:
                    return None
                if self._not_before > now:
                    return self._not_before
                batch = list(self._pending.items())[:MAX_BATCH]
            outcome = self._post([body for _, body in batch])
            retry_in = self._settle(batch, outcome)
            if retry_in is not None:
                log.warning(
                    "alertmanager post failed; retrying",
                    extra={"alertmanager": self.name, "error": outcome.detail, "retry_in_seconds": retry_in},
                )
                return self.clock.monotonic() + retry_in
            if not outcome.ok:  # 4xx: Alertmanager refused these alerts; they would be refused again
                log.error(
                    "alertmanager refused alerts; dropped",
                    extra={"alertmanager": self.name, "error": outcome.detail, "alerts": len(batch)},
                )

    def _settle(self, batch: list[tuple[str, dict[str, Any]]], outcome: Outcome) -> float | None:
        """Count the outcome and forget what is done; the backoff in seconds when it is retried."""
        with self._cond:
            if outcome.ok or not outcome.retry:
                for fingerprint, body in batch:
                    if self._pending.get(fingerprint) is body:  # not replaced by a newer one meanwhile
                        del self._pending[fingerprint]
            if outcome.ok:
                self.posts_ok += 1
                self.alerts_sent += len(batch)
                self._failures = 0
                return None
            self.errors += 1
            if not outcome.retry:
                return None
            self._failures += 1
            backoff = min(MAX_BACKOFF_SECONDS, 2.0 ** (self._failures - 1))
            delay = outcome.retry_after if outcome.retry_after is not None else backoff
            self._not_before = self.clock.monotonic() + delay
            return delay

    def _post(self, bodies: list[dict[str, Any]]) -> Outcome:
        try:
            # Streamed and closed unread: only the status and Retry-After matter, so a large or
            # endless answer costs nothing (the body is never held; max_reply_size is moot here).
            with self._client.stream(
                "POST",
                self._endpoint,
                json=bodies,
                headers=self._headers,
                extensions={DEADLINE: time.monotonic() + self._timeout},
            ) as response:
                return outcome_for_status(response.status_code, response.headers.get("Retry-After"))
        except httpx.HTTPError as exc:  # its text may carry the URL: only the class is kept
            return Outcome(False, retry=True, detail=type(exc).__name__)

    def _has_work(self) -> bool:
        return bool(self._pending)

    def close(self) -> None:
        self._client.close()


class AlertmanagerChannel(Channel):
    """Decides what each evaluation sends (Prometheus's schedule) and hands it to every target."""

    name = "alertmanager"
    queued = False

    def __init__(
        self,
        targets: Sequence[Target],
        resend_interval: float,
        evaluation_interval: float,
        secrets: Callable[[], set[str]] = set,
    ):
        self.targets = tuple(targets)
        self.resend_interval = resend_interval
        self.lease = LEASE_FACTOR * max(resend_interval, evaluation_interval)
        self._secrets = secrets
        self._last_sent: dict[AlertKey, float] = {}  # firing alerts: when each was last sent
        self._resolved: dict[AlertKey, _Resolved] = {}

    def _due(self, last_sent: float | None, now: float) -> bool:
        # Prometheus: re-send once the last send is more than the resend delay ago.
        return last_sent is None or last_sent + self.resend_interval < now

    def observe(
        self, alerts: AlertState, transitions: Sequence[Transition], now: float, settings: PlanSettings
    ) -> None:
        secrets = tuple(self._secrets())
        memo: dict[str, str] = {}
        bodies = []
        firing = {entry.key: entry for entry in alerts.firing()}
        for transition in transitions:
            entry = transition.entry
            if transition.change is Change.RESOLVED and entry.fired_at is not None:
                self._resolved[entry.key] = _Resolved(view(entry, settings), entry.fired_at, now)
        for key, entry in firing.items():
            self._resolved.pop(key, None)  # firing again
            if self._due(self._last_sent.get(key), now):
                starts = entry.fired_at if entry.fired_at is not None else entry.active_since
                bodies.append(alert_body(view(entry, settings), starts, now + self.lease, secrets, memo))
                self._last_sent[key] = now
        for key in [k for k in self._last_sent if k not in firing]:
            del self._last_sent[key]
        for key, resolved in list(self._resolved.items()):
            if now - resolved.resolved_at >= RESOLVED_RETENTION:
                del self._resolved[key]
            elif self._due(resolved.last_sent, now):
                bodies.append(alert_body(resolved.alert, resolved.starts_at, resolved.resolved_at, secrets, memo))
                resolved.last_sent = now
        if bodies:
            for target in self.targets:
                target.submit(bodies)

    # ------------------------------------------------------------------ workers
    def pump(self) -> dict[str, float | None]:
        """One non-blocking pass over every Alertmanager (tests; the workers do this)."""
        return {target.name: target.pump() for target in self.targets}

    def start(self) -> None:
        for target in self.targets:
            target.start()

    def stop(self, deadline: float) -> None:
        for target in self.targets:
            target.stop(deadline)

    def join(self, deadline: float) -> None:
        for target in self.targets:
            target.join(max(0.05, deadline - target.clock.monotonic()))
        for target in self.targets:
            target.close()

    # ------------------------------------------------------------------ metrics
    def contribute(self, out: MetricsWriter) -> None:
        for target in self.targets:
            where = labels(("alertmanager", target.name))
            out.add("cdc_notification_alertmanager_alerts_sent_total", where, target.alerts_sent)
            out.add("cdc_notification_alertmanager_errors_total", where, target.errors)
            out.add("cdc_notification_alertmanager_dropped_total", where, target.dropped)
            out.add("cdc_notification_alertmanager_queue_length", where, target.pending())
        # The channel as a whole, beside Slack and Sentry (CdcWatchNotificationsFailing reads these).
        channel = labels(("channel", self.name))
        out.add("cdc_notifications_total", channel, sum(t.posts_ok for t in self.targets))
        out.add("cdc_notification_errors_total", channel, sum(t.errors + t.dropped for t in self.targets))
        out.add("cdc_notification_queue_length", channel, sum(t.pending() for t in self.targets))


def build_targets(settings: AlertmanagerSettings, clock: Clock) -> list[Target]:
    headers = {}
    if settings.bearer_token is not None:
        headers["Authorization"] = f"Bearer {settings.bearer_token.get_secret_value()}"
    return [
        Target(i, url, build_client(settings), clock, settings.timeout, headers) for i, url in enumerate(settings.urls)
    ]


def build(alerting: AlertingConfig, context: ChannelContext) -> AlertmanagerChannel | None:
    settings = alerting.alertmanager
    if settings is None:
        return None
    return AlertmanagerChannel(
        build_targets(settings, context.clock),
        settings.resend_interval,
        context.evaluation_interval,
        context.secrets,
    )
