"""One replica of an HA deployment: its lease, the shared state, and what they gate.

Wiring (the composition root calls `attach`): the alerting service, its delivery queues and
the remediation runner act only while `lease.is_leader()`; every state file save is published
by the leader (the alert section with the outbox's live items, the remediation section). On
taking the lease, before acting, the replica reads the state topic to its end and adopts the
previous leader's sections. A follower keeps reading the topic each lease turn, so a takeover
only reads the tail.

Why a follower judges every poll but plans nothing: its /metrics then show the same alerts as
the leader's (a dashboard may scrape either), and a `for` window has been running on it all
along; what was announced is the leader's business, and a new leader takes the leader's view of
that (and its alert states with it) instead of guessing from its own.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from cdc_watch.config import HighAvailability
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.core.statefile import StateFile
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.ha.lease import KafkaLease, Lease, Role
from cdc_watch.ha.state import SharedState
from cdc_watch.notify.service import SECTION as ALERTS
from cdc_watch.notify.service import AlertService
from cdc_watch.remediation.runner import SECTION as REMEDIATION
from cdc_watch.remediation.runner import RemediationRunner

log = logging.getLogger(__name__)


class Replica:
    def __init__(self, settings: HighAvailability, member: str | None = None):
        self.settings = settings
        self.member = member or f"{socket.gethostname()[:40]}-{os.getpid()}"
        self.shared = SharedState(settings, self.member, self.is_leader)
        self.lease: Lease = KafkaLease(settings, self._take_over, self.member, on_turn=self._keep_up)
        self.alerting: AlertService | None = None
        self.remediation: RemediationRunner | None = None
        self._outbox_dirty = threading.Event()
        self._stopping = threading.Event()
        self._publisher: threading.Thread | None = None
        self.takeovers = 0

    def is_leader(self) -> bool:
        return self.lease.is_leader()

    def attach(self, state_file: StateFile, alerting: AlertService, remediation: RemediationRunner) -> None:
        self.alerting, self.remediation = alerting, remediation
        alerting.gate = remediation.gate = self.is_leader
        if alerting.delivery is not None:
            alerting.delivery.gate = self.is_leader
        alerting.outbox.on_done = self._outbox_dirty.set  # published from our thread: no lock order
        state_file.on_save = self._on_save

    def _on_save(self, name: str, value: Any) -> None:
        if not self.is_leader():
            return
        if name == ALERTS and self.alerting is not None:
            self.shared.publish(name, self.alerting.shared())
        elif name == REMEDIATION:
            self.shared.publish(name, value)

    def _publish_outbox(self) -> None:
        while not self._stopping.is_set():
            if not self._outbox_dirty.wait(0.5):
                continue
            self._outbox_dirty.clear()
            if self.alerting is not None and self.is_leader():
                self.shared.publish(ALERTS, self.alerting.shared())

    # ------------------------------------------------------------------ lease callbacks (lease thread)
    def _keep_up(self) -> None:
        self.shared.read_available(0.0)
        self.shared.serve()

    def _take_over(self) -> bool:
        if not self.shared.catch_up():
            return False
        alerts, restarts = self.shared.latest.get(ALERTS), self.shared.latest.get(REMEDIATION)
        if alerts is not None and self.alerting is not None:
            self.alerting.adopt(alerts)
        if restarts is not None and self.remediation is not None:
            self.remediation.adopt(restarts)
        self.takeovers += 1
        return True

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.shared.start()
        self.lease.start()
        self._publisher = threading.Thread(target=self._publish_outbox, name="ha publish", daemon=True)
        self._publisher.start()

    def stop(self, budget: float) -> None:
        self._stopping.set()
        self.lease.stop(budget)
        if self._publisher is not None:
            self._publisher.join(0.6)
        self.shared.close()

    # ------------------------------------------------------------------ metrics
    def contribute(self, _snapshot: Snapshot, out: MetricsWriter) -> None:
        out.add("cdc_ha_leader", "", 1 if self.is_leader() else 0)
        out.add("cdc_ha_leader_changes_total", "", self.lease.changes)
        role = self.lease.role()
        for each in Role:
            out.add("cdc_ha_role", labels(("role", str(each))), 1 if each == role else 0)
        if self.lease.last_contact is not None:
            out.add("cdc_ha_broker_last_contact_timestamp_seconds", "", self.lease.last_contact)
        out.add("cdc_ha_state_publish_errors_total", "", self.shared.publish_errors)
