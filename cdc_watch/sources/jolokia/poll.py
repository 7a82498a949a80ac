"""Jolokia source: one bulk POST per Jolokia endpoint of a Connect cluster per cycle.

Endpoints are read concurrently (a small thread pool) so one slow worker does not delay the
others. Each endpoint's failure is kept as data in its `EndpointReading`; the poll as a whole
fails only when every endpoint failed. Decisions (which endpoints, what to ask, what the reply
means, which connector owns a Debezium MBean) live in `jolokia_parse`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import httpx

from cdc_watch.config import ConnectCluster, JolokiaSettings
from cdc_watch.core.clock import Clock, SystemClock
from cdc_watch.core.model import ErrorReason, SourceError, SourceFailure
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.sources.connect.model import ConnectClusterState, connect_state
from cdc_watch.sources.http import build_client, request_json
from cdc_watch.sources.jolokia import parse
from cdc_watch.sources.jolokia.model import EndpointReading, JolokiaClusterState

log = logging.getLogger(__name__)

# How many Connect poll intervals old the last good Connect reply may be and still be joined.
CONNECT_STALE_POLLS = 3


def endpoints(cluster: ConnectCluster, snapshot: Snapshot | None) -> list[parse.Endpoint]:
    """The endpoints to read now: configured URLs, or the template over the known workers."""
    settings = cluster.jolokia
    assert settings is not None
    workers: frozenset[str] = frozenset()
    if settings.url_template is not None and snapshot is not None:
        # Worker discovery may use an older Connect poll: workers rarely change.
        state = connect_state(snapshot, cluster.name) or snapshot.last_good(f"connect:{cluster.name}")
        workers = state.workers if state is not None else frozenset()
    return parse.endpoints_for(settings.urls, settings.url_template, workers)


def connect_for_join(cluster: ConnectCluster, snapshot: Snapshot | None, now: float) -> ConnectClusterState | None:
    """The Connect data to join Debezium MBeans with: the latest poll, or after a failed one the
    last good poll if it is at most CONNECT_STALE_POLLS intervals old (tasks rarely move)."""
    if snapshot is None:
        return None
    latest = connect_state(snapshot, cluster.name)
    if latest is not None:
        return latest
    status = snapshot.sources.get(f"connect:{cluster.name}")
    good = status.last_success if status is not None else None
    if good is None or now - good.started_at > CONNECT_STALE_POLLS * cluster.poll_interval:
        return None
    return good.data


class JolokiaSource:
    """Reads every Jolokia endpoint of one Connect cluster; `poll` returns a JolokiaClusterState."""

    kind = "jolokia"

    def __init__(
        self, cluster: ConnectCluster, transport: httpx.BaseTransport | None = None, clock: Clock | None = None
    ):
        if cluster.jolokia is None:
            raise ValueError(f"connect cluster {cluster.name} has no jolokia section")
        self.cluster = cluster
        self.settings: JolokiaSettings = cluster.jolokia
        self.name = f"jolokia:{cluster.name}"
        self.interval = self.settings.poll_interval
        self.clock = clock or SystemClock()
        self._client = build_client(self.settings, transport)
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.max_concurrency, thread_name_prefix=f"jolokia-{cluster.name}"
        )
        self._last_errors: dict[str, SourceError | None] = {}
        self._body = parse.bulk_request()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def poll(self, snapshot: Snapshot | None = None) -> JolokiaClusterState:
        targets = endpoints(self.cluster, snapshot)
        if not targets:
            raise SourceFailure(
                ErrorReason.CONNECT,
                "no Jolokia endpoint known yet: url_template needs a Connect poll that lists workers",
            )
        readings = list(self._pool.map(self._read, targets))
        self._log_transitions(readings)
        failed = [r for r in readings if r.error is not None]
        if len(failed) == len(readings):
            first = failed[0].error
            assert first is not None
            if len(readings) == 1:
                raise SourceFailure(first.reason, first.message)
            raise SourceFailure(first.reason, f"all {len(readings)} Jolokia endpoints failed; first: {first.message}")
        return parse.join(self.cluster.name, readings, connect_for_join(self.cluster, snapshot, self.clock.now()))

    def _read(self, endpoint: parse.Endpoint) -> EndpointReading:
        where = f"POST {endpoint.label}"
        try:
            reply = request_json(
                self._client,
                "POST",
                endpoint.url,
                where,
                json_body=self._body,
                max_bytes=self.settings.max_reply_size,
                scan_numbers=True,
            )
        except SourceFailure as failure:
            return parse.failed_reading(endpoint, SourceError(failure.reason, failure.message))
        if reply.status_code != 200:
            return parse.failed_reading(
                endpoint, SourceError(ErrorReason.HTTP_STATUS, f"{where}: HTTP {reply.status_code}")
            )
        return parse.parse_bulk_reply(endpoint, reply.body, reply.absurd_numbers)

    def _log_transitions(self, readings: list[EndpointReading]) -> None:
        for reading in readings:
            previous = self._last_errors.get(reading.endpoint)
            self._last_errors[reading.endpoint] = reading.error
            if reading.error is not None and reading.error != previous:
                log.warning(
                    "Jolokia endpoint failed",
                    extra={
                        "source": self.name,
                        "endpoint": reading.endpoint,
                        "reason": str(reading.error.reason),
                        "error": reading.error.message,
                    },
                )
            elif reading.error is None and previous is not None:
                log.info("Jolokia endpoint recovered", extra={"source": self.name, "endpoint": reading.endpoint})
            if reading.skipped_values:
                log.debug(
                    "Jolokia attribute values skipped: no float holds them",
                    extra={"source": self.name, "endpoint": reading.endpoint, "values": reading.skipped_values},
                )
            if reading.failed_reads:
                log.debug(
                    "Jolokia reads failed inside the bulk reply",
                    extra={"source": self.name, "endpoint": reading.endpoint, "groups": ",".join(reading.failed_reads)},
                )
