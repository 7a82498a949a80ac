"""The daemon's state file: small JSON sections that must survive a restart, and journals.

Alert state, remediation backoff and binlog "first seen" times each own one section. Writes
are atomic (temp file + fsync + rename + fsync of the directory). A file that cannot be parsed
is moved aside to `<name>.corrupt-<timestamp>` with a warning and the daemon starts clean; it
never refuses to start because of its own state. A temp file a crash left behind (`<name>.tmp-*`)
is removed at start. (Older versions named theirs `<name>.` plus 8 random characters; those
are left alone: that pattern could be an operator's own backup.)

What changes often and grows (the notification outbox) does not belong in a section, which is
rewritten whole on every save: it is a `Journal` next to the state file (`<name>.<suffix>`),
an append-only file of JSON lines, rewritten only when its owner compacts it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
TEMP_INFIX = ".tmp-"

Hook = Callable[[str], None]


def _fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable (a no-op where it is not supported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(path: Path) -> int:
    """Delete the temp files an interrupted atomic write of `path` left; how many went."""
    removed = 0
    try:
        candidates = list(path.parent.glob(path.name + ".*"))
    except OSError:
        return 0
    for candidate in candidates:
        suffix = candidate.name[len(path.name) :]
        if suffix.startswith(TEMP_INFIX):
            try:
                candidate.unlink()
                removed += 1
            except OSError:
                pass
    if removed:
        log.info("removed temp files an interrupted write left", extra={"path": str(path), "count": removed})
    return removed


def write_atomically(path: Path, data: bytes, hook: Hook | None = None) -> None:
    """Replace `path` with `data`: temp file, fsync, rename, fsync of the directory. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + TEMP_INFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if hook is not None:
            hook("rewrite_written")
        os.replace(tmp, path)
    except Exception:  # a crash (a BaseException in tests, a kill for real) leaves it for the next start
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hook is not None:
        hook("rewrite_replaced")
    _fsync_dir(path.parent)


class StateFile:
    """Thread-safe access to named sections; `path=None` keeps state in memory only."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        # Called after each save with (section, value): the HA leader publishes it (cdc_watch.ha).
        self.on_save: Callable[[str, Any], None] | None = None
        if path is not None:
            remove_stale_temps(path)
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
            if self.path is not None:
                body = json.dumps({"version": FORMAT_VERSION, "sections": self._sections}, sort_keys=True)
                try:
                    write_atomically(self.path, body.encode("utf-8"))
                except OSError as exc:
                    log.error("cannot write state file", extra={"path": str(self.path), "error": exc.strerror})
        if self.on_save is not None:
            self.on_save(name, value)

    def journal(self, suffix: str) -> Journal:
        """The journal `<state file>.<suffix>` (in memory only when the state file is)."""
        return Journal(None if self.path is None else self.path.with_name(f"{self.path.name}.{suffix}"))


class Journal:
    """An append-only file of JSON records, one a line; `path=None` keeps nothing.

    `records` are those read at open. A crash in the middle of an append leaves a last line
    without its newline: it is dropped (and cut off the file, so the next append starts on a
    clean line). Any other line that does not parse is skipped with a warning. `append` writes,
    flushes and fsyncs before it returns; `rewrite` (compaction) replaces the whole file
    atomically, so a crash during it leaves the old journal, and the temp file is removed at
    the next open. `hook(step)`, when set, is called at each step (crash tests).
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.hook: Hook | None = None
        self.size = 0  # bytes in the file
        self.records: list[Any] = []
        if path is not None:
            remove_stale_temps(path)
            self.records = self._read(path)

    def _read(self, path: Path) -> list[Any]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.error("cannot read journal; starting it empty", extra={"path": str(path), "error": exc.strerror})
            return []
        end = data.rfind(b"\n") + 1
        records, bad = [], 0
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                bad += 1
        if end < len(data):  # torn last line: the append that wrote it never returned
            try:
                with path.open("r+b") as handle:
                    handle.truncate(end)
                    os.fsync(handle.fileno())
            except OSError as exc:
                log.error("cannot repair journal", extra={"path": str(path), "error": exc.strerror})
            log.info("journal ended in an incomplete record; dropped it", extra={"path": str(path)})
        if bad:
            log.warning("journal lines unreadable; skipped", extra={"path": str(path), "count": bad})
        self.size = end
        return records

    def _step(self, name: str) -> None:
        if self.hook is not None:
            self.hook(name)

    def append(self, records: Iterable[Any]) -> int:
        """Write `records` (one line each) durably; the bytes written."""
        data = b"".join(_line(r) for r in records)
        if not data or self.path is None:
            return len(data)
        self._step("append")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        # Opened per append: an fsync costs far more than the open, and no handle outlives a call.
        with self.path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if new:
            _fsync_dir(self.path.parent)
        self.size += len(data)
        self._step("appended")
        return len(data)

    def rewrite(self, records: Iterable[Any]) -> None:
        """Replace the journal with `records` (compaction), atomically."""
        data = b"".join(_line(r) for r in records)
        if self.path is None:
            return
        write_atomically(self.path, data, self.hook)
        self.size = len(data)


def _line(record: Any) -> bytes:
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode("utf-8") + b"\n"


def line_size(record: Any) -> int:
    """The bytes `record` takes in a journal."""
    return len(_line(record))
