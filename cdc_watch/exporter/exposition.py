"""Prometheus text exposition (format 0.0.4) written straight from the catalogue.

Why not prometheus_client's metric families: at 2,000 connectors a scrape holds a few hundred
thousand samples, and building a Sample object per value costs several times the scrape
budget. Here label sets are formatted once per connector or task and reused for every metric
of it, and a one-hot group is written as one string (`one_hot`). At 20,000 connectors x 4
tasks (720,000 samples) a render stays within 0.5 s; benchmarks/bench_scale.py prints it next
to plain f-string formatting of the same series. The output is checked with
prometheus_client's own parser in the tests.

Per-task series (metrics whose catalogue labels include `task`) can be left out: a writer made
with `per_task=False` drops them, and contributors skip their task loops (`per_task`).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterable

from cdc_watch.exporter.catalogue import BY_NAME, CATALOGUE

# Metrics with one series per task (the `exporter.per_task_metrics` switch); alert series are
# bounded by what fires and always kept.
PER_TASK = frozenset(m.name for m in CATALOGUE if "task" in m.labels and m.subsystem != "alerts")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def labels(*pairs: tuple[str, str]) -> str:
    """('connect_cluster','prod'), ('connector','x') -> 'connect_cluster="prod",connector="x"'."""
    return ",".join(f'{key}="{escape_label_value(value)}"' for key, value in pairs)


def join(*parts: str) -> str:
    """Join preformatted label fragments, skipping empty ones."""
    return ",".join(p for p in parts if p)


_FLOAT_MAX = sys.float_info.max


def format_value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        # An upstream integer past the float range (10^400 in a reply) is no valid sample text.
        return str(value) if -_FLOAT_MAX <= value <= _FLOAT_MAX else ("+Inf" if value > 0 else "-Inf")
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@functools.lru_cache(maxsize=1024)
def _one_hot_tails(key: str, current: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f'{key}="{choice}"}} {"1" if choice == current else "0"}\n' for choice in choices)


def one_hot_text(name: str, label_text: str, key: str, current: str, choices: tuple[str, ...]) -> str:
    """The sample lines of one one-hot group as one string."""
    prefix = f"{name}{{{label_text}," if label_text else f"{name}{{"
    return prefix + prefix.join(_one_hot_tails(key, current, choices))


class MetricsWriter:
    """Collects samples per metric name; `render` writes them in catalogue order.

    A bucket holds text fragments of one or more whole sample lines."""

    __slots__ = ("_dropped", "_lines", "per_task")

    def __init__(self, per_task: bool = True) -> None:
        self._lines: dict[str, list[str]] = {}
        self.per_task = per_task
        self._dropped: list[str] = []  # the bucket of left-out metrics, emptied at render

    def bucket(self, name: str) -> list[str]:
        """The list to append whole sample lines of `name` to (for loops over many samples)."""
        bucket = self._lines.get(name)
        if bucket is None:
            if name not in BY_NAME:
                raise KeyError(f"metric {name} is not in the catalogue")
            if not self.per_task and name in PER_TASK:
                return self._dropped
            bucket = self._lines[name] = []
        return bucket

    def add(self, name: str, label_text: str, value: float | None) -> None:
        """Add one sample; None (no sample, e.g. NaN from JMX) is skipped."""
        if value is None:
            return
        bucket = self._lines.get(name) or self.bucket(name)
        if label_text:
            bucket.append(f"{name}{{{label_text}}} {format_value(value)}\n")
        else:
            bucket.append(f"{name} {format_value(value)}\n")

    def one_hot(self, name: str, label_text: str, key: str, current: str, choices: Iterable[str]) -> None:
        """One sample per choice: 1 for `current`, 0 for the others (written as one fragment)."""
        bucket = self._lines.get(name) or self.bucket(name)
        bucket.append(one_hot_text(name, label_text, key, current, tuple(choices)))

    def names(self) -> set[str]:
        return {name for name, bucket in self._lines.items() if bucket}

    def render(self) -> bytes:
        self._dropped.clear()
        out: list[str] = []
        for metric in CATALOGUE:
            bucket = self._lines.get(metric.name)
            if not bucket:
                continue
            help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
            out.append(f"# HELP {metric.name} {help_text}\n# TYPE {metric.name} {metric.type}\n")
            out.extend(bucket)
        return "".join(out).encode("utf-8")
