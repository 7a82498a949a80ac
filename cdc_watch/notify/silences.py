"""Silences: matchers that keep alerts from being notified (they are still evaluated and exported).

Two kinds: permanent ones from config (`alerting.silences`), and time-bound ones added at run
time (`cdc-watch silence add ... --for 2h`) and kept in the state file. Pure values and
functions; the web routes and the app do the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cdc_watch.rules.model import AlertKey

MATCH_FIELDS = ("alert", "connect_cluster", "connector", "database")
_ID = re.compile(r"^[a-z0-9]{1,32}$")


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[tuple[str, str], ...]  # exact matches on alert name and labels
    until: float | None  # None: permanent (from config)
    comment: str = ""
    created_by: str = ""

    def matches(self, key: AlertKey) -> bool:
        for name, wanted in self.matchers:
            have = key.alert if name == "alert" else key.label(name)
            if have != wanted:
                return False
        return True

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": dict(self.matchers),
            "until": self.until,
            "comment": self.comment,
            "created_by": self.created_by,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Silence:
        matchers = raw.get("matchers") or {}
        if not isinstance(matchers, Mapping) or not matchers:
            raise ValueError("a silence needs at least one matcher")
        unknown = set(matchers) - set(MATCH_FIELDS)
        if unknown:
            raise ValueError(f"unknown matcher(s): {', '.join(sorted(unknown))}")
        ident = str(raw.get("id", ""))
        if not _ID.match(ident):
            raise ValueError("invalid silence id")
        until = raw.get("until")
        return cls(
            id=ident,
            matchers=tuple(sorted((str(k), str(v)) for k, v in matchers.items())),
            until=None if until is None else float(until),
            comment=str(raw.get("comment", ""))[:500],
            created_by=str(raw.get("created_by", ""))[:100],
        )


def silenced(key: AlertKey, silences: Iterable[Silence], now: float) -> bool:
    return any(s.active(now) and s.matches(key) for s in silences)


def prune(silences: Iterable[Silence], now: float) -> tuple[Silence, ...]:
    return tuple(s for s in silences if s.active(now))
