"""The Grafana dashboards in dashboards/: one JSON file per dashboard of `panels.ALL`."""

from __future__ import annotations

import json
from pathlib import Path

from generate.grafana import Dashboard, render
from generate.panels import ALL

REPO = Path(__file__).resolve().parent.parent
TARGET_DIR = REPO / "dashboards"


def dashboards() -> tuple[Dashboard, ...]:
    return ALL


def outputs() -> dict[Path, str]:
    return {TARGET_DIR / f"{d.uid}.json": json.dumps(render(d), indent=2, sort_keys=True) + "\n" for d in dashboards()}


def owned() -> list[Path]:
    """Files of this generator's kind already on disk (a stray one fails --check)."""
    return sorted(TARGET_DIR.glob("*.json"))
