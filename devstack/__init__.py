"""The project's own real CDC stack: broker, MariaDB, Kafka Connect + Debezium + Jolokia, Prometheus."""

from .model import ConnectorHandle, MariaDB
from .proc import StackError
from .stack import Ports, Stack
from .versions import DEFAULT as DEFAULT_CONNECT_VERSION
from .versions import VERSIONS as CONNECT_VERSIONS
from .versions import ConnectVersion

__all__ = [
    "CONNECT_VERSIONS",
    "DEFAULT_CONNECT_VERSION",
    "ConnectVersion",
    "ConnectorHandle",
    "MariaDB",
    "Ports",
    "Stack",
    "StackError",
]
