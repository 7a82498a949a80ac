"""What a notification says, independent of the channel: one message per connector group,
or a short remediation notice.

Values with a JSON form, so undelivered messages survive a restart in the state file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cdc_watch.rules.model import AlertKey, Evidence, Labels, Severity


class MessageKind(StrEnum):
    FIRING = "firing"  # new alert(s) in the group
    REPEAT = "repeat"  # still firing after repeat_interval
    RESOLVED = "resolved"  # alert(s) in the group cleared


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert rendered for humans: everything a channel needs, nothing secret."""

    key: AlertKey
    severity: Severity
    summary: str
    description: str
    runbook_url: str
    dashboard_url: str | None
    evidence: Evidence
    active_since: float
    fired_at: float | None
    resolution: str | None = None  # RESOLVED messages: why (rules.model.Resolution)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key.to_json(),
            "severity": str(self.severity),
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url,
            "dashboard_url": self.dashboard_url,
            "evidence": self.evidence.to_json(),
            "active_since": self.active_since,
            "fired_at": self.fired_at,
            "resolution": self.resolution,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AlertView:
        return cls(
            key=AlertKey.from_json(raw["key"]),
            severity=Severity(raw["severity"]),
            summary=str(raw["summary"]),
            description=str(raw["description"]),
            runbook_url=str(raw["runbook_url"]),
            dashboard_url=raw.get("dashboard_url"),
            evidence=Evidence.from_json(raw.get("evidence") or {}),
            active_since=float(raw["active_since"]),
            fired_at=None if raw.get("fired_at") is None else float(raw["fired_at"]),
            resolution=None if raw.get("resolution") is None else str(raw["resolution"]),
        )


@dataclass(frozen=True, slots=True)
class Message:
    kind: MessageKind
    group: Labels  # (connect_cluster, connector) or (database) or (connect_cluster) or (source)
    alerts: tuple[AlertView, ...]  # the alerts this message is about (new, repeated or resolved)
    also_firing: tuple[AlertView, ...]  # other alerts of the group still firing
    at: float

    @property
    def severity(self) -> Severity:
        return min((a.severity for a in self.alerts), key=lambda s: s.rank)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "group": [list(p) for p in self.group],
            "alerts": [a.to_json() for a in self.alerts],
            "also_firing": [a.to_json() for a in self.also_firing],
            "at": self.at,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Message:
        return cls(
            kind=MessageKind(raw["kind"]),
            group=tuple((str(a), str(b)) for a, b in raw["group"]),
            alerts=tuple(AlertView.from_json(a) for a in raw["alerts"]),
            also_firing=tuple(AlertView.from_json(a) for a in raw.get("also_firing") or ()),
            at=float(raw["at"]),
        )


@dataclass(frozen=True, slots=True)
class Notice:
    """A short line about something cdc_watch did (a restart, giving up), for Slack only."""

    text: str
    severity: Severity
    group: Labels  # (connect_cluster, connector)
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "notice": {
                "text": self.text,
                "severity": str(self.severity),
                "group": [list(p) for p in self.group],
                "at": self.at,
            }
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Notice:
        body = raw["notice"]
        return cls(
            str(body["text"]),
            Severity(body["severity"]),
            tuple((str(a), str(b)) for a, b in body["group"]),
            float(body["at"]),
        )


def payload_from_json(raw: Any) -> Message | Notice:
    """A persisted Slack payload; raises (KeyError, TypeError, ValueError, AttributeError) if malformed."""
    if not isinstance(raw, Mapping):
        raise TypeError("payload is not an object")
    return Notice.from_json(raw) if "notice" in raw else Message.from_json(raw)
