"""Operator commands (`cdc-watch connectors ...`, `cdc-watch preflight`) and their exit codes.

Each command is split in two: a pure module that turns replies into views and text
(`connect_views`, `cdc_watch.preflight`), and an I/O module that makes the requests and prints
(`connectors`, `preflight`). Exit codes are part of the interface scripts rely on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation failed upstream: unknown connector, invalid config, a failing check
    USAGE = 2  # bad flags, unreadable config or connector file, rejected credentials
    UNREACHABLE = 3  # no worker of the cluster (or the database) answered


class CommandError(Exception):
    """A command that cannot go on; `message` is safe to print (no secrets)."""

    def __init__(self, code: ExitCode, message: str, detail: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or {}
