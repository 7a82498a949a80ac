"""The alert model: severities, alert instances, their state across evaluations, transitions.

Values only (frozen, slotted dataclasses and StrEnums) plus their JSON form for the state file.
The rules (`rules.py`) produce them; the exporter, the notifiers and the state file consume them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}[self]


class Phase(StrEnum):
    PENDING = "pending"  # condition true, `for` not yet elapsed: nothing is sent
    FIRING = "firing"


class Change(StrEnum):
    FIRED = "fired"
    RESOLVED = "resolved"


# Sorted (label, value) pairs: connect_cluster, connector, task, database, source, worker.
Labels = tuple[tuple[str, str], ...]


def make_labels(**pairs: str | int | None) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in pairs.items() if v is not None and v != ""))


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why an alert holds: short facts for humans. Never secrets, never metric labels.

    `facts` are (name, value) pairs such as ("state", "FAILED") or ("binlog file", "mysql-bin.000004");
    `trace` is a scrubbed, trimmed excerpt of a task trace; `why` is the classified cause
    (failures.classify) and `hint` what a human must do.
    """

    facts: tuple[tuple[str, str], ...] = ()
    trace: str | None = None
    why: str | None = None
    hint: str | None = None
    kind: str | None = None  # bounded failure kind from failures.KINDS

    def to_json(self) -> dict[str, Any]:
        return {
            "facts": [list(f) for f in self.facts],
            "trace": self.trace,
            "why": self.why,
            "hint": self.hint,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Evidence:
        if not isinstance(raw, Mapping):
            raise TypeError("evidence is not an object")
        return cls(
            facts=tuple((str(a), str(b)) for a, b in raw.get("facts") or ()),
            trace=_text_or_none(raw.get("trace")),
            why=_text_or_none(raw.get("why")),
            hint=_text_or_none(raw.get("hint")),
            kind=_text_or_none(raw.get("kind")),
        )


def _text_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError("expected a string")


@dataclass(frozen=True, slots=True)
class AlertKey:
    alert: str  # CamelCase rule name, e.g. CdcTaskFailed
    labels: Labels

    def label(self, name: str) -> str | None:
        for key, value in self.labels:
            if key == name:
                return value
        return None

    def to_json(self) -> str:
        return self.alert + "|" + ",".join(f"{k}={v}" for k, v in self.labels)

    @classmethod
    def from_json(cls, text: str) -> AlertKey:
        if not isinstance(text, str):
            raise TypeError("alert key is not a string")
        alert, _, rest = text.partition("|")
        pairs = tuple(tuple(p.split("=", 1)) for p in rest.split(",") if "=" in p)
        return cls(alert, tuple(sorted((str(a), str(b)) for a, b in pairs)))


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """One alert instance the engine is tracking (pending or firing)."""

    key: AlertKey
    severity: Severity
    phase: Phase
    active_since: float  # when the condition was first seen true (start of `for`)
    fired_at: float | None = None
    evidence: Evidence = Evidence()
    cleared_since: float | None = None  # firing, condition false since (keep_firing_for)
    unseen_since: float | None = None  # its subject vanished from a readable reply since

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key.to_json(),
            "severity": str(self.severity),
            "phase": str(self.phase),
            "active_since": self.active_since,
            "fired_at": self.fired_at,
            "evidence": self.evidence.to_json(),
            "cleared_since": self.cleared_since,
            "unseen_since": self.unseen_since,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AlertEntry:
        return cls(
            key=AlertKey.from_json(raw["key"]),
            severity=Severity(raw["severity"]),
            phase=Phase(raw["phase"]),
            active_since=float(raw["active_since"]),
            fired_at=None if raw.get("fired_at") is None else float(raw["fired_at"]),
            evidence=Evidence.from_json(raw.get("evidence") or {}),
            cleared_since=None if raw.get("cleared_since") is None else float(raw["cleared_since"]),
            unseen_since=None if raw.get("unseen_since") is None else float(raw["unseen_since"]),
        )


@dataclass(frozen=True, slots=True)
class AlertState:
    """Everything the rules remember between evaluations.

    `entries`: pending and firing alerts. `memory`: small facts some rules need across polls
    (for the worker-lost rule: which worker a task was last seen on, and when), keyed by rule.
    """

    entries: Mapping[AlertKey, AlertEntry] = field(default_factory=lambda: MappingProxyType({}))
    memory: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def firing(self) -> list[AlertEntry]:
        return [e for e in self.entries.values() if e.phase is Phase.FIRING]

    def to_json(self) -> dict[str, Any]:
        return {"entries": [e.to_json() for e in self.entries.values()], "memory": dict(self.memory)}

    @classmethod
    def from_json(cls, raw: Any) -> AlertState:
        """Never raises: parts of the wrong shape are dropped (see `shape_problems`)."""
        if not isinstance(raw, Mapping):
            return cls()
        entries = {}
        items = raw.get("entries")
        for item in items if isinstance(items, list) else ():
            try:
                entry = AlertEntry.from_json(item)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # an entry this version cannot read is dropped, never fatal
            entries[entry.key] = entry
        raw_memory = raw.get("memory")
        memory: Mapping[Any, Any] = raw_memory if isinstance(raw_memory, Mapping) else {}
        return cls(MappingProxyType(entries), MappingProxyType({str(k): v for k, v in memory.items()}))

    @staticmethod
    def shape_problems(raw: Any) -> list[str]:
        """What in a persisted state does not have the expected shape (for a warning)."""
        if raw is None:
            return []
        if not isinstance(raw, Mapping):
            return ["state is not an object"]
        problems = []
        if raw.get("entries") is not None and not isinstance(raw.get("entries"), list):
            problems.append("entries is not a list")
        if raw.get("memory") is not None and not isinstance(raw.get("memory"), Mapping):
            problems.append("memory is not an object")
        return problems


class Resolution(StrEnum):
    """Why a firing alert resolved (the `reason` of a RESOLVED transition)."""

    CLEARED = "cleared"  # its condition stayed false for keep_firing_for
    DELETED = "deleted"  # Connect confirmed the connector deleted
    SUPERSEDED = "superseded"  # folded into a more specific alert of the same connector
    VANISHED = "vanished"  # its subject was absent from readable replies for vanished_after
    DISABLED = "disabled"  # its rule was disabled by configuration
    REMOVED = "removed"  # this version no longer has its rule


@dataclass(frozen=True, slots=True)
class Transition:
    change: Change
    entry: AlertEntry  # for RESOLVED: the entry as it was while firing
    at: float
    reason: Resolution | None = None  # RESOLVED only
    by: str | None = None  # SUPERSEDED: the alert it was folded into
