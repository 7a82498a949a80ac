"""Loading replies recorded from the real stack (tests/fixtures/recorded/<area>/<name>.json)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"


@cache
def _load(area: str, name: str) -> dict[str, Any]:
    return json.loads((ROOT / area / f"{name}.json").read_text())


def recorded(area: str, name: str) -> dict[str, Any]:
    """The whole recording (a fresh copy): `_recorded`, `request`, `status_code`, `body`, ..."""
    return copy.deepcopy(_load(area, name))


def body(area: str, name: str) -> Any:
    return recorded(area, name)["body"]
