"""Builds the alerting service (rules, planner, Slack, Sentry, delivery) from the Config."""

from __future__ import annotations

from collections.abc import Callable

from cdc_watch.clock import Clock
from cdc_watch.config import AlertingConfig, Config
from cdc_watch.notify.delivery import Channel, Delivery
from cdc_watch.notify.sentry import SentryAlerts, SentryChannel, init_sentry
from cdc_watch.notify.service import AlertService, config_secrets
from cdc_watch.notify.slack import SlackChannel
from cdc_watch.statefile import StateFile


def build_alerting(config: Config, current: Callable[[], AlertingConfig], state_file: StateFile, clock: Clock) -> AlertService:
    alerting = config.alerting
    channels: dict[str, Channel] = {}
    slack = sentry = None
    if alerting.slack is not None:
        slack = SlackChannel(alerting.slack)
        channels["slack"] = slack
    if alerting.sentry is not None:
        channels["sentry"] = SentryChannel(alerting.sentry)
    delivery = Delivery(channels, clock, alerting.max_messages_per_minute, alerting.max_retries, alerting.queue_size) if channels else None
    if alerting.sentry is not None and delivery is not None:
        init_sentry(alerting.sentry, delivery.submit, config_secrets(config))
        sentry = SentryAlerts(alerting.sentry)
    return AlertService(current, state_file, clock, delivery, slack, sentry)
