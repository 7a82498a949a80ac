"""Binlog arithmetic and what the MySQL source carries from one poll to the next (pure).

Byte distances across binlog files, first-seen times of files, server identity changes and
head movement. The join in `analysis/binlog.py` builds on the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdc_watch.sources.mysql.model import FileSeen, Identity
from cdc_watch.sources.mysql.parse import (
    BinlogFile,
    HeadPosition,
    binlog_base,
    binlog_seq,
)


# ------------------------------------------------------------------------------- first seen
def update_seen(
    previous: Mapping[str, FileSeen] | None,
    files: tuple[BinlogFile, ...],
    now: float,
    watching: bool,
    since: float | None = None,
) -> dict[str, FileSeen]:
    """Record when each listed file was first seen; forget purged files.

    `watching` is False on the first observation of a database, after a failover, or after a
    gap in the listings: new files then get exact=False, because when they appeared is not
    known. Their first_seen is `since` (the last listing before the gap: the earliest they can
    have appeared, the conservative choice) or else now.
    """
    seen: dict[str, FileSeen] = {}
    previous = previous or {}
    exact = watching and bool(previous)
    first = now if exact or since is None else since
    for f in files:
        old = previous.get(f.name)
        seen[f.name] = old if old is not None else FileSeen(first, exact)
    return seen


def seen_to_json(seen: Mapping[str, FileSeen]) -> dict[str, list[Any]]:
    return {name: [entry.first_seen, entry.exact] for name, entry in seen.items()}


def seen_from_json(raw: Any) -> dict[str, FileSeen]:
    found: dict[str, FileSeen] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            if (
                isinstance(name, str)
                and isinstance(value, list)
                and len(value) == 2
                and isinstance(value[0], (int, float))
            ):
                found[name] = FileSeen(float(value[0]), bool(value[1]))
    return found


def identity_changed(old: Identity | None, new: Identity) -> list[str]:
    """What changed behind the same endpoint: server_uuid, server_id, read_only."""
    if old is None:
        return []
    changed = []
    if old.server_uuid and new.server_uuid and old.server_uuid != new.server_uuid:
        changed.append("server_uuid")
    if old.server_id != new.server_id:
        changed.append("server_id")
    if old.read_only != new.read_only:
        changed.append("read_only")
    return changed


def head_movement(files: tuple[BinlogFile, ...], old: HeadPosition | None, new: HeadPosition | None) -> int | None:
    """Bytes written between two heads of the same server, or None if not computable."""
    if old is None or new is None:
        return None
    return byte_distance(files, old.file, old.position, new)


@dataclass(frozen=True, slots=True)
class FileIndex:
    """SHOW BINARY LOGS indexed once per database, so the join is O(1) per connector."""

    files: tuple[BinlogFile, ...]
    position: Mapping[str, int]  # file name -> index in files
    seqs: tuple[int | None, ...]
    cumulative: tuple[int, ...]  # cumulative[i] = total size of files[:i]


def index_files(files: tuple[BinlogFile, ...]) -> FileIndex:
    cumulative = [0]
    for f in files:
        cumulative.append(cumulative[-1] + f.size)
    return FileIndex(
        files, {f.name: i for i, f in enumerate(files)}, tuple(binlog_seq(f.name) for f in files), tuple(cumulative)
    )


def byte_distance(
    files: tuple[BinlogFile, ...] | FileIndex, from_file: str, from_pos: int, head: HeadPosition
) -> int | None:
    """Bytes from (from_file, from_pos) to the head, across files; None when not computable."""
    seq_from, seq_head = binlog_seq(from_file), binlog_seq(head.file)
    if seq_from is None or seq_head is None or binlog_base(from_file) != binlog_base(head.file):
        return None
    if from_file == head.file:
        return max(0, head.position - from_pos)
    if seq_from > seq_head:
        return None
    index = files if isinstance(files, FileIndex) else index_files(files)
    at = index.position.get(from_file)
    if at is None:
        return None
    end = index.position.get(head.file)
    if end is None:  # head file not listed yet (rotation between the two statements)
        end = sum(1 for s in index.seqs if s is not None and s < seq_head)
    between = index.cumulative[end] - index.cumulative[at + 1] if end > at else 0
    return max(0, index.files[at].size - from_pos) + between + head.position
