"""Builds the /metrics body from one snapshot: fresh samples on every scrape.

Each subsystem contributes a function `(snapshot, writer) -> None`. Connectors and tasks
that vanish upstream vanish from the output because nothing is carried over between scrapes.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest

from cdc_watch import __version__
from cdc_watch.core.model import ErrorReason
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import MetricsWriter, labels

Contributor = Callable[[Snapshot, MetricsWriter], None]


@dataclass(frozen=True, slots=True)
class ConfigStatus:
    last_reload_ok: bool
    loaded_at: float  # wall clock of the configuration in use


REVISION_ENV = "CDC_WATCH_REVISION"  # set by the Dockerfile from its REVISION build argument


def build_revision() -> str:
    """The git revision of this build: $CDC_WATCH_REVISION (the image sets it from its REVISION
    build argument), else "unknown". Never read from a checkout at run time, so generated files
    that embed a scrape stay the same from one commit to the next."""
    return os.environ.get(REVISION_ENV, "").strip() or "unknown"


class RuntimeMetrics:
    """`process_*` (CPU, memory, file descriptors, start time), `python_gc_*` and `python_info`
    for the daemon itself, from prometheus_client's own collectors on a private registry.

    They sit outside the catalogue (their names and help are prometheus_client's, the same as
    every Python exporter's) and are appended after the catalogue's families."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self._registry)
        GCCollector(registry=self._registry)
        PlatformCollector(registry=self._registry)

    def render(self) -> bytes:
        return generate_latest(self._registry)


def self_metrics(snapshot: Snapshot, out: MetricsWriter) -> None:
    out.add(
        "cdc_build_info",
        labels(("version", __version__), ("revision", build_revision()), ("python_version", platform.python_version())),
        1,
    )
    for name, status in snapshot.sources.items():
        source = labels(("source", name))
        out.add("cdc_source_up", source, 1 if status.up else 0)
        out.add("cdc_source_polls_total", source, status.polls_total)
        if status.last is not None:
            out.add("cdc_source_poll_duration_seconds", source, status.last.duration)
        if status.last_success is not None:
            out.add("cdc_source_last_success_timestamp_seconds", source, status.last_success.started_at)
        # Every reason from the start, so the first failure shows in increase() and rate().
        for reason in ErrorReason:
            out.add(
                "cdc_source_poll_errors_total",
                labels(("source", name), ("reason", str(reason))),
                status.errors_total.get(reason, 0),
            )


def config_metrics(status: Callable[[], ConfigStatus]) -> Contributor:
    def contribute(_: Snapshot, out: MetricsWriter) -> None:
        current = status()
        out.add("cdc_config_last_reload_successful", "", 1 if current.last_reload_ok else 0)
        out.add("cdc_config_last_reload_success_timestamp_seconds", "", current.loaded_at)

    return contribute


def render(snapshot: Snapshot, contributors: Sequence[Contributor], per_task: bool = True) -> bytes:
    """The /metrics body; `per_task=False` leaves out the per-task series (`exporter.per_task_metrics`)."""
    out = MetricsWriter(per_task)
    for contribute in contributors:
        contribute(snapshot, out)
    return out.render()
