"""Prometheus text exposition (format 0.0.4) written straight from the catalogue.

Why not prometheus_client's metric families: at 2,000 connectors a scrape holds a few hundred
thousand samples, and building a Sample object per value costs several times the scrape
budget. Here label sets are formatted once per connector or task and reused for every metric
of it. The output is checked with prometheus_client's own parser in the tests.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable

from cdc_watch.exporter.catalogue import BY_NAME, CATALOGUE

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


class MetricsWriter:
    """Collects samples per metric name; `render` writes them in catalogue order."""

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def add(self, name: str, label_text: str, value: float | None) -> None:
        """Add one sample; None (no sample, e.g. NaN from JMX) is skipped."""
        if value is None:
            return
        bucket = self._lines.get(name)
        if bucket is None:
            if name not in BY_NAME:
                raise KeyError(f"metric {name} is not in the catalogue")
            bucket = self._lines[name] = []
        if label_text:
            bucket.append(f"{name}{{{label_text}}} {format_value(value)}\n")
        else:
            bucket.append(f"{name} {format_value(value)}\n")

    def one_hot(self, name: str, label_text: str, key: str, current: str, choices: Iterable[str]) -> None:
        """One sample per choice: 1 for `current`, 0 for the others."""
        bucket = self._lines.get(name)
        if bucket is None:
            if name not in BY_NAME:
                raise KeyError(f"metric {name} is not in the catalogue")
            bucket = self._lines[name] = []
        prefix = f"{name}{{{label_text}," if label_text else f"{name}{{"
        for choice in choices:
            bucket.append(f'{prefix}{key}="{choice}"}} {"1" if choice == current else "0"}\n')

    def names(self) -> set[str]:
        return set(self._lines)

    def render(self) -> bytes:
        out: list[str] = []
        for metric in CATALOGUE:
            bucket = self._lines.get(metric.name)
            if not bucket:
                continue
            help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
            out.append(f"# HELP {metric.name} {help_text}\n# TYPE {metric.name} {metric.type}\n")
            out.extend(bucket)
        return "".join(out).encode("utf-8")
