"""Names the stack and its faults share: the sample database, the grants of the Debezium and
monitoring users, and the handle of a connector the stack created. Kept apart so that
`faults.py` needs nothing from `stack.py` (no import circle)."""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_DATABASE = "inventory"

DEBEZIUM_GRANTS = ("SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE", "BINLOG MONITOR")
# What cdc_watch's own user needs on MariaDB 10.11 (checked on this stack, see README):
#  - BINLOG MONITOR: SHOW BINARY LOGS, SHOW MASTER STATUS / SHOW BINLOG STATUS
#  - SELECT ON mysql.*: SHOW GRANTS FOR another user (MariaDB requires it; without it: 1044)
# SHOW GLOBAL VARIABLES and SELECT VERSION() need no privilege.
MONITOR_GRANTS = (("BINLOG MONITOR", "*.*"), ("SELECT", "`mysql`.*"))


@dataclass(frozen=True)
class ConnectorHandle:
    name: str
    topic_prefix: str
    server_id: int
