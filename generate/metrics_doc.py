"""docs/metrics.md, the metrics catalogue as a page."""

from __future__ import annotations

from pathlib import Path

from cdc_watch.exporter.catalogue import render_markdown

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "docs" / "metrics.md"


def outputs() -> dict[Path, str]:
    return {TARGET: render_markdown()}
