"""librdkafka settings from a `KafkaEndpoint` config section.

confluent-kafka was chosen over aiokafka and kafka-python: it is the only one of the three with
cooperative-sticky group rebalancing (KIP-429) and transactional producer fencing, it is kept up
to date with the broker protocol, and it ships wheels for every Python cdc_watch supports.

`client_settings` is the one place a SASL password leaves its `SecretStr`; the dictionary it
returns goes straight to a client constructor and is never logged. `describe` is what logs and
error messages name instead. librdkafka's own log lines go to the `cdc_watch.kafka` logger
(they name brokers and errors, never credentials).
"""

from __future__ import annotations

import logging
from typing import Any

from cdc_watch import __version__
from cdc_watch.config import KafkaEndpoint

LOG = logging.getLogger("cdc_watch.kafka")


def client_settings(endpoint: KafkaEndpoint, **extra: Any) -> dict[str, Any]:
    """Settings for a confluent_kafka Producer, Consumer or AdminClient. `extra` adds or
    overrides librdkafka properties (dotted names, passed as `{"group.id": ...}` via `**`)."""
    timeout_ms = max(1000, int(endpoint.timeout * 1000))
    settings: dict[str, Any] = {
        "bootstrap.servers": ",".join(endpoint.bootstrap_servers),
        "security.protocol": endpoint.security_protocol,
        "client.id": f"cdc-watch-{__version__}",
        "socket.timeout.ms": timeout_ms,
        "socket.connection.setup.timeout.ms": timeout_ms,
        "logger": LOG,
    }
    if endpoint.tls is not None:
        tls = endpoint.tls
        if tls.ca_file is not None:
            settings["ssl.ca.location"] = str(tls.ca_file)
        if tls.cert_file is not None:
            settings["ssl.certificate.location"] = str(tls.cert_file)
            # A PEM holding both the certificate and its key serves as both.
            settings["ssl.key.location"] = str(tls.key_file or tls.cert_file)
        if not tls.verify:
            settings["enable.ssl.certificate.verification"] = False
            settings["ssl.endpoint.identification.algorithm"] = "none"
        else:
            settings["ssl.endpoint.identification.algorithm"] = "https"
    if endpoint.sasl is not None:
        settings["sasl.mechanism"] = endpoint.sasl.mechanism
        settings["sasl.username"] = endpoint.sasl.username
        settings["sasl.password"] = endpoint.sasl.password.get_secret_value()
    settings.update(extra)
    return settings


def describe(endpoint: KafkaEndpoint) -> str:
    """What logs say about a broker: its bootstrap list and protocol, never credentials."""
    servers = ",".join(endpoint.bootstrap_servers[:3])
    more = f" (+{len(endpoint.bootstrap_servers) - 3})" if len(endpoint.bootstrap_servers) > 3 else ""
    user = f" as {endpoint.sasl.username}" if endpoint.sasl is not None else ""
    return f"kafka {servers}{more} {endpoint.security_protocol}{user}"
