"""Deciding which notifications to send after an evaluation: pure, no I/O, no clock.

`plan(state, alerts, transitions, now, settings, silences) -> (state, messages)`:
- alerts are grouped per connector (else per database, Connect cluster or source), so several
  alerts of one connector in one evaluation make one message;
- a firing alert is announced once; while it keeps firing its group is re-sent every
  `repeat_interval`; a resolve is sent only for alerts that were announced;
- silenced alerts are never announced nor repeated (they still resolve if they were announced
  before the silence);
- an alert firing but never announced (silence expired, or a restart lost an announcement) is
  announced at the next evaluation, while one announced before a restart is not announced again,
  because `NotifyState` is persisted together with the outbox of messages not yet delivered
  (the service writes both in one state file write, so "announced" always means "sent or queued
  to be sent after a restart").

`plan_notice(...)` decides whether a remediation notice goes out (silences, severity).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from cdc_watch.config import RulesConfig
from cdc_watch.notify.messages import AlertView, Message, MessageKind, Notice
from cdc_watch.notify.silences import Silence, silenced
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import (
    AlertEntry,
    AlertKey,
    AlertState,
    Change,
    Labels,
    Resolution,
    Severity,
    Transition,
    make_labels,
)


@dataclass(frozen=True, slots=True)
class PlanSettings:
    rules: RulesConfig
    repeat_interval: float
    runbook_url: str
    dashboard_url: str | None = None  # template over connect_cluster, connector, database


@dataclass(frozen=True, slots=True)
class GroupState:
    last_sent: float
    notified: frozenset[AlertKey]


@dataclass(frozen=True, slots=True)
class NotifyState:
    groups: Mapping[Labels, GroupState] = field(default_factory=dict)

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "group": [list(p) for p in group],
                "last_sent": gs.last_sent,
                "notified": sorted(k.to_json() for k in gs.notified),
            }
            for group, gs in self.groups.items()
        ]

    @classmethod
    def from_json(cls, raw: Any) -> NotifyState:
        groups: dict[Labels, GroupState] = {}
        for item in raw if isinstance(raw, list) else ():
            try:
                group = tuple((str(a), str(b)) for a, b in item["group"])
                groups[group] = GroupState(
                    float(item["last_sent"]), frozenset(AlertKey.from_json(k) for k in item["notified"])
                )
            except (KeyError, TypeError, ValueError):
                continue
        return cls(groups)


def group_of(key: AlertKey) -> Labels:
    labels = dict(key.labels)
    if "connector" in labels:
        return (("connect_cluster", labels.get("connect_cluster", "")), ("connector", labels["connector"]))
    for name in ("database", "connect_cluster", "source"):
        if name in labels:
            return ((name, labels[name]),)
    return ()


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def view(entry: AlertEntry, settings: PlanSettings) -> AlertView:
    rule = rules.BY_NAME.get(entry.key.alert)
    dashboard = None
    if settings.dashboard_url:
        dashboard = settings.dashboard_url.format_map(_Blank({k: quote(v, safe="") for k, v in entry.key.labels}))
    if rule is None:  # an alert of a rule this version no longer has (only ever resolved)
        return AlertView(
            entry.key,
            entry.severity,
            entry.key.alert,
            entry.key.alert,
            settings.runbook_url,
            dashboard,
            entry.evidence,
            entry.active_since,
            entry.fired_at,
        )
    return AlertView(
        key=entry.key,
        severity=entry.severity,
        summary=rule.summary,
        description=rules.describe(rule, entry.key, settings.rules),
        runbook_url=rules.runbook_url(rule, settings.runbook_url),
        dashboard_url=dashboard,
        evidence=entry.evidence,
        active_since=entry.active_since,
        fired_at=entry.fired_at,
    )


def _order(entries: Iterable[AlertEntry]) -> list[AlertEntry]:
    return sorted(entries, key=lambda e: (e.severity.rank, e.key.alert, e.key.labels))


def plan(
    state: NotifyState,
    alerts: AlertState,
    transitions: Iterable[Transition],
    now: float,
    settings: PlanSettings,
    silences: Iterable[Silence] = (),
) -> tuple[NotifyState, list[Message]]:
    silences = tuple(silences)
    groups: dict[Labels, GroupState] = dict(state.groups)
    messages: list[Message] = []

    firing: dict[Labels, list[AlertEntry]] = {}
    for entry in alerts.firing():
        if not silenced(entry.key, silences, now):
            firing.setdefault(group_of(entry.key), []).append(entry)

    resolved: dict[Labels, list[AlertEntry]] = {}
    why: dict[AlertKey, str] = {}
    folded: set[AlertKey] = set()  # superseded: the superseding alert's message covers them
    for transition in transitions:
        if transition.change is Change.RESOLVED:
            resolved.setdefault(group_of(transition.entry.key), []).append(transition.entry)
            if transition.reason is not None:
                why[transition.entry.key] = str(transition.reason)
            if transition.reason is Resolution.SUPERSEDED:
                folded.add(transition.entry.key)

    for group, entries in resolved.items():
        gs = groups.get(group)
        if gs is None:
            continue
        told = [e for e in entries if e.key in gs.notified and e.key not in folded]
        remaining = gs.notified - {e.key for e in entries}
        if told:
            still = [e for e in firing.get(group, []) if e.key in remaining]
            messages.append(
                Message(
                    MessageKind.RESOLVED,
                    group,
                    tuple(replace(view(e, settings), resolution=why.get(e.key)) for e in _order(told)),
                    tuple(view(e, settings) for e in _order(still)),
                    now,
                )
            )
        groups[group] = GroupState(gs.last_sent, remaining)

    for group, entries in firing.items():
        gs = groups.get(group) or GroupState(now, frozenset())
        new = [e for e in entries if e.key not in gs.notified]
        if new:
            others = [e for e in entries if e.key in gs.notified]
            messages.append(
                Message(
                    MessageKind.FIRING,
                    group,
                    tuple(view(e, settings) for e in _order(new)),
                    tuple(view(e, settings) for e in _order(others)),
                    now,
                )
            )
            gs = GroupState(now, gs.notified | {e.key for e in new})
        elif now - gs.last_sent >= settings.repeat_interval:
            messages.append(
                Message(MessageKind.REPEAT, group, tuple(view(e, settings) for e in _order(entries)), (), now)
            )
            gs = GroupState(now, gs.notified)
        groups[group] = gs

    # Forget announcements of alerts the engine no longer tracks at all (their resolve, if any,
    # was handled above) and groups with nothing left to remember.
    tracked = set(alerts.entries)
    cleaned = {}
    for group, gs in groups.items():
        notified = frozenset(k for k in gs.notified if k in tracked)
        if notified:
            cleaned[group] = GroupState(gs.last_sent, notified)
    return NotifyState(cleaned), messages


# The alerts a restart notice is about: a silence that mutes them mutes the notice too.
NOTICE_ALERTS = ("CdcTaskFailed", "CdcConnectorFailed")


def plan_notice(
    cluster: str,
    connector: str,
    text: str,
    gave_up: bool,
    now: float,
    min_severity: Severity,
    silences: Iterable[Silence] = (),
) -> Notice | None:
    """A restart is info, giving up is a warning (a human must act); None when silenced or
    below the channel's `min_severity`."""
    severity = Severity.WARNING if gave_up else Severity.INFO
    if severity.rank > min_severity.rank:
        return None
    labels = make_labels(connect_cluster=cluster, connector=connector)
    silences = tuple(silences)
    if any(silenced(AlertKey(alert, labels), silences, now) for alert in NOTICE_ALERTS):
        return None
    return Notice(text, severity, labels, now)
