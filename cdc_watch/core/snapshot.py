"""The snapshot: the latest result of every source, swapped atomically after each poll.

Pollers write through `SnapshotStore.record`; readers (exporter, rules, other sources) take
`SnapshotStore.current()` once and work on that immutable value.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cdc_watch.core.model import PollResult, SourceStatus


@dataclass(frozen=True, slots=True)
class Snapshot:
    sources: Mapping[str, SourceStatus] = field(default_factory=lambda: MappingProxyType({}))

    def data(self, source: str) -> Any:
        """Data of the source's last poll if it succeeded, else None."""
        status = self.sources.get(source)
        if status is None or status.last is None or not status.last.ok:
            return None
        return status.last.data

    def last_good(self, source: str) -> Any:
        """Data of the source's last successful poll, however old."""
        status = self.sources.get(source)
        if status is None or status.last_success is None:
            return None
        return status.last_success.data

    def by_kind(self, kind: str) -> list[SourceStatus]:
        return [s for s in self.sources.values() if s.kind == kind]

    @property
    def all_polled(self) -> bool:
        return all(s.last is not None for s in self.sources.values())


class SnapshotStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = Snapshot()

    def current(self) -> Snapshot:
        return self._snapshot

    def register(self, sources: Iterable[tuple[str, str]]) -> None:
        """Declare the configured (name, kind) sources; drops sources no longer configured."""
        with self._lock:
            old = self._snapshot.sources
            fresh = {name: old.get(name) or SourceStatus(source=name, kind=kind) for name, kind in sources}
            self._snapshot = Snapshot(MappingProxyType(fresh))

    def record(self, result: PollResult) -> Snapshot:
        with self._lock:
            sources = dict(self._snapshot.sources)
            status = sources.get(result.source)
            if status is None:
                return self._snapshot  # source was removed by a reload while it polled
            sources[result.source] = status.with_result(result)
            self._snapshot = Snapshot(MappingProxyType(sources))
            return self._snapshot
