"""Which configured database a connector reads (pure): by explicit pattern, else by the host and
port in its config.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from cdc_watch.sources.connect.model import ConnectorSettings
from cdc_watch.sources.mysql.model import DEFAULT_PORT, Endpoint


# ------------------------------------------------------------------------------- matching
def _norm_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def pattern_match(endpoint: Endpoint, cluster: str, connector: str) -> bool:
    return any(
        fnmatch.fnmatchcase(connector, p) or fnmatch.fnmatchcase(f"{cluster}/{connector}", p)
        for p in endpoint.connectors
    )


def host_match(endpoint: Endpoint, settings: ConnectorSettings) -> bool:
    if not settings.database_hostname:
        return False
    names = {_norm_host(h) for h in (endpoint.host, *endpoint.hostnames) if h}
    port = settings.database_port or DEFAULT_PORT
    return _norm_host(settings.database_hostname) in names and port == endpoint.port


class DatabaseMatcher:
    """Connector -> configured database, built once per join: O(1) per connector by host:port."""

    def __init__(self, endpoints: Iterable[Endpoint]):
        self._patterned = [e for e in endpoints if e.connectors]
        self._by_address: dict[tuple[str, int], str] = {}
        for endpoint in endpoints:
            for host in (endpoint.host, *endpoint.hostnames):
                if host:
                    self._by_address.setdefault((_norm_host(host), endpoint.port), endpoint.database)

    def assign(self, cluster: str, connector: str, settings: ConnectorSettings | None) -> str | None:
        """The configured database a connector reads: explicit patterns first, then host and port."""
        for endpoint in self._patterned:
            if pattern_match(endpoint, cluster, connector):
                return endpoint.database
        if settings is None or not settings.is_debezium_mysql or not settings.database_hostname:
            return None
        return self._by_address.get((_norm_host(settings.database_hostname), settings.database_port or DEFAULT_PORT))


def assign_database(
    endpoints: Iterable[Endpoint], cluster: str, connector: str, settings: ConnectorSettings | None
) -> str | None:
    """The configured database a connector reads: explicit patterns first, then host and port."""
    return DatabaseMatcher(list(endpoints)).assign(cluster, connector, settings)
