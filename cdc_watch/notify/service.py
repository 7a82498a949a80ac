"""The alerting service: runs the rules after each poll, plans notifications, persists state.

Holds the only mutable alerting state (behind one lock): the rules' AlertState, the planner's
NotifyState, the run-time silences and the outbox. Decisions are made by the pure
`rules.evaluate`, `plan.plan` and `plan.plan_notice`; this class only sequences them, hands
messages to Slack/Sentry through the delivery queues and saves its section of the state file.

Delivery is write-ahead: every message planned is put in the outbox and saved in the same
state file write as the announcement state that planned it, before it is queued; it leaves
the outbox once delivered (or given up), with another write. A restart, clean or not, re-queues
the outbox: what was not delivered is sent, what was is never sent again.

Why evaluate on each poll result rather than on a timer: the snapshot only changes when a poll
lands, so a new fact is judged the moment it arrives, and a `for` window that elapses between
polls is noticed at the next poll of any source, at most one poll interval later. Each
evaluation reads the store's newest snapshot under the lock (when the service has the store),
so two pollers finishing at once can never have an older snapshot judged after a newer one.
"""

from __future__ import annotations

import json
import logging
import secrets as _secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from cdc_watch.config import AlertingConfig, Config
from cdc_watch.core.clock import Clock
from cdc_watch.core.model import PollResult
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.core.statefile import StateFile
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.notify.delivery import Delivery
from cdc_watch.notify.messages import Message, MessageKind, payload_from_json
from cdc_watch.notify.plan import NotifyState, PlanSettings, plan, plan_notice
from cdc_watch.notify.silences import Silence, prune
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertState, Change, Severity, Transition

log = logging.getLogger(__name__)

SECTION = "alerts"
CHANNELS = ("slack", "sentry")
KINDS = (*(str(k) for k in MessageKind), "notice")
DROPPABLE = ("repeat", "notice")  # a full queue may give these up; firing and resolved never


def config_secrets(config: Config) -> set[str]:
    """Every secret value in the config, to scrub from anything sent to Slack or Sentry."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if hasattr(node, "get_secret_value"):
            found.add(node.get_secret_value())
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    walk(config)
    return {s for s in found if len(s) >= 4}


class AlertService:
    def __init__(
        self,
        config: Callable[[], AlertingConfig],
        state_file: StateFile,
        clock: Clock,
        delivery: Delivery | None = None,
        slack: Any = None,
        sentry: Any = None,
        snapshot: Callable[[], Snapshot] | None = None,
    ):
        self._config = config
        self.state_file = state_file
        self.clock = clock
        self.delivery = delivery
        self.slack = slack
        self.sentry = sentry
        self._current = snapshot  # the store's newest snapshot, read under the lock
        # What remediation does (set by the composition root): decides how soon a retriable
        # failure pages (rules.failure_hold). None: remediation is not wired in.
        self.remediation: Callable[[], rules.Remediation | None] | None = None
        self._lock = threading.RLock()  # re-entrant: a submit may evict an item (on_done) in-line
        self._saved = ""
        self._load(state_file.section(SECTION))
        if delivery is not None:
            delivery.on_done = self._delivered
            self._requeue()

    # ------------------------------------------------------------------ state file
    def _load(self, raw: Any) -> None:
        """Each part of a wrong shape is dropped with a warning; never fatal."""
        problems: list[str] = []
        if raw is not None and not isinstance(raw, Mapping):
            problems.append("section is not an object")
            raw = None
        raw = raw or {}
        state = raw.get("state")
        problems += AlertState.shape_problems(state)
        self.alerts = AlertState.from_json(state)
        memory, bad = rules.check_memory(self.alerts.memory)
        problems += [f"memory of {name}" for name in bad]
        self.alerts = AlertState(self.alerts.entries, MappingProxyType(memory))
        entries = state.get("entries") if isinstance(state, Mapping) else None
        if isinstance(entries, list) and len(entries) != len(self.alerts.entries):
            problems.append(f"{len(entries) - len(self.alerts.entries)} alert entries")
        for part in ("notify", "silences", "outbox"):
            if raw.get(part) is not None and not isinstance(raw.get(part), list):
                problems.append(f"{part} is not a list")
        self.notify = NotifyState.from_json(raw.get("notify"))
        self.runtime_silences: tuple[Silence, ...] = tuple(_load_silences(raw.get("silences")))
        self._outbox: dict[str, dict[str, Any]] = {}
        outbox = raw.get("outbox")
        for item in outbox if isinstance(outbox, list) else ():
            checked = _outbox_item(item)
            if checked is None:
                problems.append("an outbox item")
            else:
                self._outbox[checked["id"]] = checked
        if problems:
            log.warning(
                "alert state partly unreadable; those parts start clean", extra={"problems": "; ".join(problems)[:500]}
            )

    def _save(self, force: bool = False) -> None:
        body = {
            "state": self.alerts.to_json(),
            "notify": self.notify.to_json(),
            "silences": [s.to_json() for s in self.runtime_silences],
            "outbox": list(self._outbox.values()),
        }
        text = json.dumps(body, sort_keys=True)
        if force or text != self._saved:
            self.state_file.save(SECTION, body)
            self._saved = text

    # ------------------------------------------------------------------ outbox
    def _requeue(self) -> None:
        """Queue what a previous run had not delivered (after a clean stop or a crash)."""
        assert self.delivery is not None
        with self._lock:
            for ident, item in list(self._outbox.items()):
                if item["channel"] not in self.delivery.channels:
                    del self._outbox[ident]  # that channel is no longer configured
                    continue
                self.delivery.submit(item["channel"], item["payload"], ident=ident, droppable=item["kind"] in DROPPABLE)
            if self._outbox:
                log.info(
                    "re-sending notifications a previous run had not delivered", extra={"count": len(self._outbox)}
                )

    def _delivered(self, ident: str, _delivered: bool) -> None:
        """Delivery's on_done: the item left its queue for good (sent, given up or evicted)."""
        with self._lock:
            if self._outbox.pop(ident, None) is not None:
                self._save()

    def _add(self, channel: str, payload: Any, kind: str) -> dict[str, Any]:
        item = {"id": _secrets.token_hex(8), "channel": channel, "kind": kind, "payload": payload}
        self._outbox[item["id"]] = item
        return item

    def _submit(self, items: Iterable[dict[str, Any]]) -> None:
        assert self.delivery is not None
        for item in items:
            self.delivery.submit(
                item["channel"], item["payload"], ident=item["id"], droppable=item["kind"] in DROPPABLE
            )

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.delivery is not None:
            self.delivery.start()

    def stop(self, budget: float) -> None:
        if self.delivery is None:
            return
        self.delivery.stop(budget)
        with self._lock:
            if self._outbox:  # the daemon's own log events still queued for Sentry are not kept
                log.warning(
                    "notifications left undelivered at shutdown; they are sent at the next start",
                    extra={"count": len(self._outbox)},
                )
            self._save(force=True)

    # ------------------------------------------------------------------ evaluation
    def on_result(self, _result: PollResult, snapshot: Snapshot) -> None:
        self.evaluate(None if self._current is not None else snapshot)

    def settings(self) -> PlanSettings:
        cfg = self._config()
        return PlanSettings(cfg.rules, cfg.repeat_interval, cfg.runbook_url, cfg.dashboard_url)

    def silences(self) -> tuple[Silence, ...]:
        configured = tuple(
            Silence(
                id=f"config{i}",
                matchers=tuple(
                    sorted(
                        (k, v)
                        for k, v in (
                            ("alert", s.alert),
                            ("connect_cluster", s.connect_cluster),
                            ("connector", s.connector),
                            ("database", s.database),
                        )
                        if v
                    )
                ),
                until=None,
                comment=s.comment,
                created_by="config",
            )
            for i, s in enumerate(self._config().silences)
        )
        return configured + self.runtime_silences

    def evaluate(self, snapshot: Snapshot | None = None) -> list[Transition]:
        """Judge `snapshot`, or (None) the store's newest one, read under the lock so that an
        evaluation never sees an older snapshot than the one before it."""
        cfg = self._config()
        with self._lock:
            if snapshot is None:
                assert self._current is not None
                snapshot = self._current()
            now = self.clock.now()
            remediation = self.remediation() if self.remediation is not None else None
            self.alerts, transitions = rules.evaluate(self.alerts, snapshot, now, cfg.rules, remediation)
            self.runtime_silences = prune(self.runtime_silences, now)
            for transition in transitions:
                _log_transition(transition)
            self.notify, messages = plan(self.notify, self.alerts, transitions, now, self.settings(), self.silences())
            items = [item for message in messages for item in self._outgoing(message)]
            self._save()  # announcement state and outbox in one write, before anything is sent
            if items:
                self._submit(items)
        return transitions

    def _outgoing(self, message: Message) -> list[dict[str, Any]]:
        if self.delivery is None:
            return []
        items = []
        if self.slack is not None and "slack" in self.delivery.channels and self.slack.wants(message):
            items.append(self._add("slack", message.to_json(), str(message.kind)))
        if self.sentry is not None and "sentry" in self.delivery.channels and self.sentry.wants(message):
            items += [self._add("sentry", envelope, str(message.kind)) for envelope in self.sentry.capture(message)]
        return items

    # ------------------------------------------------------------------ remediation notices
    def notify_remediation(self, notice: Any) -> None:
        """RemediationRunner's notify: a short Slack line, queued like any message (never sent
        from the caller's thread); silenced with the connector's failure alerts."""
        if self.delivery is None or self.slack is None or "slack" not in self.delivery.channels:
            return
        with self._lock:
            now = self.clock.now()
            min_severity = Severity(self.slack.settings.min_severity)
            planned = plan_notice(
                notice.cluster,
                notice.connector,
                notice.text(),
                notice.outcome == "gave_up",
                now,
                min_severity,
                self.silences(),
            )
            if planned is None:
                return
            item = self._add("slack", planned.to_json(), "notice")
            self._save()
            self._submit([item])

    # ------------------------------------------------------------------ silences (web API)
    def add_silence(
        self, matchers: dict[str, str], duration: float, comment: str = "", created_by: str = ""
    ) -> Silence:
        with self._lock:
            silence = Silence.from_json(
                {
                    "id": _secrets.token_hex(6),
                    "matchers": matchers,
                    "until": self.clock.now() + duration,
                    "comment": comment,
                    "created_by": created_by,
                }
            )
            self.runtime_silences = (*self.runtime_silences, silence)
            self._save()
        log.info(
            "silence added",
            extra={
                "silence": silence.id,
                "matchers": ",".join(f"{k}={v}" for k, v in silence.matchers),
                "until": silence.until,
            },
        )
        return silence

    def remove_silence(self, ident: str) -> bool:
        with self._lock:
            kept = tuple(s for s in self.runtime_silences if s.id != ident)
            removed = len(kept) != len(self.runtime_silences)
            self.runtime_silences = kept
            self._save()
        return removed

    def list_silences(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [s.to_json() for s in self.silences() if s.active(now)]

    # ------------------------------------------------------------------ metrics
    def contribute(self, _snapshot: Snapshot, out: MetricsWriter) -> None:
        state = self.alerts
        for entry in state.firing():
            out.add(
                "cdc_alert_firing",
                labels(("alert", entry.key.alert), ("severity", str(entry.severity)), *entry.key.labels),
                1,
            )
        out.add("cdc_alerts_pending", "", sum(1 for e in state.entries.values() if e.phase.value == "pending"))
        if self.delivery is not None:
            sent, errors = self.delivery.sent, self.delivery.errors
            for channel in sorted(self.delivery.channels):
                out.add("cdc_notifications_total", labels(("channel", channel)), sent.get(channel, 0))
                out.add("cdc_notification_errors_total", labels(("channel", channel)), errors.get(channel, 0))
                out.add("cdc_notification_queue_length", labels(("channel", channel)), self.delivery.pending(channel))


def _outbox_item(raw: Any) -> dict[str, Any] | None:
    """A persisted outbox item, or None when it cannot be sent by this version.

    Items saved before outbox items had ids ({channel, payload}) are accepted."""
    if not isinstance(raw, Mapping) or raw.get("channel") not in CHANNELS:
        return None
    channel, payload = raw["channel"], raw.get("payload")
    kind = raw.get("kind")
    try:
        if channel == "slack":
            parsed = payload_from_json(payload)
            kind = kind or ("notice" if isinstance(payload, dict) and "notice" in payload else str(parsed.kind))  # type: ignore[union-attr]
        elif not isinstance(payload, str):
            return None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    ident = raw.get("id")
    if not isinstance(ident, str) or not ident:
        ident = _secrets.token_hex(8)
    return {"id": ident, "channel": channel, "kind": kind if kind in KINDS else "firing", "payload": payload}


def _load_silences(raw: Any) -> Iterable[Silence]:
    for item in raw if isinstance(raw, list) else ():
        try:
            yield Silence.from_json(item)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue


def _log_transition(transition: Transition) -> None:
    key = transition.entry.key
    extra = {"alert": key.alert, "severity": str(transition.entry.severity), **dict(key.labels)}
    if transition.change is Change.FIRED:
        log.warning("alert firing", extra=extra) if transition.entry.severity.value != "info" else log.info(
            "alert firing", extra=extra
        )
    else:
        reason = {"reason": str(transition.reason)} if transition.reason else {}
        log.info("alert resolved", extra={**extra, **reason, **({"by": transition.by} if transition.by else {})})
