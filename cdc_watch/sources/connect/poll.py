"""Kafka Connect REST source: polls one cluster's connectors, tasks and committed offsets.

Per cycle: `GET /` (version, Kafka cluster id) and one
`GET /connectors?expand=status&expand=info`. Clusters older than 2.3 ignore `expand` and
answer a plain list; only then are the per-connector calls made. Worker URLs are tried in
order, starting with the last one that answered, moving on after a transport error or a 5xx.
Each request attempt ends within the cluster's `timeout`, and a whole poll, failover included,
within max(timeout, interval) (`poll_deadline`); a poll cut short starts the next one at the
first worker it did not reach. Committed offsets (`GET /connectors/{c}/offsets`, Connect 3.5+) are a separate, slower source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from cdc_watch.config import ConnectCluster
from cdc_watch.core.gcpause import gc_paused
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.poller import NotReady
from cdc_watch.core.redact import strip_userinfo
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.sources.connect import parse
from cdc_watch.sources.connect.model import ConnectClusterState, connect_state
from cdc_watch.sources.http import Reply, build_client, error_message, request_json
from cdc_watch.sources.mysql.matching import DatabaseMatcher
from cdc_watch.sources.mysql.model import Endpoint

log = logging.getLogger(__name__)

OFFSETS_API_SINCE = (3, 5)
EXPAND_SINCE = (2, 3)


def _decode_expanded(content: bytes | bytearray, where: str) -> Any:
    with gc_paused():
        return parse.decode_expanded(content, where)


def poll_deadline(cluster: ConnectCluster, interval: float) -> float:
    """Monotonic time by which a poll must be done: a poll never outlasts its interval, and
    always has room for one full request."""
    return time.monotonic() + max(cluster.timeout, interval)


class ConnectClient:
    """Requests against one Connect cluster with failover across its worker URLs."""

    def __init__(self, cluster: ConnectCluster, transport: httpx.BaseTransport | None = None):
        self.cluster = cluster
        self._client = build_client(cluster, transport)
        self._preferred = 0
        # URLs as shown in messages and the state: config refuses credentials in URLs, and
        # this keeps them out even if one slipped through.
        self._shown = tuple(strip_userinfo(u) for u in cluster.urls)
        self.last_url = self._shown[0]

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] | None = None,
        json_body: Any = None,
        deadline: float | None = None,
        decode: Callable[[bytes | bytearray, str], Any] | None = None,
    ) -> Reply:
        """Send to the preferred worker, falling over to the next on transport errors and 5xx.

        4xx answers and rebalance conflicts are returned as they are: another worker would
        say the same. Requests that change something (anything but GET) move on only when the
        previous worker certainly never received them, so a restart is never sent twice.
        Each attempt ends within the cluster's timeout; `deadline` (monotonic) bounds them all.
        """
        urls = self.cluster.urls
        idempotent = method == "GET"
        last_failure: SourceFailure | None = None
        last_reply: Reply | None = None
        tried = 0
        for step in range(len(urls)):
            index = (self._preferred + step) % len(urls)
            now = time.monotonic()
            if deadline is not None and step > 0 and now >= deadline:
                self._preferred = index  # the next poll starts with the first worker not tried
                break
            tried += 1
            attempt = None if deadline is None else min(deadline, now + self.cluster.timeout)
            base = urls[index]
            where = f"{method} {self._shown[index]}{path}"
            try:
                reply = request_json(
                    self._client,
                    method,
                    base + path,
                    where,
                    json_body=json_body,
                    params=params,
                    deadline=attempt,
                    max_bytes=self.cluster.max_reply_size,
                    decode=decode,
                )
            except SourceFailure as failure:
                if failure.reason is ErrorReason.AUTH or (not idempotent and failure.may_have_reached):
                    raise
                last_failure = failure
                continue
            if reply.status_code >= 500 and not parse.is_rebalance_error(reply.status_code, reply.body):
                if not idempotent:
                    return reply
                last_reply = reply
                continue
            self._preferred = index
            self.last_url = self._shown[index]
            return reply
        if last_reply is not None:
            return last_reply
        assert last_failure is not None
        if tried < len(urls):
            raise SourceFailure(
                ErrorReason.TIMEOUT,
                f"poll deadline reached after {tried} of {len(urls)} workers; last: {last_failure.message}",
            )
        if len(urls) > 1:
            raise SourceFailure(last_failure.reason, f"all {len(urls)} workers failed; last: {last_failure.message}")
        raise last_failure

    def get_ok(
        self,
        path: str,
        params: Sequence[tuple[str, str]] | None = None,
        deadline: float | None = None,
        decode: Callable[[bytes | bytearray, str], Any] | None = None,
    ) -> Any:
        """GET that must answer 200; anything else raises a classified SourceFailure."""
        reply = self.request("GET", path, params=params, deadline=deadline, decode=decode)
        if reply.status_code == 200:
            return reply.body
        detail = error_message(reply)
        where = f"GET {self.last_url}{path}"
        if parse.is_rebalance_error(reply.status_code, reply.body):
            raise SourceFailure(ErrorReason.CONFLICT, f"{where}: HTTP {reply.status_code} rebalance in progress")
        raise SourceFailure(ErrorReason.HTTP_STATUS, f"{where}: HTTP {reply.status_code} {detail}".rstrip())


def connector_path(name: str, suffix: str = "") -> str:
    return f"/connectors/{quote(name, safe='')}{suffix}"


class ConnectSource:
    """Polls one Connect cluster; `poll` returns a `ConnectClusterState`."""

    kind = "connect"

    def __init__(self, cluster: ConnectCluster, transport: httpx.BaseTransport | None = None):
        self.cluster = cluster
        self.name = f"connect:{cluster.name}"
        self.interval = cluster.poll_interval
        self.client = ConnectClient(cluster, transport)
        self._failures = parse.FailureMemo()  # traces are explained once while they stay
        self._version_seen: str | None = None  # the cluster version last checked against the tested range
        everything = cluster.include == ("*",) and not cluster.exclude
        self._selects = (lambda _name: True) if everything else cluster.selects

    def close(self) -> None:
        self.client.close()

    def poll(self, snapshot: Snapshot | None = None) -> ConnectClusterState:
        deadline = poll_deadline(self.cluster, self.interval)
        root = parse.parse_root(self.client.get_ok("/", deadline=deadline))
        if root[0] != self._version_seen:  # at the first poll, and again after an upgrade
            self._version_seen = root[0]
            if (warning := parse.untested_version_warning(root[0])) is not None:
                log.warning(warning, extra={"source": self.name})
        url = self.client.last_url
        body = self.client.get_ok(
            "/connectors",
            params=[("expand", "status"), ("expand", "info")],
            deadline=deadline,
            decode=_decode_expanded,
        )
        previous = snapshot.last_good(self.name) if snapshot is not None else None
        if isinstance(body, list) or parse.version_tuple(root[0]) < EXPAND_SINCE:
            connectors, excluded, problems, no_status, no_info, _gone = self._poll_per_connector(body, deadline)
            # the list is complete here: a known connector not in it, or 404 on its status, is deleted
            before = previous.connectors if isinstance(previous, ConnectClusterState) else {}
            deleted = frozenset(n for n in before if n not in connectors and self.cluster.selects(n))
        else:
            with gc_paused():
                reply = parse.read_expanded(body, self._selects, self._failures)
            del body  # the reply's bytes: only the model is kept
            connectors, excluded, problems = reply.connectors, reply.excluded, reply.problems
            no_status, no_info = reply.no_status, reply.no_info
            omitted, deleted = self._omitted(previous, connectors, deadline)
            no_status, no_info = no_status | omitted, no_info | omitted
        connectors, incomplete = parse.carry_incomplete(connectors, no_status, no_info, previous)
        self._log_incomplete(incomplete, previous)
        for problem in problems:
            log.debug("odd entry in Connect reply", extra={"source": self.name, "problem": problem})
        for name in sorted(deleted):
            log.info("connector deleted", extra={"source": self.name, "connector": name})
        with gc_paused():
            return parse.build_cluster_state(
                self.cluster.name, url, root, connectors, excluded, problems, incomplete, deleted
            )

    def _omitted(
        self, previous: Any, connectors: Mapping[str, Any], deadline: float
    ) -> tuple[frozenset[str], frozenset[str]]:
        """(omitted, deleted): connectors of the previous poll left out of this expanded reply but
        still listed by `GET /connectors` (Connect omits an entry whose status lookup failed), and
        those the listing confirms deleted. One extra request, made only when a connector went
        missing; if it fails, neither is known (the rules then wait `vanished_after`)."""
        if not isinstance(previous, ConnectClusterState):
            return frozenset(), frozenset()
        missing = [name for name in previous.connectors if name not in connectors]
        if not missing:
            return frozenset(), frozenset()
        try:
            names = self.client.get_ok("/connectors", deadline=deadline)
        except SourceFailure as failure:
            log.debug(
                "cannot tell deleted connectors from omitted ones",
                extra={"source": self.name, "error": failure.message},
            )
            return frozenset(), frozenset()
        if not isinstance(names, list):
            return frozenset(), frozenset()
        listed = set(names)
        omitted = frozenset(name for name in missing if name in listed)
        return omitted, frozenset(name for name in missing if name not in listed and self.cluster.selects(name))

    def _log_incomplete(self, incomplete: Mapping[str, int], previous: Any) -> None:
        """Once per connector when the reply starts leaving it incomplete, once when it stops."""
        before = previous.incomplete if isinstance(previous, ConnectClusterState) else {}
        for name in sorted(set(incomplete) - set(before)):
            log.warning(
                "connector missing its status or info in the Connect reply; showing the last known for a few polls",
                extra={"source": self.name, "connector": name},
            )
        for name in sorted(set(before) - set(incomplete)):
            log.info("connector complete again in the Connect reply", extra={"source": self.name, "connector": name})

    def _poll_per_connector(
        self, body: Any, deadline: float
    ) -> tuple[dict, int, list[str], frozenset[str], frozenset[str], frozenset[str]]:
        """Connect < 2.3: a list of names, then status and config per connector; the last set
        holds the names whose status answered 404 (deleted between the list and the lookup)."""
        if not isinstance(body, list):
            body = self.client.get_ok("/connectors", deadline=deadline)
        if not isinstance(body, list) or not all(isinstance(name, str) for name in body):
            raise SourceFailure(ErrorReason.DECODE, "GET /connectors did not return a list of names")
        connectors = {}
        problems: list[str] = []
        excluded = 0
        self._failures.next_reply()
        no_status: set[str] = set()
        no_info: set[str] = set()
        gone: set[str] = set()
        for name in body:
            if not self.cluster.selects(name):
                excluded += 1
                continue
            status_reply = self.client.request("GET", connector_path(name, "/status"), deadline=deadline)
            config_reply = self.client.request("GET", connector_path(name, "/config"), deadline=deadline)
            if status_reply.status_code == 404:
                gone.add(name)  # deleted between the list and the lookup
                continue
            status = status_reply.body if status_reply.status_code == 200 else None
            config = config_reply.body if config_reply.status_code == 200 else None
            if not isinstance(status, Mapping):
                no_status.add(name)
            if not isinstance(config, Mapping):
                no_info.add(name)
            connector, entry_problems = parse.build_connector(name, status, config, self._failures)
            connectors[name] = connector
            problems.extend(entry_problems)
        return (
            dict(sorted(connectors.items())),
            excluded,
            problems,
            frozenset(no_status),
            frozenset(no_info),
            frozenset(gone),
        )


OFFSETS_EXAMPLES = 5  # connector names named in the offsets summary line


class ConnectOffsetsSource:
    """Committed source offsets of the Debezium binlog connectors of one cluster that a check needs.

    Runs at `offsets_interval` (slower than the status poll). It reads `GET /connectors/{c}/offsets`
    of the Debezium binlog connectors of the latest successful Connect poll that read a
    configured database (`databases`; the binlog checks are the only readers of committed
    offsets; None = every Debezium binlog connector), `offsets_concurrency` at a time, and the
    whole cycle ends within `offsets_budget`. Connectors the budget did not reach, and those
    whose request failed, keep their offsets from the last poll that read them, are counted as
    stale and are read first on the next cycle. The poll fails only when no request got an
    answer. One summary line per cycle at most: a warning when connectors start failing, info
    when they recover (so a Sentry that takes warnings gets one event, never one per connector).
    Returns a `ConnectOffsets`; clusters older than 3.5 have no offsets API and yield an empty one.
    Until the Connect source has polled once it is not ready (no error).
    """

    kind = "connect_offsets"

    def __init__(
        self,
        cluster: ConnectCluster,
        transport: httpx.BaseTransport | None = None,
        databases: Sequence[Endpoint] | None = None,
    ):
        self.cluster = cluster
        self.name = f"connect_offsets:{cluster.name}"
        self.interval = cluster.offsets_interval
        self.client = ConnectClient(cluster, transport)
        self._matcher = DatabaseMatcher(databases) if databases is not None else None

    def close(self) -> None:
        self.client.close()

    def wanted(self, state: ConnectClusterState, previous: Any) -> list[str]:
        """Connectors whose offsets a check needs, those left stale by the last cycle first."""
        names = []
        for name, connector in state.connectors.items():
            settings = connector.settings
            if settings is None or not settings.is_debezium_mysql:
                continue
            if self._matcher is not None and self._matcher.assign(self.cluster.name, name, settings) is None:
                continue
            names.append(name)
        stale = previous.stale if isinstance(previous, parse.ConnectOffsets) else frozenset()
        return sorted(names, key=lambda n: n not in stale)  # stable: stale ones first

    def poll(self, snapshot: Snapshot | None) -> parse.ConnectOffsets:
        connect_source = f"connect:{self.cluster.name}"
        status = snapshot.sources.get(connect_source) if snapshot is not None else None
        if snapshot is None or status is None or status.last is None:
            raise NotReady()  # the Connect source has not polled yet: wait for it
        # Connectors change rarely: after a failed Connect poll the last good list will do.
        state = connect_state(snapshot, self.cluster.name) or snapshot.last_good(connect_source)
        if not isinstance(state, ConnectClusterState):
            raise SourceFailure(ErrorReason.CONNECT, "no successful Connect poll yet to list connectors from")
        if parse.version_tuple(state.version) < OFFSETS_API_SINCE:
            return parse.ConnectOffsets()
        previous = snapshot.last_good(self.name)
        names = self.wanted(state, previous)
        deadline = time.monotonic() + self.cluster.offsets_budget
        replies = self._read(names, deadline)
        read: dict[str, parse.OffsetEntries] = {}
        failures: dict[str, SourceFailure] = {}
        answered = False
        for name in names:
            reply = replies.get(name) or SourceFailure(
                ErrorReason.TIMEOUT, "offsets budget spent before this connector"
            )
            if isinstance(reply, SourceFailure):
                failures[name] = reply
                continue
            answered = True
            try:
                if reply.status_code == 200:
                    read[name] = tuple(parse.parse_offsets(reply.body))
                elif reply.status_code != 404:  # 404: deleted since the Connect poll
                    failures[name] = SourceFailure(
                        ErrorReason.HTTP_STATUS, f"HTTP {reply.status_code} {error_message(reply)}".rstrip()
                    )
            except SourceFailure as failure:
                failures[name] = failure
        if failures and not answered:
            first = next(iter(failures.values()))
            raise SourceFailure(first.reason, f"no offsets request of {len(failures)} answered; first: {first.message}")
        result = parse.merge_offsets(read, frozenset(failures), previous)
        self._log_summary(len(names), failures, previous)
        return result

    def _read(self, names: Sequence[str], deadline: float) -> dict[str, Reply | SourceFailure]:
        """GET each connector's offsets, `offsets_concurrency` at a time, all by `deadline`.

        Daemon threads, not an executor: a stopping daemon never waits for them (each request
        ends by the deadline anyway). A name missing from the result was not reached."""
        pending = deque(names)
        results: dict[str, Reply | SourceFailure] = {}
        lock = threading.Lock()

        def work() -> None:
            while time.monotonic() < deadline:
                with lock:
                    if not pending:
                        return
                    name = pending.popleft()
                try:
                    reply: Reply | SourceFailure = self.client.request(
                        "GET", connector_path(name, "/offsets"), deadline=deadline
                    )
                except SourceFailure as failure:
                    reply = failure
                with lock:
                    results[name] = reply

        workers = [
            threading.Thread(target=work, name=f"{self.name}-{i}", daemon=True)
            for i in range(min(self.cluster.offsets_concurrency, len(names)))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()) + 1.0)
        with lock:
            return dict(results)

    def _log_summary(self, asked: int, failures: Mapping[str, SourceFailure], previous: Any) -> None:
        """At most one line per cycle: connectors that started failing (warning) or recovered (info)."""
        was_stale = previous.stale if isinstance(previous, parse.ConnectOffsets) else frozenset()
        new = sorted(set(failures) - was_stale)
        recovered = sorted(was_stale - set(failures))
        reasons = Counter(str(f.reason) for f in failures.values())
        fields = {
            "source": self.name,
            "asked": asked,
            "stale": len(failures),
            "reasons": ",".join(f"{r}={n}" for r, n in sorted(reasons.items())),
        }
        if new:
            first = failures[new[0]]
            log.warning(
                "offsets not read; keeping the previous ones",
                extra=fields
                | {
                    "new": len(new),
                    "recovered": len(recovered),
                    "connectors": ",".join(new[:OFFSETS_EXAMPLES]) + (",..." if len(new) > OFFSETS_EXAMPLES else ""),
                    "error": first.message,
                },
            )
        elif recovered:
            log.info("offsets read again", extra=fields | {"recovered": len(recovered)})
        elif failures:
            log.debug("offsets still stale", extra=fields)
