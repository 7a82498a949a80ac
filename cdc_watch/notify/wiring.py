"""Builds the alerting service (rules, planner, Slack, Sentry, delivery) from the Config."""

from __future__ import annotations

from collections.abc import Callable

from cdc_watch.config import AlertingConfig, Config
from cdc_watch.core.clock import Clock
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.core.statefile import StateFile
from cdc_watch.notify.delivery import Channel, Delivery
from cdc_watch.notify.sentry import SentryAlerts, SentryChannel, init_sentry
from cdc_watch.notify.service import AlertService, config_secrets
from cdc_watch.notify.slack import SlackChannel


def build_alerting(
    config: Config,
    current: Callable[[], AlertingConfig],
    state_file: StateFile,
    clock: Clock,
    snapshot: Callable[[], Snapshot] | None = None,
    config_now: Callable[[], Config] | None = None,
    wait: Callable[[float], bool] | None = None,
) -> AlertService:
    """`snapshot`: the store's current snapshot (evaluated under the service lock);
    `config_now`: the live Config, so secrets added by a reload are scrubbed too;
    `wait`: how `Delivery.run_pending` waits (tests)."""
    alerting = config.alerting
    live = config_now or (lambda: config)

    def secrets() -> set[str]:
        return config_secrets(live())

    channels: dict[str, Channel] = {}
    slack = sentry = None
    if alerting.slack is not None:
        slack = SlackChannel(alerting.slack, secrets)
        channels["slack"] = slack
    if alerting.sentry is not None:
        channels["sentry"] = SentryChannel(alerting.sentry)
    delivery = (
        Delivery(
            channels,
            clock,
            alerting.max_messages_per_minute,
            alerting.max_retries,
            alerting.queue_size,
            wait=wait,
            queue_bytes=alerting.queue_max_bytes,
        )
        if channels
        else None
    )
    if alerting.sentry is not None and delivery is not None:
        transport = init_sentry(alerting.sentry, delivery.submit, secrets)
        sentry = SentryAlerts(alerting.sentry, transport)
    return AlertService(current, state_file, clock, delivery, slack, sentry, snapshot=snapshot)
