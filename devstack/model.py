"""The devstack's shared names: sample schema and connector, accounts and their grants, handles.

Both the stack (`stack.py`) and the fault injector (`faults.py`) speak this vocabulary; keeping
it here lets the fault injector depend on it without depending on the stack's module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLE_CONNECTOR = "inventory-connector"
SAMPLE_TOPIC_PREFIX = "dbserver1"
SAMPLE_SERVER_ID = 184054
SAMPLE_DATABASE = "inventory"
CONNECT_GROUP = "devstack-connect"

DEBEZIUM_GRANTS = ("SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE", "BINLOG MONITOR")
# What cdc_watch's own user needs on MariaDB 10.11 (checked on this stack, see README):
#  - BINLOG MONITOR: SHOW BINARY LOGS, SHOW MASTER STATUS / SHOW BINLOG STATUS
#  - SELECT ON mysql.*: SHOW GRANTS FOR another user (MariaDB requires it; without it: 1044)
# SHOW GLOBAL VARIABLES and SELECT VERSION() need no privilege.
MONITOR_GRANTS = (("BINLOG MONITOR", "*.*"), ("SELECT", "`mysql`.*"))


@dataclass(frozen=True)
class MariaDB:
    """Where the devstack MariaDB listens and the accounts it has (passwords from secrets.env)."""

    host: str
    port: int
    socket: Path
    root_user: str
    root_password: str
    debezium_user: str
    debezium_password: str
    monitor_user: str
    monitor_password: str

    def credentials(self, user: str) -> tuple[str, str]:
        if user in ("root", self.root_user):
            return self.root_user, self.root_password
        if user in ("debezium", self.debezium_user):
            return self.debezium_user, self.debezium_password
        if user in ("monitor", self.monitor_user):
            return self.monitor_user, self.monitor_password
        raise ValueError(f"unknown devstack database user {user!r}")


@dataclass(frozen=True)
class ConnectorHandle:
    name: str
    topic_prefix: str
    server_id: int
