"""How long one rule evaluation takes at scale (it runs after every poll result).

    .venv/bin/python benchmarks/bench_rules.py [connectors]

Builds a snapshot with N Debezium connectors (one task each) on one Connect cluster, with
committed offsets, Jolokia streaming metrics and one database, then times `rules.evaluate`
and the notification planning. Prints figures; asserts nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cdc_watch.config import RulesConfig
from cdc_watch.notify.plan import NotifyState, PlanSettings, plan
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertState
from generate.scenarios import ALL_SOURCES, Step
from generate.snapshots import full_snapshot


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    connectors = {
        f"c{i}": ("FAILED" if i % 50 == 0 else "RUNNING", {0: ("FAILED" if i % 20 == 0 else "RUNNING") + "@w1:8083"})
        for i in range(n)
    }
    step = Step(
        0,
        {"prod": connectors},
        databases={
            "db1": {
                "files": ("mysql-bin.000003", "mysql-bin.000004", "mysql-bin.000005"),
                "head": ("mysql-bin.000005", 5000),
                "written": 1000,
            }
        },
        offsets={f"c{i}": ("mysql-bin.000004", 100) for i in range(n)},
        jolokia={f"c{i}": {"position": ("mysql-bin.000005", 4000), "behind": 1.0} for i in range(n)},
    )
    snapshot = full_snapshot(step, ALL_SOURCES, 1_750_000_000.0, 1_750_000_000.0)
    cfg = RulesConfig()
    settings = PlanSettings(cfg, 4 * 3600.0, "https://example/runbook.md")
    state, notify = AlertState(), NotifyState()
    timings = []
    for i in range(10):
        t0 = time.perf_counter()
        state, transitions = rules.evaluate(state, snapshot, 1_750_000_000.0 + 60 * i, cfg)
        notify, _messages = plan(notify, state, transitions, 1_750_000_000.0 + 60 * i, settings)
        timings.append(time.perf_counter() - t0)
    print(f"connectors: {n}  alert entries: {len(state.entries)}  firing: {len(state.firing())}")
    print(
        f"evaluate+plan: first {timings[0] * 1000:.1f} ms, median {sorted(timings)[len(timings) // 2] * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
