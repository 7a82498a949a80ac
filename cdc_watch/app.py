"""Composition root: builds sources, pollers and the web server from a Config, and reloads.

Nothing here decides anything about connectors; it only wires parts together and owns
their lifecycle (start, reload on SIGHUP or POST /-/reload, stop on SIGTERM/SIGINT).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from cdc_watch import __version__
from cdc_watch.config import DEFAULT_LISTEN_ADDRESS, Config, ConfigError, load_config
from cdc_watch.core import logs
from cdc_watch.core.clock import Clock, SystemClock
from cdc_watch.core.model import PollResult
from cdc_watch.core.poller import Poller, ResultHook, Source, where_raised
from cdc_watch.core.snapshot import Snapshot, SnapshotStore
from cdc_watch.core.statefile import StateFile
from cdc_watch.exporter.canary import canary_metrics
from cdc_watch.exporter.connect import connect_metrics
from cdc_watch.exporter.exposition import MetricsWriter
from cdc_watch.exporter.jolokia import jolokia_metrics
from cdc_watch.exporter.mysql import mysql_metrics
from cdc_watch.exporter.render import (
    ConfigStatus,
    Contributor,
    RuntimeMetrics,
    config_metrics,
    render,
    self_metrics,
)
from cdc_watch.exporter.schema_history import schema_history_metrics
from cdc_watch.ha.replica import Replica
from cdc_watch.notify.service import config_secrets
from cdc_watch.notify.wiring import build_alerting
from cdc_watch.remediation.runner import RemediationRunner
from cdc_watch.rules import table as rules
from cdc_watch.rules.table import ALERT_NAMES
from cdc_watch.sources.connect.poll import ConnectOffsetsSource, ConnectSource
from cdc_watch.sources.jolokia.poll import JolokiaSource
from cdc_watch.sources.kafka.canary import CanarySource
from cdc_watch.sources.kafka.poll import KafkaSource
from cdc_watch.sources.mysql.poll import MySQLSource, endpoint_of
from cdc_watch.status import view as status_view
from cdc_watch.web import WebHooks, WebSecurity, WebServer, build_security

log = logging.getLogger(__name__)

# SIGTERM to exit, all stages together (web, pollers, notifications, remediation): the daemon
# must be gone within 5 s, interpreter exit included (about half a second under a scrape storm
# at 2,000 connectors, benchmarks/bench_web.py). Real time, not the injected clock.
STOP_BUDGET_SECONDS = 4.0
NOTIFY_STOP_RESERVE = 1.5  # a hung poll never eats the time queued notifications need to go out
RELOAD_STOP_SECONDS = 2.0  # a reload waits this long for the old pollers' polls in flight
WEB_STOP_SECONDS = 0.5  # the web server goes first: listener and connections closed, load shed

TransportFactory = Callable[[str], httpx.BaseTransport | None]


def build_sources(
    config: Config,
    transport_for: TransportFactory | None = None,
    state_file: StateFile | None = None,
    clock: Clock | None = None,
) -> list[Source]:
    transport = transport_for or (lambda _name: None)
    sources: list[Source] = []
    endpoints = [endpoint_of(db) for db in config.databases]
    for cluster in config.connect_clusters:
        sources.append(ConnectSource(cluster, transport(f"connect:{cluster.name}")))
        # Committed offsets serve the binlog checks only: read for connectors of a configured database.
        sources.append(ConnectOffsetsSource(cluster, transport(f"connect_offsets:{cluster.name}"), endpoints))
        if cluster.jolokia is not None:
            sources.append(JolokiaSource(cluster, transport(f"jolokia:{cluster.name}")))
        if cluster.kafka is not None:
            sources.append(KafkaSource(cluster))
    for db in config.databases:
        sources.append(MySQLSource(db, state_file, clock, endpoints))
        if db.canary is not None:
            sources.append(CanarySource(db, config.connect_clusters, endpoints, clock, transport_for))
    return sources


class App:
    def __init__(
        self,
        config_path: Path,
        listen_address: str = DEFAULT_LISTEN_ADDRESS,
        clock: Clock | None = None,
        enable_lifecycle: bool = False,
        transport_for: TransportFactory | None = None,
        on_result: ResultHook | None = None,
        web_config_path: Path | None = None,
    ):
        self.config_path = config_path
        self.web_config_path = web_config_path
        self.clock = clock or SystemClock()
        self.store = SnapshotStore()
        self.transport_for = transport_for
        self.on_result = on_result
        self.config: Config = load_config(
            config_path, alert_names=ALERT_NAMES
        )  # ConfigError propagates: the CLI exits 2
        logs.quiet_libraries()
        logs.use_secrets(config_secrets(self.config))  # scrubbed from every log line
        self._config_status = ConfigStatus(last_reload_ok=True, loaded_at=self.clock.now())
        self._pollers: list[Poller] = []
        self._generation = 0  # bumped after each poll's hooks and on reload: /metrics renders again
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        # Alerting owns a section of the state file; other parts reuse this StateFile.
        self.state_file = StateFile(self.config.state_file)
        self.alerting = build_alerting(
            self.config,
            lambda: self.config.alerting,
            self.state_file,
            self.clock,
            snapshot=self.store.current,
            config_now=lambda: self.config,
        )
        # Restarts failed connectors/tasks per config.remediation (on its own worker thread);
        # its notices go to Slack through the alerting delivery queue.
        self.remediation = RemediationRunner(
            self.config,
            self.state_file,
            self.clock,
            notify=self.alerting.notify_remediation,
            transport_for=transport_for,
        )
        self.alerting.remediation = self._remediation_view
        # High availability: only the leader notifies and remediates (cdc_watch/ha, docs/ha.md).
        # The section is read at start only; a reload that changes it needs a restart.
        self.replica: Replica | None = None
        if self.config.high_availability is not None:
            self.replica = Replica(self.config.high_availability)
            self.replica.attach(self.state_file, self.alerting, self.remediation)
        self.contributors: Sequence[Contributor] = (
            self_metrics,
            config_metrics(lambda: self._config_status),
            connect_metrics,
            jolokia_metrics(lambda: self.config),
            mysql_metrics,
            canary_metrics,
            schema_history_metrics,
            self.alerting.contribute,
            self.remediation.contribute,
            self._web_metrics,
            *((self.replica.contribute,) if self.replica is not None else ()),
        )
        self.runtime = RuntimeMetrics()
        security = self._build_security(self.config)  # ConfigError propagates: the CLI exits 2
        self.web = WebServer(
            listen_address,
            WebHooks(
                metrics=self.render_metrics,
                snapshot=self.store.current,
                config_summary=lambda: (str(self.config_path), self._config_status.last_reload_ok),
                reload=self.reload,
                enable_lifecycle=enable_lifecycle,
                alerting=self.alerting,
                metrics_version=lambda: self._generation,
                status=self.status_document,
            ),
            security,
        )

    def status_document(self) -> dict[str, Any]:
        """What GET /api/v1/status answers and the status page shows (status/view.py)."""
        config = self.config
        return status_view.build(
            status_view.Inputs(
                snapshot=self.store.current(),
                now=self.clock.now(),
                alerts=self.alerting.alerts,
                silences=self.alerting.list_silences(),
                remediation=self.remediation.state if self.remediation.enabled else None,
                remediation_log=self.remediation.recent(),
                runbook_base=config.alerting.runbook_url,
                version=__version__,
                extra={"config": {"file": str(self.config_path), "last_reload_ok": self._config_status.last_reload_ok}},
            )
        )

    def _remediation_view(self) -> rules.Remediation:
        """What the failure rules need of remediation: its config and the restarts of each
        connector's current failure streak (immutable values, read without a lock)."""
        records = self.remediation.state.records
        return rules.Remediation(
            self.config.remediation, {key: (r.attempts, r.last_attempt) for key, r in records.items()}
        )

    def render_metrics(self) -> bytes:
        """The /metrics body: the catalogue's families, then the process and Python runtime ones."""
        return (
            render(self.store.current(), self.contributors, self.config.exporter.per_task_metrics)
            + self.runtime.render()
        )

    def _web_metrics(self, _snapshot: Snapshot, out: MetricsWriter) -> None:
        counters = self.web.http.counters
        out.add("cdc_web_connections_open", "", counters.open)
        out.add("cdc_web_connections_shed_total", "", counters.shed_total)
        out.add("cdc_web_request_timeouts_total", "", counters.timeouts_total)
        out.add("cdc_web_metrics_renders_total", "", self.web.cache.renders + 1)  # this render included

    def _build_security(self, config: Config) -> WebSecurity:
        """The web security of --web.config.file and the config's admin token; ConfigError with
        the web config file named in each problem."""
        token = config.web.admin_token.get_secret_value() if config.web.admin_token is not None else None
        try:
            return build_security(self.web_config_path, token)
        except ConfigError as exc:
            raise ConfigError([f"{self.web_config_path}: {p}" for p in exc.problems]) from None

    def snapshot(self) -> Snapshot:
        return self.store.current()

    def _build_pollers(self, config: Config) -> list[Poller]:
        """Sources and pollers for `config`, not started; raises if a source cannot be built."""
        sources = build_sources(config, self.transport_for, self.state_file, self.clock)
        return [Poller(s, self.store, self.clock, config.poll_jitter, self._after_poll) for s in sources]

    def _start_pollers(self, pollers: list[Poller]) -> None:
        self.store.register((p.source.name, p.source.kind) for p in pollers)
        self._pollers = pollers
        for poller in pollers:
            poller.start()

    def _after_poll(self, result: PollResult, snapshot: Snapshot) -> None:
        """Every poll result: the health rules, remediation, then the caller's hook, if any.

        Each hook is guarded on its own: a bug in one (say alerting) never skips the others."""
        for name, hook in (
            ("alerting", self.alerting.on_result),
            ("remediation", self.remediation.on_result),
            ("metrics", self._bump_generation),
            ("caller", self.on_result),
        ):
            if hook is None:
                continue
            try:
                hook(result, snapshot)
            except Exception as exc:  # logged with its innermost frame; the message may hold reply data
                tb = exc.__traceback__
                while tb is not None and tb.tb_next is not None:
                    tb = tb.tb_next
                where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb is not None else "?"
                log.error(
                    "poll hook failed",
                    extra={"hook": name, "source": result.source, "error": f"{type(exc).__name__} at {where}"},
                )

    def _bump_generation(self, _result: PollResult | None = None, _snapshot: Snapshot | None = None) -> None:
        self._generation += 1  # one writer at a time is not needed: any change forces a render

    @staticmethod
    def _stop_pollers(pollers: list[Poller], deadline: float) -> None:
        """Stop `pollers`, waiting until `deadline` (time.monotonic) for polls in flight; a poll
        still running then is abandoned, and its poller closes the source when it ends."""
        for poller in pollers:
            poller.stop()
        for poller in pollers:
            if not poller.join(max(0.0, deadline - time.monotonic())):
                log.warning("poll still in flight; abandoning it", extra={"source": poller.source.name})

    def start(self) -> None:
        """Start everything; raises (nothing left running) if a source cannot be built."""
        pollers = self._build_pollers(self.config)
        if self.replica is not None:
            self.replica.start()
        self.alerting.start()
        self._start_pollers(pollers)
        self.web.start()
        log.info("cdc_watch started", extra={"port": self.web.port, "config": str(self.config_path)})

    def reload(self) -> tuple[bool, list[str]]:
        """Read the config file again and swap to it, or keep the running one.

        The new sources are built before anything is stopped: a file that is invalid, or that
        fails to become sources, leaves the old pollers running and
        cdc_config_last_reload_successful at 0. Never raises.
        """
        with self._lock:
            if self._stopped.is_set():
                return False, ["cdc_watch is stopping"]
            try:
                new = load_config(self.config_path, alert_names=ALERT_NAMES)
                security = self._build_security(new)
                pollers = self._build_pollers(new)
            except ConfigError as exc:
                return self._reload_failed(exc.problems)
            except Exception as exc:  # e.g. TLS material that broke after validation
                return self._reload_failed([f"cannot build the sources of the new configuration: {_describe(exc)}"])
            try:
                self.remediation.reconfigure(new)
            except Exception as exc:
                self._stop_pollers(pollers, time.monotonic())  # never started: this closes their sources
                return self._reload_failed([f"remediation cannot take the new configuration: {_describe(exc)}"])
            self._stop_pollers(self._pollers, time.monotonic() + RELOAD_STOP_SECONDS)
            if new.high_availability != self.config.high_availability:
                log.warning("high_availability changed; it takes effect at the next restart")
            self.config = new
            logs.use_secrets(config_secrets(new))
            self.web.set_security(security)
            self._start_pollers(pollers)
            self._config_status = ConfigStatus(True, self.clock.now())
            self._bump_generation()
            log.info("configuration reloaded", extra={"config": str(self.config_path)})
            return True, []

    def _reload_failed(self, problems: list[str]) -> tuple[bool, list[str]]:
        self._config_status = ConfigStatus(False, self._config_status.loaded_at)
        self._bump_generation()
        log.error("configuration reload rejected; keeping the previous one", extra={"problems": "; ".join(problems)})
        return False, problems

    def stop(self) -> None:
        """Stop within STOP_BUDGET_SECONDS, all stages sharing one deadline."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        deadline = time.monotonic() + STOP_BUDGET_SECONDS
        # First: no more requests, every connection closed, so a scrape storm or a slow client
        # cannot slow the rest of the shutdown.
        self.web.stop(WEB_STOP_SECONDS)

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        if self.replica is not None:  # first: stop acting, and leave the group so another replica leads now
            try:
                self.replica.stop(min(1.0, left()))
            except Exception as exc:
                log.error("stopping failed", extra={"part": "high_availability", "error": _describe(exc)})

        locked = self._lock.acquire(timeout=left())  # a reload in progress holds it briefly
        try:
            self._stop_pollers(self._pollers, deadline - NOTIFY_STOP_RESERVE)
            self._pollers = []
        finally:
            if locked:
                self._lock.release()
        for name, stage in (("alerting", self.alerting.stop), ("remediation", self.remediation.close)):
            try:
                stage(left())
            except Exception as exc:
                log.error("stopping failed", extra={"part": name, "error": _describe(exc)})
        log.info("cdc_watch stopped")

    def run_until_signalled(self) -> None:
        """Block until SIGTERM/SIGINT; SIGHUP reloads. Must run in the main thread."""
        wake = threading.Event()
        reload_requested = threading.Event()

        def on_stop(signum: int, _frame: object) -> None:
            log.info("signal received, stopping", extra={"signal": signal.Signals(signum).name})
            wake.set()

        def on_hup(_signum: int, _frame: object) -> None:
            reload_requested.set()
            wake.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise  # the CLI reports it and exits 2
        try:
            while True:
                wake.wait()
                wake.clear()
                if reload_requested.is_set():
                    reload_requested.clear()
                    try:
                        self.reload()
                    except Exception as exc:  # reload never raises; the loop must outlive it if it does
                        log.error("reload failed", extra={"error": _describe(exc)})
                    continue
                break
        finally:
            self.stop()


def _describe(exc: BaseException) -> str:
    """Type and innermost frame of an exception; its message may hold config or reply data,
    except an OSError's, which names the file and what went wrong with it."""
    detail = ""
    if isinstance(exc, OSError) and exc.strerror:
        detail = f": {exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    return f"{type(exc).__name__}{detail} at {where_raised(exc)}"
