"""Builds the alerting service (rules, planner, the registered channels, delivery) from the Config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cdc_watch.config import AlertingConfig, Config
from cdc_watch.core.clock import Clock
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.core.statefile import StateFile
from cdc_watch.notify import channels as registry
from cdc_watch.notify.channel import ChannelContext
from cdc_watch.notify.delivery import Delivery
from cdc_watch.notify.service import AlertService, config_secrets


def evaluation_interval(config: Config) -> float:
    """The longest poll interval of any source: the rules run after every poll, so at least
    this often while every source still answers."""
    intervals = [c.poll_interval for c in config.connect_clusters]
    intervals += [c.jolokia.poll_interval for c in config.connect_clusters if c.jolokia is not None]
    intervals += [d.poll_interval for d in config.databases]
    return max(intervals)


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
    delivery: Delivery | None = None

    def secrets() -> set[str]:
        return config_secrets(live())

    def submit(channel: str, payload: Any) -> bool:  # bound late: the delivery needs the channels first
        return delivery is not None and delivery.submit(channel, payload)

    context = ChannelContext(secrets, clock, submit, evaluation_interval(config))
    built = [channel for build in registry.REGISTRY if (channel := build(alerting, context)) is not None]
    queued = {channel.name: channel for channel in built if channel.queued}
    if queued:
        delivery = Delivery(
            queued,
            clock,
            alerting.max_messages_per_minute,
            alerting.max_retries,
            alerting.queue_size,
            wait=wait,
            queue_bytes=alerting.queue_max_bytes,
        )
    return AlertService(current, state_file, clock, delivery, built, snapshot=snapshot)
