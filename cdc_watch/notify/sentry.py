"""Sentry: alert events and the daemon's own warnings/errors, through sentry_sdk.

`SentryAlerts.capture(message)` turns each firing alert into an event with fingerprint
[alert, cluster, subject] (so Sentry groups every occurrence of one alert on one connector),
level from severity, tags and the trace excerpt as the `failure` context (`trace` is reserved:
Relay expects trace_id/span_id there). The SDK builds the envelopes; `capture` returns those of
alerts (the alerting service keeps them in its write-ahead outbox), while `QueueTransport`
hands every other envelope (the daemon's own warnings) straight to the delivery queue.
`SentryChannel` is the channel: it plans those envelopes and POSTs them on Sentry's own queue, retry and rate limit. The `before_send`
scrubber removes every known secret and anything secret-shaped from every string of the event.

An alert's event id is fixed: derived from the alert's identity (name, labels, when it started
firing), so a re-send after a crash, or a re-plan after a lost state file, carries the id Sentry
already has, and Sentry keeps the first event only. The daemon's own warnings pass a
`LogEventLimiter` first: one event per logger and message per LOG_EVENT_WINDOW_SECONDS (a
warning repeated for each of 1,000 connectors is one event, the next one says how many were
held back) and LOG_EVENTS_PER_WINDOW in all; the rest are counted, not sent.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
from sentry_sdk.transport import Transport
from sentry_sdk.utils import Dsn

from cdc_watch import __version__
from cdc_watch.config import AlertingConfig, SentrySettings
from cdc_watch.core import redact
from cdc_watch.exporter.exposition import MetricsWriter
from cdc_watch.notify.channel import Channel, ChannelContext, Outcome, outcome_for_status
from cdc_watch.notify.messages import Message, MessageKind
from cdc_watch.rules.model import Severity

LEVELS: dict[Severity, Literal["fatal", "warning", "info"]] = {
    Severity.CRITICAL: "fatal",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}
MAX_DEPTH = 12
LOG_EVENT_WINDOW_SECONDS = 600.0
LOG_EVENTS_PER_WINDOW = 30
LOG_EVENT_KEYS = 512  # loggers x messages remembered (the code has far fewer log statements)
EVENT_ID_NAMESPACE = uuid.UUID("5d0f4a0e-8c1b-4c53-9a57-3f1f6b1c2d7e")  # cdc_watch's own, fixed forever


def scrub_value(value: Any, secrets: frozenset[str], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, str):
        return redact.scrub(value, secrets)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and redact.is_secret_key(key) and not isinstance(item, (dict, list)):
                out[key] = redact.REDACTED
            else:
                out[key] = scrub_value(item, secrets, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub_value(item, secrets, depth + 1) for item in value]
    return value


Secrets = Iterable[str] | Callable[[], Iterable[str]]


def known_secrets(secrets: Secrets) -> frozenset[str]:
    """The secret values now (a callable follows config reloads)."""
    return frozenset(s for s in (secrets() if callable(secrets) else secrets) if s)


class LogEventLimiter:
    """Which of the daemon's own log records may become Sentry events (see the module doc)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        window: float = LOG_EVENT_WINDOW_SECONDS,
        budget: int = LOG_EVENTS_PER_WINDOW,
        keys: int = LOG_EVENT_KEYS,
    ):
        self.clock, self.window, self.budget, self.keys = clock, window, budget, keys
        self._lock = threading.Lock()
        self._last: OrderedDict[tuple[str, int, str], float] = OrderedDict()  # key -> its last event
        self._held: dict[tuple[str, int, str], int] = {}  # key -> records held back since then
        self._sent: deque[float] = deque()  # times of the events sent within the window
        self.suppressed = 0

    def admit(self, record: logging.LogRecord, peek: bool = False) -> int | None:
        """None to hold the record back (counted); else how many like it were held back before
        it. `peek` only says whether it would pass, and records nothing for one that does."""
        key = (record.name, record.levelno, record.msg if isinstance(record.msg, str) else type(record.msg).__name__)
        now = self.clock()
        with self._lock:
            while self._sent and now - self._sent[0] >= self.window:
                self._sent.popleft()
            last = self._last.get(key)
            if (last is not None and now - last < self.window) or len(self._sent) >= self.budget:
                self.suppressed += 1
                if last is not None:
                    self._held[key] = self._held.get(key, 0) + 1
                return None
            if peek:
                return 0
            self._last[key] = now
            self._last.move_to_end(key)
            while len(self._last) > self.keys:
                old, _ = self._last.popitem(last=False)
                self._held.pop(old, None)
            self._sent.append(now)
            return self._held.pop(key, 0)


def make_scrubber(
    secrets: Secrets, limiter: LogEventLimiter | None = None
) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]:
    fixed = None if callable(secrets) else known_secrets(secrets)

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        record = (hint or {}).get("log_record")
        if limiter is not None and isinstance(record, logging.LogRecord):
            held = limiter.admit(record)
            if held is None:
                return None
            if held:
                event.setdefault("extra", {})["similar_held_back"] = held
        return scrub_value(event, fixed if fixed is not None else known_secrets(secrets))

    return before_send


class QueueTransport(Transport):
    """Hands serialized envelopes to a submit function (the delivery queue); never blocks.

    Inside `collecting()` (on that thread only) envelopes are returned to the caller instead.
    """

    def __init__(self, options: dict[str, Any], submit: Callable[[str, Any], bool]):
        super().__init__(options)
        self._submit = submit
        self._local = threading.local()
        self.limiter = LogEventLimiter()

    @contextmanager
    def collecting(self) -> Iterator[list[str]]:
        into: list[str] = []
        self._local.into = into
        try:
            yield into
        finally:
            self._local.into = None

    def capture_envelope(self, envelope: Envelope) -> None:
        payload = base64.b64encode(envelope.serialize()).decode("ascii")
        into = getattr(self._local, "into", None)
        if into is not None:
            into.append(payload)
        else:
            self._submit("sentry", payload)


class SentryChannel(Channel):
    """Alert events planned into the outbox (`payloads`); every envelope POSTed to the DSN's
    envelope endpoint (`send`)."""

    name = "sentry"

    def __init__(self, settings: SentrySettings, alerts: SentryAlerts | None = None):
        self.alerts = alerts
        dsn = Dsn(settings.dsn.get_secret_value())
        auth = dsn.to_auth(client=f"cdc-watch/{__version__}")
        self._url = auth.get_api_url()
        self._auth = auth.to_header()
        self._client = httpx.Client(timeout=settings.timeout)

    def send(self, payload: Any) -> Outcome:
        body = base64.b64decode(payload)
        try:
            response = self._client.post(
                self._url,
                content=body,
                headers={"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": self._auth},
            )
        except httpx.HTTPError as exc:
            return Outcome(False, retry=True, detail=type(exc).__name__)
        return outcome_for_status(response.status_code, response.headers.get("Retry-After"))

    def payloads(self, message: Message) -> list[Any]:
        if self.alerts is None or not self.alerts.wants(message):
            return []
        return list(self.alerts.capture(message))

    def restored_kind(self, payload: Any) -> str | None:
        return "firing" if isinstance(payload, str) else None

    def contribute(self, out: MetricsWriter) -> None:
        if self.alerts is not None:
            out.add("cdc_sentry_log_events_suppressed_total", "", self.alerts.suppressed())

    def close(self) -> None:
        self._client.close()


def init_sentry(settings: SentrySettings, submit: Callable[[str, Any], bool], secrets: Secrets) -> QueueTransport:
    """Initialise the (process-global) Sentry SDK; events leave through `submit`."""
    dsn = settings.dsn.get_secret_value()
    # Delivery logs (queue full, retries, give-ups of any channel) must not become events
    # that fill the queue again; alerts reach Sentry as their own events.
    ignore_logger("cdc_watch.notify.delivery")
    ignore_logger("cdc_watch.notify.delivery.*")
    ignore_logger("cdc_watch.notify.service")
    transport = QueueTransport({"dsn": dsn}, submit)
    logging_integration = LoggingIntegration(level=None, event_level=logging.WARNING if settings.send_logs else None)
    # The SDK builds and serializes an event before before_send sees it (~0.7 ms a record): a
    # filter on its event handler holds back, before that, what the limiter would. The handler
    # is the integration's own attribute; without it before_send still limits, only later.
    event_handler = getattr(logging_integration, "_handler", None)
    if isinstance(event_handler, logging.Handler):
        event_handler.addFilter(lambda record: transport.limiter.admit(record, peek=True) is not None)
    sentry_sdk.init(
        dsn=dsn,
        transport=transport,
        # The SDK types events as a TypedDict; the scrubber works on the same dicts, untyped.
        before_send=make_scrubber(lambda: [*known_secrets(secrets), dsn], transport.limiter),  # type: ignore[arg-type]
        environment=settings.environment,
        release=f"cdc-watch@{__version__}",
        default_integrations=False,
        integrations=[logging_integration],
        include_local_variables=False,
        max_breadcrumbs=0,
        attach_stacktrace=False,
    )
    return transport


def close_sentry() -> None:
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=0)


class SentryAlerts:
    def __init__(self, settings: SentrySettings, transport: QueueTransport):
        self.min_rank = Severity(settings.min_severity).rank
        self.transport = transport

    def wants(self, message: Message) -> bool:
        return message.kind is MessageKind.FIRING and message.severity.rank <= self.min_rank

    def suppressed(self) -> int:
        """The daemon's own log records held back from Sentry so far."""
        return self.transport.limiter.suppressed

    def capture(self, message: Message) -> list[str]:
        """The (scrubbed, serialized) envelopes of the message's alerts, for the outbox."""
        with self.transport.collecting() as envelopes:
            self._capture(message)
        return envelopes

    def _capture(self, message: Message) -> None:
        for alert in message.alerts:
            if alert.severity.rank > self.min_rank:
                continue
            labels = dict(alert.key.labels)
            subject = (
                labels.get("connector") or labels.get("database") or labels.get("worker") or labels.get("source") or ""
            )
            tags = {"alert": alert.key.alert, "severity": str(alert.severity), **labels}
            if alert.evidence.kind:
                tags["failure_kind"] = alert.evidence.kind
            contexts: dict[str, Any] = {
                "alert": {
                    "summary": alert.summary,
                    "description": alert.description,
                    "runbook_url": alert.runbook_url,
                    "dashboard_url": alert.dashboard_url,
                    "why": alert.evidence.why,
                    "hint": alert.evidence.hint,
                    "evidence": dict(alert.evidence.facts),
                }
            }
            if alert.evidence.trace:
                contexts["failure"] = {"excerpt": alert.evidence.trace}
            sentry_sdk.capture_event(
                {
                    "event_id": event_id(alert.key.alert, alert.key.labels, alert.active_since),
                    "message": f"{alert.key.alert}: {alert.description}",
                    "level": LEVELS[alert.severity],
                    "logger": "cdc_watch.alerts",
                    "fingerprint": [alert.key.alert, labels.get("connect_cluster", ""), subject],
                    "tags": tags,
                    "contexts": contexts,
                }
            )


def build(alerting: AlertingConfig, context: ChannelContext) -> SentryChannel | None:
    if alerting.sentry is None:
        return None
    transport = init_sentry(alerting.sentry, context.submit, context.secrets)
    return SentryChannel(alerting.sentry, SentryAlerts(alerting.sentry, transport))


def event_id(alert: str, labels: Iterable[tuple[str, str]], active_since: float) -> str:
    """The Sentry event id of one firing of one alert: the same every time it is captured."""
    identity = "\x1f".join([alert, *(f"{k}={v}" for k, v in sorted(labels)), repr(float(active_since))])
    return uuid.uuid5(EVENT_ID_NAMESPACE, identity).hex
