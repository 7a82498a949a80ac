"""Loading replies recorded from the real stack (tests/fixtures/recorded/<area>/<name>.json).

Each Kafka Connect version the devstack runs has its own recorded set with the same layout:
`tests/fixtures/recorded/` (Connect 3.9, the first set) and `tests/fixtures/recorded-connect-<v>/`
beside it. `recorded()` and `body()` read the first set unless a version is named;
`recorded_versions()` lists the versions that have a set, for tests that run on all of them.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = FIXTURES / "recorded"
BASELINE = "3.9"


def version_root(version: str | None = None) -> Path:
    if version in (None, BASELINE):
        return ROOT
    return FIXTURES / f"recorded-connect-{version}"


def recorded_versions() -> list[str]:
    """Connect versions with a recorded set, oldest first ("3.9", "4.1", ...)."""
    found = [BASELINE] + [
        p.name.removeprefix("recorded-connect-") for p in FIXTURES.glob("recorded-connect-*") if p.is_dir()
    ]
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


@cache
def _load(area: str, name: str, version: str | None) -> dict[str, Any]:
    return json.loads((version_root(version) / area / f"{name}.json").read_text())


def recorded(area: str, name: str, version: str | None = None) -> dict[str, Any]:
    """The whole recording (a fresh copy): `_recorded`, `request`, `status_code`, `body`, ..."""
    return copy.deepcopy(_load(area, name, version))


def body(area: str, name: str, version: str | None = None) -> Any:
    return recorded(area, name, version)["body"]
