"""Exporter contributor for the freshness canary: per connector, from each `canary:<database>` round."""

from __future__ import annotations

from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.sources.kafka.canary import KIND, OUTCOMES, CanaryState


def canary_metrics(snapshot: Snapshot, out: MetricsWriter) -> None:
    for status in snapshot.by_kind(KIND):
        state = status.data
        if not isinstance(state, CanaryState):
            continue  # the round failed: CdcSourceUnreadable says why; no canary series meanwhile
        for probe in state.probes.values():
            base = labels(("connect_cluster", probe.cluster), ("connector", probe.connector))
            out.add("cdc_canary_active", base, 1 if probe.active else 0)
            out.add("cdc_canary_latency_seconds", base, probe.latency)
            out.add("cdc_canary_last_success_timestamp_seconds", base, probe.fresh_since or probe.last_success_at)
            for outcome in OUTCOMES:
                out.add(
                    "cdc_canary_probes_total", f"{base},{labels(('outcome', outcome))}", probe.totals.get(outcome, 0)
                )
