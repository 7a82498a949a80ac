"""Test helpers for the MySQL source: a fake pymysql connection that serves recorded replies.

The fake answers only the exact statements (with their arguments) present in the recording and
fails the test on any other; it records every statement so tests can assert the exact queries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pymysql.cursors
import pymysql.err

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "mysql"


def load(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / name).read_text())["replies"]


def key(sql: str, args: Any) -> str:
    return sql if not args else f"{sql} | {json.dumps(list(args))}"


class UnexpectedQuery(AssertionError):
    pass


class FakeCursor:
    def __init__(self, conn: FakeConnection):
        self.conn = conn
        self.description = None
        self._rows: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql: str, args: Any = None) -> None:
        k = key(sql, args)
        self.conn.executed.append(k)
        if self.conn.fail_next is not None:
            error, self.conn.fail_next = self.conn.fail_next, None
            raise error
        if k not in self.conn.replies:
            raise UnexpectedQuery(f"unexpected statement: {k}")
        reply = self.conn.replies[k]
        if "error" in reply:
            code, message = reply["error"]
            raise pymysql.err.OperationalError(code, message)
        self.description = [(c,) for c in reply["columns"]] if reply["columns"] else None
        self._rows = [tuple(r) for r in reply["rows"]]

    def fetchall(self):
        return self._rows

    def fetchmany(self, size: int):
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def nextset(self):
        return None


class FakeConnection:
    def __init__(self, replies: dict[str, Any]):
        self.replies = replies
        self.executed: list[str] = []
        self.closed = False
        self.fail_next: Exception | None = None

    def cursor(self, cursor_class=None):
        # The source reads unbuffered, so a result past its row bound is never held whole.
        assert cursor_class is pymysql.cursors.SSCursor, cursor_class
        return FakeCursor(self)

    def close(self) -> None:
        self.closed = True


class FakeConnector:
    """Stands in for pymysql.connect: hands out FakeConnections over one shared reply map."""

    def __init__(self, replies: dict[str, Any]):
        self.replies = replies
        self.connections: list[FakeConnection] = []
        self.refuse: Exception | None = None

    def __call__(self) -> FakeConnection:
        if self.refuse is not None:
            raise self.refuse
        conn = FakeConnection(self.replies)
        self.connections.append(conn)
        return conn

    @property
    def executed(self) -> list[str]:
        return [q for c in self.connections for q in c.executed]
