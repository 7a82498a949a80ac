"""The alerting service: runs the rules after each poll, plans notifications, persists state.

Holds the only mutable alerting state (behind one lock): the rules' AlertState, the planner's
NotifyState, the run-time silences and the outbox. Decisions are made by the pure
`rules.evaluate`, `plan.plan` and `plan.plan_notice`; this class only sequences them, loops
over the configured channels (`channel.Channel`: queued ones get payloads through the delivery
queues, state ones see every evaluation) and saves its section of the state file.

Delivery is write-ahead: every message planned is appended to the outbox journal (delivery.Outbox,
next to the state file) and then the announcement state that planned it is saved with the
journal's sequence number, before the message is queued; it leaves the outbox once delivered
(or given up, or dropped by a full queue) with one appended line, not a rewrite of the state
file. A restart, clean or not, re-queues the outbox: what was not delivered is sent; journal
items newer than the saved state are dropped, as that state plans them again. What a crash can
still make go out twice is listed in docs/notifications.md.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from cdc_watch.config import AlertingConfig, Config
from cdc_watch.core.clock import Clock
from cdc_watch.core.model import PollResult
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.core.statefile import StateFile
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.notify.channel import Channel
from cdc_watch.notify.delivery import KINDS as QUEUE_KINDS
from cdc_watch.notify.delivery import Delivery, Outbox
from cdc_watch.notify.messages import Message, MessageKind
from cdc_watch.notify.plan import NotifyState, PlanSettings, plan, plan_notice
from cdc_watch.notify.silences import Silence, prune
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertState, Change, Severity, Transition

log = logging.getLogger(__name__)

SECTION = "alerts"
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
        channels: Sequence[Channel] = (),
        snapshot: Callable[[], Snapshot] | None = None,
    ):
        self._config = config
        self.state_file = state_file
        self.clock = clock
        self.delivery = delivery
        self.channels = tuple(channels)
        # Queued channels only where the delivery has their queue.
        self._queued = {
            c.name: c for c in self.channels if c.queued and delivery is not None and c.name in delivery.channels
        }
        self._current = snapshot  # the store's newest snapshot, read under the lock
        # What remediation does (set by the composition root): decides how soon a retriable
        # failure pages (rules.failure_hold). None: remediation is not wired in.
        self.remediation: Callable[[], rules.Remediation | None] | None = None
        # HA (set by the composition root): False on a replica that is not the leader, which
        # judges every poll (its /metrics show the same alerts) but plans and sends nothing.
        self.gate: Callable[[], bool] = lambda: True
        self._lock = threading.RLock()  # re-entrant: a submit may evict an item (on_done) in-line
        self._saved = ""
        migrated = self._load(state_file.section(SECTION))
        if migrated:
            self._save()  # the legacy outbox now lives in the journal
        if delivery is not None:
            delivery.outbox = self.outbox
            self._requeue()

    # ------------------------------------------------------------------ state file
    def _load(self, raw: Any) -> bool:
        """Each part of a wrong shape is dropped with a warning; never fatal. True when an outbox
        kept in the section by an older version was moved to the journal."""
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
        seq = raw.get("outbox_seq", 0)  # absent: a new file, or one an older version wrote
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            problems.append("outbox_seq is not a count")
            seq = 0
        self.outbox = Outbox(self.state_file.journal("outbox"), keep_upto=seq)
        legacy = []
        outbox = raw.get("outbox")
        for item in outbox if isinstance(outbox, list) else ():
            checked = _outbox_item(item, self._queued)
            if checked is None:
                problems.append("an outbox item")
            else:
                legacy.append(checked)
        if legacy:
            self.outbox.add(legacy)
        if problems:
            log.warning(
                "alert state partly unreadable; those parts start clean", extra={"problems": "; ".join(problems)[:500]}
            )
        return bool(legacy)

    def _save(self, force: bool = False) -> None:
        body = {
            "state": self.alerts.to_json(),
            "notify": self.notify.to_json(),
            "silences": [s.to_json() for s in self.runtime_silences],
            "outbox_seq": self.outbox.seq,  # the journal's items up to here were planned by this state
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
            queued = []
            for item in self.outbox.items():
                if item["channel"] not in self._queued or _outbox_item(item, self._queued) is None:
                    self.outbox.done(item["id"], False)  # channel no longer configured, or unreadable
                else:
                    queued.append(item)
            if queued:
                log.info("re-sending notifications a previous run had not delivered", extra={"count": len(queued)})
            self._submit(queued)

    def _add(self, channel: str, payload: Any, kind: str) -> dict[str, Any]:
        return {"id": _secrets.token_hex(8), "channel": channel, "kind": kind, "payload": payload}

    def _submit(self, items: Iterable[dict[str, Any]]) -> None:
        assert self.delivery is not None
        for item in items:
            self.delivery.submit(
                item["channel"],
                item["payload"],
                ident=item["id"],
                droppable=item["kind"] in DROPPABLE,
                kind=item["kind"] if item["kind"] in QUEUE_KINDS else "",
                receipt=item.get("receipt"),
            )

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.delivery is not None:
            self.delivery.start()
        for channel in self.channels:
            channel.start()

    def stop(self, budget: float) -> None:
        deadline = self.clock.monotonic() + budget
        for channel in self.channels:  # their workers wind down while the delivery's do
            channel.stop(deadline)
        if self.delivery is not None:
            self.delivery.stop(budget)
        for channel in self.channels:
            channel.join(deadline)
        if self.delivery is None:
            return
        with self._lock:
            left = len(self.outbox)
            if left:  # the daemon's own log events still queued for Sentry are not kept
                log.warning(
                    "notifications left undelivered at shutdown; they are sent at the next start",
                    extra={"count": left},
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
            if not self.gate():
                self._save()
                return transitions
            settings = self.settings()
            self.notify, messages = plan(self.notify, self.alerts, transitions, now, settings, self.silences())
            items = [item for message in messages for item in self._outgoing(message)]
            for channel in self.channels:
                channel.observe(self.alerts, transitions, now, settings)
            if items:
                self.outbox.add(items)  # durable first; then the state that planned them, with its seq
            self._save()
            if items:
                self._submit(items)
        return transitions

    def _outgoing(self, message: Message) -> list[dict[str, Any]]:
        return [
            self._add(name, payload, str(message.kind))
            for name, channel in self._queued.items()
            for payload in channel.payloads(message)
        ]

    def shared(self) -> dict[str, Any]:
        """What an HA leader publishes: the saved section and the outbox's live items."""
        with self._lock:
            body = self.state_file.section(SECTION) or {}
            body["outbox_items"] = [{k: v for k, v in i.items() if k != "seq"} for i in self.outbox.items()]
            return body

    def adopt(self, raw: Any) -> int:
        """Take over the state a previous HA leader published (`shared()`): its alerts, what it
        announced, its silences, and the messages it had not delivered, which are queued here.
        This replica's own undelivered items are given up (the published state supersedes
        them). Returns how many items were queued."""
        if not isinstance(raw, Mapping):
            log.warning("published alert state is not an object; keeping this replica's own")
            return 0
        with self._lock:
            state = raw.get("state")
            problems = AlertState.shape_problems(state)
            alerts = AlertState.from_json(state)
            memory, bad = rules.check_memory(alerts.memory)
            self.alerts = AlertState(alerts.entries, MappingProxyType(memory))
            self.notify = NotifyState.from_json(raw.get("notify"))
            self.runtime_silences = tuple(_load_silences(raw.get("silences")))
            published = raw.get("outbox_items")
            items = []
            for item in published if isinstance(published, list) else ():
                checked = _outbox_item(item, self._queued)
                if checked is None:
                    problems.append("an outbox item")
                else:
                    items.append(checked)
            keep = {item["id"] for item in items}
            for item in self.outbox.items():
                if item["id"] not in keep:
                    self.outbox.done(item["id"], False)
            fresh = [item for item in items if item["id"] not in self.outbox]
            if fresh:
                self.outbox.add(fresh)
            self._save(force=True)
            if fresh and self.delivery is not None:
                self._submit(fresh)
        if problems or bad:
            log.warning("published alert state partly unreadable", extra={"problems": "; ".join(problems + bad)[:500]})
        log.info(
            "took over the previous leader's alert state",
            extra={"alerts": len(self.alerts.entries), "undelivered": len(fresh)},
        )
        return len(fresh)

    # ------------------------------------------------------------------ remediation notices
    def notify_remediation(self, notice: Any) -> None:
        """RemediationRunner's notify: a short line for the channels that show notices (Slack),
        queued like any message (never sent from the caller's thread); silenced with the
        connector's failure alerts, filtered by each channel's own severity floor."""
        if not self._queued or not self.gate():
            return
        with self._lock:
            now = self.clock.now()
            planned = plan_notice(
                notice.cluster,
                notice.connector,
                notice.text(),
                notice.outcome == "gave_up",
                now,
                Severity.INFO,  # the lowest: each channel applies its own floor
                self.silences(),
            )
            if planned is None:
                return
            items = [
                self._add(name, payload, "notice")
                for name, channel in self._queued.items()
                for payload in channel.notice_payloads(planned)
            ]
            if not items:
                return
            self.outbox.add(items)
            self._save()
            self._submit(items)

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
                out.add(
                    "cdc_notification_queue_bytes", labels(("channel", channel)), self.delivery.pending_bytes(channel)
                )
            dropped = self.delivery.dropped
            for channel in sorted(self.delivery.channels):
                for kind in QUEUE_KINDS:
                    out.add(
                        "cdc_notifications_dropped_total",
                        labels(("channel", channel), ("kind", kind)),
                        dropped.get((channel, kind), 0),
                    )
        for each in self.channels:
            each.contribute(out)


def _outbox_item(raw: Any, channels: Mapping[str, Channel]) -> dict[str, Any] | None:
    """A persisted outbox item, or None when no configured channel can send it.

    Items saved before outbox items had ids ({channel, payload}) are accepted."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("channel"), str):
        return None
    channel = channels.get(raw["channel"])
    if channel is None:
        return None
    payload = raw.get("payload")
    shown = channel.restored_kind(payload)
    if shown is None:
        return None
    kind = raw.get("kind") or shown
    ident = raw.get("id")
    if not isinstance(ident, str) or not ident:
        ident = _secrets.token_hex(8)
    return {"id": ident, "channel": channel.name, "kind": kind if kind in KINDS else "firing", "payload": payload}


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
