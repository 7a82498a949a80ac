"""The channel contract: what the alerting service asks of every notifier, and what a send returns.

A channel is one way of telling people (Slack, Sentry, Alertmanager). The service knows only
this contract and loops over the channels that `channels.REGISTRY` built from the config;
adding a notifier is its module, its config model and one line in that registry.

Two kinds of channel fit it:
- queued channels (`queued = True`, Slack and Sentry) turn each planned `Message` (and each
  remediation `Notice`) into payloads; the service keeps them in its write-ahead outbox and the
  shared `Delivery` sends them on the channel's own queue (`send`, with retry and rate limit);
- state channels (`queued = False`, Alertmanager) are shown every evaluation's whole alert state
  (`observe`) and run their own workers (`start`/`stop`), because what they need is the current
  truth re-sent on a schedule, not a message per change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cdc_watch.config import AlertingConfig
from cdc_watch.core.clock import Clock
from cdc_watch.notify.messages import Message, Notice

if TYPE_CHECKING:
    from cdc_watch.exporter.exposition import MetricsWriter
    from cdc_watch.notify.plan import PlanSettings
    from cdc_watch.rules.model import AlertState, Transition

MAX_RETRY_AFTER_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retry: bool = False  # worth another attempt (429, 5xx, connection error)
    retry_after: float | None = None  # seconds, from the Retry-After header
    detail: str = ""  # safe to log: status code or error class, never a URL or token
    receipt: Mapping[str, str] | None = None  # what the channel can later update (Slack: channel, ts)


class Sender(Protocol):
    """What the delivery queue calls on its worker thread."""

    def send(self, payload: Any) -> Outcome: ...

    # A sender whose deliveries can be changed later also offers
    # `update(payload, receipt) -> Outcome`, called instead of `send` for an item re-queued with
    # the receipt of an earlier delivery (Slack's Web API: chat.update of the same message).


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare on these APIs and is ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


def outcome_for_status(
    status: int, retry_after: str | None, ok_statuses: tuple[int, ...] = (200, 201, 202, 204)
) -> Outcome:
    if status in ok_statuses:
        return Outcome(True, detail=str(status))
    retriable = status == 429 or status >= 500 or status == 408
    return Outcome(False, retry=retriable, retry_after=parse_retry_after(retry_after), detail=f"http {status}")


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What a channel builder may use besides its own config section."""

    secrets: Callable[[], set[str]]  # every secret value of the live config, to scrub from payloads
    clock: Clock
    submit: Callable[[str, Any], bool]  # queue a payload of a queued channel outside the outbox (log events)
    evaluation_interval: float  # the longest time between two evaluations (the slowest poller)


class Channel:
    """A notifier; subclasses override what they use. Every method is called with the service's
    lock held except `send` (on the channel's worker) and the lifecycle ones."""

    name: str = ""  # the channel's key: outbox items, delivery queue, the `channel` metric label
    queued: bool = True  # payloads go through the outbox and the shared Delivery queue

    # ------------------------------------------------------------------ queued channels
    def payloads(self, message: Message) -> list[Any]:
        """What to queue for one planned message; [] when this channel does not want it."""
        return []

    def notice_payloads(self, notice: Notice) -> list[Any]:
        """What to queue for a remediation notice; [] when this channel does not show notices."""
        return []

    def restored_kind(self, payload: Any) -> str | None:
        """For an outbox item saved by an earlier run: the kind its payload shows ("firing",
        "notice", ...), or None when this channel cannot send it (the item is dropped)."""
        return None

    def send(self, payload: Any) -> Outcome:
        raise NotImplementedError(f"{type(self).__name__} is not a queued channel")

    # ------------------------------------------------------------------ state channels
    def observe(
        self, alerts: AlertState, transitions: Sequence[Transition], now: float, settings: PlanSettings
    ) -> None:
        """Every evaluation's outcome: the whole alert state and what changed."""

    def start(self) -> None:
        """Start the channel's own workers, if it has any."""

    def stop(self, deadline: float) -> None:
        """Tell the channel's own workers to send what is due and stop by `deadline` (the
        clock's monotonic time); returns at once."""

    def join(self, deadline: float) -> None:
        """Wait (until `deadline` at most) for the workers that `stop` told to stop."""

    def contribute(self, out: MetricsWriter) -> None:
        """The channel's own metrics (queued channels are counted by the service)."""


Builder = Callable[[AlertingConfig, ChannelContext], "Channel | None"]
