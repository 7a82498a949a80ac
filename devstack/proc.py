"""Detached process control for the devstack: start, identify, stop, wait.

Every piece runs in its own session with stdout/stderr going to a log file and its pid in a
pid file. A pid file is trusted only if the process it names is alive and its command line
mentions the stack's state directory, so stale or recycled pids are never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class StackError(RuntimeError):
    """A piece of the devstack failed; the message names the piece and its log file."""

    def __init__(self, piece: str, message: str, log_path: Path | None = None) -> None:
        self.piece = piece
        self.log_path = log_path
        text = f"devstack piece '{piece}': {message}"
        if log_path is not None:
            text += f"\n  log: {log_path}\n  last lines:\n{tail(log_path)}"
        super().__init__(text)


def tail(path: Path, lines: int = 25) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"    (cannot read log: {exc})"
    return "\n".join("    " + line for line in data[-lines:]) or "    (log is empty)"


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (OSError, IndexError):
        return False
    return True


def read_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` if that process is alive and its command line contains marker."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if is_alive(pid) and marker in cmdline(pid):
        return pid
    return None


def spawn(argv: Sequence[str], log_path: Path, pid_file: Path, env: dict | None = None, cwd: Path | None = None) -> int:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n===== devstack start {time.strftime('%Y-%m-%dT%H:%M:%S')}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=cwd,
                close_fds=True,
            )
        except OSError as exc:  # a missing binary (bootstrap not run) names the piece, not a traceback
            raise StackError(
                pid_file.stem, f"cannot start {argv[0]}: {exc.strerror}; run scripts/bootstrap", log_path
            ) from None
    pid_file.write_text(f"{proc.pid}\n")
    # The Popen object is dropped; reap it lazily so it never lingers as a zombie.
    _children.append(proc)
    return proc.pid


_children: list[subprocess.Popen] = []


def reap() -> None:
    for proc in list(_children):
        if proc.poll() is not None:
            _children.remove(proc)


def stop_pid(pid: int, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
    """Signal ``pid`` (and its process group), then SIGKILL after ``timeout`` seconds."""
    for target in (lambda s: os.killpg(pid, s), lambda s: os.kill(pid, s)):
        try:
            target(sig)
            break
        except (ProcessLookupError, PermissionError):
            continue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        if not is_alive(pid):
            return
        time.sleep(0.1)
    kills: tuple[Callable[[], None], ...] = (
        lambda: os.killpg(pid, signal.SIGKILL),
        lambda: os.kill(pid, signal.SIGKILL),
    )
    for kill in kills:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and is_alive(pid):
        reap()
        time.sleep(0.1)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.25, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value; raise TimeoutError after timeout.

    Transient errors of the predicate are retried; a StackError (a piece that exited) ends
    the wait at once.
    """
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except StackError:
            raise  # a piece is gone for good: waiting longer cannot help
        except Exception as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)
