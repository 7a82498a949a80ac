"""The project's own real CDC stack: broker, MariaDB, Kafka Connect + Debezium + Jolokia, Prometheus."""

from .proc import StackError
from .stack import ConnectorHandle, MariaDB, Ports, Stack

__all__ = ["ConnectorHandle", "MariaDB", "Ports", "Stack", "StackError"]
