"""The alerting service: runs the rules after each poll, plans notifications, persists state.

Holds the only mutable alerting state (behind one lock): the rules' AlertState, the planner's
NotifyState and the run-time silences. Decisions are made by the pure `rules.evaluate` and
`plan.plan`; this class only sequences them, hands messages to Slack/Sentry through the
delivery queue and saves its section of the state file when something changed.

Why evaluate on each poll result rather than on a timer: the snapshot only changes when a poll
lands, so a new fact is judged the moment it arrives, and a `for` window that elapses between
polls is noticed at the next poll of any source, at most one poll interval later.
"""

from __future__ import annotations

import json
import logging
import secrets as _secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

from cdc_watch import rules
from cdc_watch.alerts import AlertState, Change, Transition
from cdc_watch.clock import Clock
from cdc_watch.config import AlertingConfig, Config
from cdc_watch.exposition import MetricsWriter, labels
from cdc_watch.model import PollResult
from cdc_watch.notify.delivery import Delivery
from cdc_watch.notify.messages import Message
from cdc_watch.notify.plan import NotifyState, PlanSettings, plan
from cdc_watch.notify.silences import Silence, prune
from cdc_watch.snapshot import Snapshot
from cdc_watch.statefile import StateFile

log = logging.getLogger(__name__)

SECTION = "alerts"
CHANNELS = ("slack", "sentry")


def config_secrets(config: Config) -> set[str]:
    """Every secret value in the config, to scrub from anything sent to Sentry."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if hasattr(node, "get_secret_value"):
            found.add(node.get_secret_value())
        elif hasattr(node, "model_fields"):
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
    ):
        self._config = config
        self.state_file = state_file
        self.clock = clock
        self.delivery = delivery
        self.slack = slack
        self.sentry = sentry
        self._lock = threading.Lock()
        raw = state_file.section(SECTION) or {}
        self.alerts = AlertState.from_json(raw.get("state"))
        self.notify = NotifyState.from_json(raw.get("notify"))
        self.runtime_silences: tuple[Silence, ...] = tuple(_load_silences(raw.get("silences")))
        self._outbox: list[Any] = list(raw.get("outbox") or [])
        self._saved = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Re-queue what a previous run could not deliver, then start the worker."""
        if self.delivery is None:
            return
        for item in self._outbox:
            if isinstance(item, dict) and item.get("channel") in CHANNELS:
                self.delivery.submit(item["channel"], item["payload"])
        self._outbox = []
        self.delivery.start()

    def stop(self, budget: float) -> None:
        if self.delivery is not None:
            left = self.delivery.stop(budget)
            with self._lock:
                self._outbox = [{"channel": c, "payload": p.to_json() if isinstance(p, Message) else p} for c, p in left]
                if left:
                    log.warning("notifications left undelivered at shutdown; they are sent at the next start", extra={"count": len(left)})
                self._save(force=True)

    # ------------------------------------------------------------------ evaluation
    def on_result(self, _result: PollResult, snapshot: Snapshot) -> None:
        self.evaluate(snapshot)

    def settings(self) -> PlanSettings:
        cfg = self._config()
        return PlanSettings(cfg.rules, cfg.repeat_interval, cfg.runbook_url, cfg.dashboard_url)

    def silences(self) -> tuple[Silence, ...]:
        configured = tuple(
            Silence(
                id=f"config{i}",
                matchers=tuple(sorted((k, v) for k, v in (("alert", s.alert), ("connect_cluster", s.connect_cluster), ("connector", s.connector), ("database", s.database)) if v)),
                until=None,
                comment=s.comment,
                created_by="config",
            )
            for i, s in enumerate(self._config().silences)
        )
        return configured + self.runtime_silences

    def evaluate(self, snapshot: Snapshot) -> list[Transition]:
        cfg = self._config()
        with self._lock:
            now = self.clock.now()
            self.alerts, transitions = rules.evaluate(self.alerts, snapshot, now, cfg.rules)
            self.runtime_silences = prune(self.runtime_silences, now)
            for transition in transitions:
                _log_transition(transition)
            self.notify, messages = plan(self.notify, self.alerts, transitions, now, self.settings(), self.silences())
            for message in messages:
                self._dispatch(message)
            self._save()
        return transitions

    def _dispatch(self, message: Message) -> None:
        if self.delivery is None:
            return
        if self.slack is not None and self.slack.wants(message):
            self.delivery.submit("slack", message)
        if self.sentry is not None and self.sentry.wants(message):
            self.sentry.capture(message)  # builds the event; the transport queues it

    def _save(self, force: bool = False) -> None:
        body = {
            "state": self.alerts.to_json(),
            "notify": self.notify.to_json(),
            "silences": [s.to_json() for s in self.runtime_silences],
            "outbox": self._outbox,
        }
        text = json.dumps(body, sort_keys=True)
        if force or text != self._saved:
            self.state_file.save(SECTION, body)
            self._saved = text

    # ------------------------------------------------------------------ silences (web API)
    def add_silence(self, matchers: dict[str, str], duration: float, comment: str = "", created_by: str = "") -> Silence:
        with self._lock:
            silence = Silence.from_json(
                {"id": _secrets.token_hex(6), "matchers": matchers, "until": self.clock.now() + duration, "comment": comment, "created_by": created_by}
            )
            self.runtime_silences = (*self.runtime_silences, silence)
            self._save()
        log.info("silence added", extra={"silence": silence.id, "matchers": ",".join(f"{k}={v}" for k, v in silence.matchers), "until": silence.until})
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
            out.add("cdc_alert_firing", labels(("alert", entry.key.alert), ("severity", str(entry.severity)), *entry.key.labels), 1)
        out.add("cdc_alerts_pending", "", sum(1 for e in state.entries.values() if e.phase.value == "pending"))
        if self.delivery is not None:
            for channel in sorted(self.delivery.channels):
                out.add("cdc_notifications_total", labels(("channel", channel)), self.delivery.sent.get(channel, 0))
                out.add("cdc_notification_errors_total", labels(("channel", channel)), self.delivery.errors.get(channel, 0))
            out.add("cdc_notification_queue_length", "", self.delivery.pending())


def _load_silences(raw: Any) -> Iterable[Silence]:
    for item in raw if isinstance(raw, list) else ():
        try:
            yield Silence.from_json(item)
        except (ValueError, TypeError, KeyError):
            continue


def _log_transition(transition: Transition) -> None:
    key = transition.entry.key
    extra = {"alert": key.alert, "severity": str(transition.entry.severity), **dict(key.labels)}
    if transition.change is Change.FIRED:
        log.warning("alert firing", extra=extra) if transition.entry.severity.value != "info" else log.info("alert firing", extra=extra)
    else:
        log.info("alert resolved", extra=extra)
