"""The daemon's state file: small JSON sections that must survive a restart.

Alert state, remediation backoff and binlog "first seen" times each own one section. Writes
are atomic (temp file + rename). A file that cannot be parsed is moved aside to
`<name>.corrupt-<timestamp>` with a warning and the daemon starts clean; it never refuses
to start because of its own state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class StateFile:
    """Thread-safe access to named sections; `path=None` keeps state in memory only."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._sections: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if (
                not isinstance(raw, dict)
                or raw.get("version") != FORMAT_VERSION
                or not isinstance(raw.get("sections"), dict)
            ):
                raise ValueError("unexpected layout")
            return raw["sections"]
        except (OSError, ValueError) as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            try:
                self.path.rename(aside)
            except OSError:
                aside = self.path
            log.warning(
                "state file unreadable; set aside, starting with empty state",
                extra={"path": str(self.path), "moved_to": str(aside), "error": type(exc).__name__},
            )
            return {}

    def section(self, name: str) -> Any:
        """A copy of one section (None when absent)."""
        with self._lock:
            value = self._sections.get(name)
            return json.loads(json.dumps(value)) if value is not None else None

    def save(self, name: str, value: Any) -> None:
        with self._lock:
            self._sections[name] = value
            if self.path is None:
                return
            body = json.dumps({"version": FORMAT_VERSION, "sections": self._sections}, sort_keys=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(body)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except OSError as exc:
                log.error("cannot write state file", extra={"path": str(self.path), "error": exc.strerror})
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
