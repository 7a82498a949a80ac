"""Value types every source and consumer shares: poll results, typed errors, source status.

Frozen, slotted dataclasses and StrEnums: sources build them, nothing mutates them afterwards,
so any thread may read a snapshot without locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ErrorReason(StrEnum):
    """Closed set of reasons a poll can fail; used as the `reason` label."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    TLS = "tls"
    AUTH = "auth"
    HTTP_STATUS = "http_status"
    CONFLICT = "conflict"  # 409 or "rebalance is expected": retry later
    DECODE = "decode"
    TOO_LARGE = "too_large"  # a reply or result past its size bound (max_reply_size, row limits)
    QUERY = "query"
    INTERNAL = "internal"


class SourceFailure(Exception):
    """Raised by a source's poll; the poller turns it into a SourceError in the snapshot.

    The message must already be safe to show: no secrets, no response bodies of unknown
    content beyond a short excerpt.
    """

    def __init__(self, reason: ErrorReason, message: str, may_have_reached: bool = True):
        super().__init__(message)
        self.reason = reason
        self.message = message
        # False only when the request certainly never reached the server (connection refused,
        # connect timeout): then a non-idempotent request may be sent to another worker.
        self.may_have_reached = may_have_reached


@dataclass(frozen=True, slots=True)
class SourceError:
    reason: ErrorReason
    message: str


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one source produced: data on success, a typed error otherwise."""

    source: str  # unique id, e.g. "connect:prod"
    kind: str  # connect | jolokia | mysql | ...
    started_at: float  # wall clock, seconds since the epoch
    duration: float  # seconds
    data: Any = None
    error: SourceError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """The latest result of one source plus its cumulative counters."""

    source: str
    kind: str
    last: PollResult | None = None
    last_success: PollResult | None = None
    polls_total: int = 0
    errors_total: Mapping[ErrorReason, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def up(self) -> bool:
        return self.last is not None and self.last.ok

    @property
    def data(self) -> Any:
        """Data of the last poll if it succeeded, else None."""
        return self.last.data if self.last is not None and self.last.ok else None

    def with_result(self, result: PollResult) -> SourceStatus:
        errors = dict(self.errors_total)
        if result.error is not None:
            errors[result.error.reason] = errors.get(result.error.reason, 0) + 1
        return SourceStatus(
            source=self.source,
            kind=self.kind,
            last=result,
            last_success=result if result.ok else self.last_success,
            polls_total=self.polls_total + 1,
            errors_total=MappingProxyType(errors),
        )
