"""Classifying a Kafka Connect task or connector failure from its `trace`.

Pure functions only. A trace is Java's `printStackTrace()` text: a top exception line, `\\tat`
frames, then any number of `Caused by:` sections (docs/protocols.md). `classify` splits it
into exception blocks, matches each block's message (never its frames) against a closed table
of known signatures, and decides:

- a non-retriable signature anywhere in the chain wins (a purged binlog wrapped in "This
  connector will be stopped" is still a purged binlog); among several, the deepest cause wins;
- otherwise the deepest retriable signature wins (the root cause says why: "Communications
  link failure" caused by "Connection refused" is `connection_refused`);
- otherwise the failure is `unknown`, and the remediation policy applies its configured default.

The `kind` values form a closed set (`KINDS`), so they may be used as log fields or label values.
The `summary` is scrubbed with `redact.scrub` and trimmed; `hint` is static text.

`explain` turns a trace into the `Failure` cdc_watch keeps instead of the trace: the
classification, a bounded scrubbed excerpt (what alerts and the status show) and a digest that
tells traces apart. The Connect parser calls it once per distinct trace, so a trace of kilobytes
is never held past the poll that read it (issue 24: at 20,000 connectors the traces alone
were most of the memory).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cdc_watch.core import redact


class FailureCategory(StrEnum):
    RETRIABLE = "retriable"
    NON_RETRIABLE = "non_retriable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Classification:
    category: FailureCategory
    kind: str  # one of KINDS
    hint: str  # what a human must do
    summary: str  # top exception line and root cause, scrubbed and trimmed

    @property
    def retriable(self) -> bool:
        return self.category is FailureCategory.RETRIABLE


@dataclass(frozen=True, slots=True)
class _Signature:
    kind: str
    category: FailureCategory
    pattern: re.Pattern[str]
    hint: str


def _sig(kind: str, category: FailureCategory, pattern: str, hint: str) -> _Signature:
    return _Signature(kind, category, re.compile(pattern, re.I | re.S), hint)


_NR = FailureCategory.NON_RETRIABLE
_R = FailureCategory.RETRIABLE

# Order matters within one exception block: the first matching signature names it.
_SIGNATURES: tuple[_Signature, ...] = (
    # --- non-retriable: a restart cannot fix these --------------------------------------
    _sig(
        "duplicate_server_id",
        _NR,
        r"same server_uuid/server_id|A (?:slave|replica) with the same server",
        "Another binlog client uses the same server id: give this connector a unique "
        "database.server.id, then restart it.",
    ),
    _sig(
        "binlog_purged",
        _NR,
        r"but this is no longer available on the server"
        r"|Could not find first log file name in binary log index"
        r"|purged binary logs containing GTIDs|purged required binary logs"
        r"|Last recorded offset is no longer available",
        "The binlog position this connector needs was purged from the server; a restart cannot "
        "bring it back. Re-snapshot (snapshot.mode=when_needed, or new offsets) and lengthen "
        "binlog retention.",
    ),
    _sig(
        "access_denied",
        _NR,
        r"Access denied for user|Failed to authenticate to the database",
        "The database refused the connector's credentials: fix the password or user in the "
        "connector config (or the database account), then restart it.",
    ),
    _sig(
        "missing_privilege",
        _NR,
        r"command denied to user|privilege required|does not have the '[^']+' privilege"
        r"|Cannot read the binlog filename and position",
        "The connector's database user lacks a privilege Debezium needs (REPLICATION SLAVE, "
        "REPLICATION CLIENT / BINLOG MONITOR, RELOAD, LOCK TABLES, SELECT): grant it, then restart.",
    ),
    _sig(
        "unknown_database",
        _NR,
        r"Unknown database",
        "The configured database does not exist on the server: fix the connector's database "
        "settings or create the database, then restart it.",
    ),
    _sig(
        "server_misconfigured",
        _NR,
        r"not configured to use a (?:ROW binlog_format|FULL binlog_row_image)",
        "The database server's binlog settings are wrong for CDC: set binlog_format=ROW and "
        "binlog_row_image=FULL on the server, then restart the connector.",
    ),
    _sig(
        "schema_history_missing",
        _NR,
        r"history topic is missing",
        "The schema history topic is gone: recover it (snapshot.mode=recovery / schema_only_recovery) "
        "or re-create the connector.",
    ),
    _sig(
        "snapshot_not_allowed",
        _NR,
        r"previously stopped while taking a snapshot",
        "An interrupted snapshot cannot be resumed because snapshots are disabled: allow a snapshot "
        "(snapshot.mode) or reset the connector's offsets.",
    ),
    _sig(
        "unknown_table_schema",
        _NR,
        r"whose schema isn't known to this connector",
        "A binlog event refers to a table whose schema the connector does not know: recover the "
        "schema history or change inconsistent.schema.handling.mode.",
    ),
    _sig(
        "invalid_config",
        _NR,
        r"Connector configuration is invalid|Error configuring an instance of"
        r"|org\.apache\.kafka\.common\.config\.ConfigException",
        "The connector configuration is invalid: validate it (PUT /connector-plugins/{class}/config/"
        "validate), fix it, then restart the connector.",
    ),
    # --- retriable: transient, a restart once the cause is gone helps ------------------
    _sig(
        "broker_unavailable",
        _R,
        r"org\.apache\.kafka\.common\.errors\.(?:TimeoutException|NetworkException|DisconnectException"
        r"|NotLeaderOrFollowerException|BrokerNotAvailableException|NotEnoughReplicas\w*Exception"
        r"|LeaderNotAvailableException)"
        r"|not present in metadata after|Node \S+ disconnected",
        "Kafka was unreachable from the worker: check the brokers; cdc_watch restarts the task once they are back.",
    ),
    _sig(
        "connection_refused",
        _R,
        r"Connection refused",
        "The database refused connections (down or restarting): bring it back; cdc_watch restarts the task after that.",
    ),
    _sig(
        "too_many_connections",
        _R,
        r"Too many connections|SQLSTATE: 08004",
        "The database ran out of connections: raise max_connections or find the leak; cdc_watch retries with backoff.",
    ),
    _sig(
        "timeout",
        _R,
        r"SocketTimeoutException|Connect timed out|Read timed out|timed out|Timeout expired"
        r"|java\.util\.concurrent\.TimeoutException",
        "A network call timed out: check connectivity between the worker and the database or "
        "Kafka; cdc_watch retries with backoff.",
    ),
    _sig(
        "connection_lost",
        _R,
        r"Server shutdown in progress|Lost connection to MySQL server|Connection reset"
        r"|Failed to read next byte from position|EOFException|Broken pipe"
        r"|Can not read response from server",
        "The database connection dropped (server restart or network): cdc_watch restarts the task with backoff.",
    ),
    _sig(
        "communications_link_failure",
        _R,
        r"Communications link failure|CommunicationsException",
        "The worker could not talk to the database: check it is up and reachable; cdc_watch "
        "restarts the task once it is.",
    ),
)

UNKNOWN_HINT = (
    "cdc_watch does not recognise this failure: read the task trace (GET /connectors/{name}/status) and the worker log."
)
NO_TRACE_HINT = "Connect reported the failure without a trace: read the worker log."

KINDS: tuple[str, ...] = (*tuple(dict.fromkeys(s.kind for s in _SIGNATURES)), "unknown")

_CAUSED_BY = "Caused by:"
_SUMMARY_LIMIT = 300


def exception_blocks(trace: str) -> list[list[str]]:
    """The exception messages of a trace, top first, as lines; frames and suppressed dropped."""
    blocks: list[list[str]] = [[]]
    in_frames = False
    for raw in trace.splitlines():
        line = raw.strip()
        if line.startswith(_CAUSED_BY):
            blocks.append([line[len(_CAUSED_BY) :].strip()])
            in_frames = False
        elif line.startswith("Suppressed:"):
            in_frames = True  # suppressed exceptions do not explain the failure
        elif line.startswith("at ") or (line.startswith("...") and line.endswith("more")):
            in_frames = True
        elif not in_frames and line:
            blocks[-1].append(line)
    return [b for b in blocks if b]


def _first_match(block: str, category: FailureCategory) -> _Signature | None:
    for signature in _SIGNATURES:
        if signature.category is category and signature.pattern.search(block):
            return signature
    return None


def _deepest(blocks: list[list[str]], category: FailureCategory) -> _Signature | None:
    for block in reversed(blocks):
        found = _first_match(" ".join(block), category)
        if found is not None:
            return found
    return None


def _trim(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def summarize(blocks: list[list[str]], secrets: Iterable[str] = ()) -> str:
    """Top exception line, plus the root cause's first line when it differs; scrubbed, trimmed."""
    if not blocks:
        return ""
    top = _trim(blocks[0][0], 160)
    text = top
    if len(blocks) > 1:
        root = _trim(blocks[-1][0], 140)
        if root and root not in top:
            text = f"{top} (root cause: {root})"
    return _trim(redact.scrub(text, secrets), _SUMMARY_LIMIT)


def classify(trace: str | None, secrets: Iterable[str] = ()) -> Classification:
    """Classify a failure trace; `secrets` are extra values to scrub from the summary."""
    if not trace or not trace.strip():
        return Classification(FailureCategory.UNKNOWN, "unknown", NO_TRACE_HINT, "")
    blocks = exception_blocks(trace)
    summary = summarize(blocks, secrets)
    signature = _deepest(blocks, FailureCategory.NON_RETRIABLE) or _deepest(blocks, FailureCategory.RETRIABLE)
    if signature is None:
        return Classification(FailureCategory.UNKNOWN, "unknown", UNKNOWN_HINT, summary)
    return Classification(signature.category, signature.kind, signature.hint, summary)


# --------------------------------------------------------------------------- what is kept

TRACE_LINES = 4  # excerpt: the top exception line and the last `Caused by:` lines
TRACE_LINE_LIMIT = 300  # characters per excerpt line
DIGEST_BYTES = 8  # 16 hex characters


@dataclass(frozen=True, slots=True)
class Failure:
    """What cdc_watch keeps of a failure trace, never the trace itself.

    `excerpt` (at most TRACE_LINES lines of TRACE_LINE_LIMIT characters) and `classification`
    are scrubbed; `digest` is a BLAKE2b digest of the scrubbed trace, equal for equal traces.
    """

    digest: str
    excerpt: str
    classification: Classification


def trace_excerpt(trace: str | None) -> str | None:
    """The top exception line and the `Caused by:` lines (root cause last), scrubbed, trimmed."""
    if not trace:
        return None
    lines = trace.splitlines()
    at = next((i for i, line in enumerate(lines) if line and not line.isspace()), None)
    if at is None:
        return None
    # Only the few lines that hold "Caused by:" are stripped (a trace is mostly frames).
    causes = (line.strip() for line in lines[at + 1 :] if _CAUSED_BY in line)
    picked = [lines[at].strip(), *(line for line in causes if line.startswith(_CAUSED_BY))]
    if len(picked) > TRACE_LINES:
        picked = picked[:1] + picked[-(TRACE_LINES - 1) :]
    trimmed = [line if len(line) <= TRACE_LINE_LIMIT else line[: TRACE_LINE_LIMIT - 1] + "…" for line in picked]
    return redact.scrub("\n".join(trimmed))


def explain(trace: str, secrets: Iterable[str] = ()) -> Failure | None:
    """The `Failure` of a trace, scrubbed of `secrets` (the connector's secret values) and of
    secret-shaped text; None for an empty or blank trace."""
    text = redact.scrub(trace, secrets)
    excerpt = trace_excerpt(text)
    if excerpt is None:
        return None
    digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=DIGEST_BYTES).hexdigest()
    return Failure(digest, excerpt, classify(text))


def classify_failure(failure: Failure | None) -> Classification:
    """The classification of a kept failure; no failure (no trace) -> `unknown` with its hint."""
    return failure.classification if failure is not None else classify(None)
