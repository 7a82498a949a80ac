"""Composition root: builds sources, pollers and the web server from a Config, and reloads.

Nothing here decides anything about connectors; it only wires parts together and owns
their lifecycle (start, reload on SIGHUP or POST /-/reload, stop on SIGTERM/SIGINT).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from cdc_watch.clock import Clock, SystemClock
from cdc_watch.config import DEFAULT_LISTEN_ADDRESS, Config, ConfigError, load_config
from cdc_watch.exporter import ConfigStatus, Contributor, config_metrics, connect_metrics, render, self_metrics
from cdc_watch.poller import Poller, ResultHook, Source
from cdc_watch.snapshot import Snapshot, SnapshotStore
from cdc_watch.sources.connect import ConnectOffsetsSource, ConnectSource
from cdc_watch.sources.mysql import MySQLSource, endpoint_of
from cdc_watch.mysql_metrics import mysql_metrics
from cdc_watch.statefile import StateFile
from cdc_watch.sources.jolokia import JolokiaSource
from cdc_watch.sources.jolokia_metrics import jolokia_metrics
from cdc_watch.notify.wiring import build_alerting
from cdc_watch.model import PollResult
from cdc_watch.remediation_runner import RemediationRunner
from cdc_watch.web import WebHooks, WebServer

log = logging.getLogger(__name__)

STOP_BUDGET_SECONDS = 4.0

TransportFactory = Callable[[str], httpx.BaseTransport | None]


def build_sources(
    config: Config,
    transport_for: TransportFactory | None = None,
    state_file: StateFile | None = None,
    clock: Clock | None = None,
) -> list[Source]:
    transport = transport_for or (lambda _name: None)
    sources: list[Source] = []
    for cluster in config.connect_clusters:
        sources.append(ConnectSource(cluster, transport(f"connect:{cluster.name}")))
        sources.append(ConnectOffsetsSource(cluster, transport(f"connect_offsets:{cluster.name}")))
        if cluster.jolokia is not None:
            sources.append(JolokiaSource(cluster, transport(f"jolokia:{cluster.name}")))
    endpoints = [endpoint_of(db) for db in config.databases]
    for db in config.databases:
        sources.append(MySQLSource(db, state_file, clock, endpoints))
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
    ):
        self.config_path = config_path
        self.clock = clock or SystemClock()
        self.store = SnapshotStore()
        self.transport_for = transport_for
        self.on_result = on_result
        self.config: Config = load_config(config_path)  # ConfigError propagates: the CLI exits 2
        self._config_status = ConfigStatus(last_reload_ok=True, loaded_at=self.clock.now())
        self._pollers: list[Poller] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        # Alerting owns a section of the state file; other parts reuse this StateFile.
        self.state_file = StateFile(self.config.state_file)
        self.alerting = build_alerting(
            self.config, lambda: self.config.alerting, self.state_file, self.clock,
            snapshot=self.store.current, config_now=lambda: self.config,
        )
        # Restarts failed connectors/tasks per config.remediation (on its own worker thread);
        # its notices go to Slack through the alerting delivery queue.
        self.remediation = RemediationRunner(
            self.config, self.state_file, self.clock, notify=self.alerting.notify_remediation, transport_for=transport_for
        )
        self.contributors: Sequence[Contributor] = (
            self_metrics,
            config_metrics(lambda: self._config_status),
            connect_metrics,
            jolokia_metrics(lambda: self.config),
            mysql_metrics,
            self.alerting.contribute,
            self.remediation.contribute,
        )
        self.web = WebServer(
            listen_address,
            WebHooks(
                metrics=self.render_metrics,
                snapshot=self.store.current,
                config_summary=lambda: (str(self.config_path), self._config_status.last_reload_ok),
                reload=self.reload,
                enable_lifecycle=enable_lifecycle,
                alerting=self.alerting,
            ),
        )

    def render_metrics(self) -> bytes:
        return render(self.store.current(), self.contributors)

    def snapshot(self) -> Snapshot:
        return self.store.current()

    def _start_pollers(self, config: Config) -> None:
        sources = build_sources(config, self.transport_for, self.state_file, self.clock)
        self.store.register((s.name, s.kind) for s in sources)
        self._pollers = [Poller(s, self.store, self.clock, config.poll_jitter, self._after_poll) for s in sources]
        for poller in self._pollers:
            poller.start()

    def _after_poll(self, result: PollResult, snapshot: Snapshot) -> None:
        """Every poll result: the health rules, remediation, then the caller's hook, if any.

        Each hook is guarded on its own: a bug in one (say alerting) never skips the others."""
        for name, hook in (("alerting", self.alerting.on_result), ("remediation", self.remediation.on_result), ("caller", self.on_result)):
            if hook is None:
                continue
            try:
                hook(result, snapshot)
            except Exception as exc:  # logged with its innermost frame; the message may hold reply data
                tb = exc.__traceback__
                while tb is not None and tb.tb_next is not None:
                    tb = tb.tb_next
                where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb is not None else "?"
                log.error("poll hook failed", extra={"hook": name, "source": result.source, "error": f"{type(exc).__name__} at {where}"})

    def _stop_pollers(self, budget: float) -> None:
        for poller in self._pollers:
            poller.stop()
        deadline = self.clock.monotonic() + budget
        for poller in self._pollers:
            if not poller.join(max(0.0, deadline - self.clock.monotonic())):
                log.warning("poll still in flight at shutdown; abandoning it", extra={"source": poller.source.name})
        for poller in self._pollers:
            try:
                poller.source.close()
            except Exception:
                pass
        self._pollers = []

    def start(self) -> None:
        self.alerting.start()
        self._start_pollers(self.config)
        self.web.start()
        log.info("cdc_watch started", extra={"port": self.web.port, "config": str(self.config_path)})

    def reload(self) -> tuple[bool, list[str]]:
        with self._lock:
            try:
                new = load_config(self.config_path)
            except ConfigError as exc:
                self._config_status = ConfigStatus(False, self._config_status.loaded_at)
                log.error("configuration reload rejected; keeping the previous one", extra={"problems": "; ".join(exc.problems)})
                return False, exc.problems
            self._stop_pollers(STOP_BUDGET_SECONDS / 2)
            self.config = new
            self.remediation.reconfigure(new)
            self._start_pollers(new)
            self._config_status = ConfigStatus(True, self.clock.now())
            log.info("configuration reloaded", extra={"config": str(self.config_path)})
            return True, []

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        with self._lock:
            self._stop_pollers(STOP_BUDGET_SECONDS)
        self.alerting.stop(STOP_BUDGET_SECONDS / 2)
        self.remediation.close()
        self.web.stop()
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
        self.start()
        while True:
            wake.wait()
            wake.clear()
            if reload_requested.is_set():
                reload_requested.clear()
                self.reload()
                continue
            break
        self.stop()
