"""Slack: Block Kit rendering (pure) and sending through slack_sdk (webhook or bot token).

Routing by severity: `severity_webhook_urls` / `severity_channels` pick the destination of a
message by its most severe alert, else the default webhook or channel. Messages below
`min_severity` are not sent. Every user-derived string (names, descriptions, evidence, traces)
is scrubbed of the known secrets and of secret-shaped text, then escaped for mrkdwn (& < >), so
a trace can smuggle neither `<!channel>` nor a bare password into a message. Errors are
reported as status codes or error classes only: the webhook URL and the token are secrets and
never appear in a log line or an outcome. slack_sdk's clients log every request (URL, body) at
DEBUG: they get a logger held at WARNING (`SDK_LOG`), so that text is never even built.

With a bot token a delivery returns a receipt (channel, ts); the outbox journals it, and a
re-send of that item after a crash becomes `update` (chat.update of the same message) rather
than a second post. Incoming webhooks return no id and cannot update: see docs/notifications.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from cdc_watch.config import AlertingConfig, SlackSettings
from cdc_watch.core import redact
from cdc_watch.notify.channel import Channel, ChannelContext, Outcome, outcome_for_status
from cdc_watch.notify.messages import (
    AlertView,
    Message,
    MessageKind,
    Notice,
    payload_from_json,
)
from cdc_watch.rules.model import Severity

SDK_LOG = logging.getLogger("slack_sdk.cdc_watch")  # held at WARNING: its DEBUG lines carry the URL and body

TEXT_LIMIT = 2900  # Slack's section text limit is 3000 characters
HEADER_LIMIT = 150
MAX_ALERTS_SHOWN = 10

_ICON = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}
_TITLE = {MessageKind.FIRING: "FIRING", MessageKind.REPEAT: "STILL FIRING", MessageKind.RESOLVED: "RESOLVED"}


def _esc(text: str) -> str:
    """Slack's mrkdwn escaping: only &, < and > are control characters (`<!channel>`, links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Text:
    """Scrubs secrets from each user-derived string, then escapes it for mrkdwn."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = tuple(secrets)

    def plain(self, text: str) -> str:  # plain_text blocks are shown literally: no escaping
        return redact.scrub(text, self.secrets)

    def __call__(self, text: str) -> str:
        return _esc(redact.scrub(text, self.secrets))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "?"


def _subject(message: Message) -> str:
    group = dict(message.group)
    for name in ("connector", "database", "connect_cluster", "source"):
        if name in group:
            return group[name]
    return "cdc_watch"


def _code(text: str) -> str:
    """Text for inside backticks: a backtick in it would end the code span."""
    return text.replace("`", "'")


def _link(url: str, label: str, t: _Text) -> str:
    return f"<{t(url).replace('|', '%7C')}|{label}>"


def _alert_section(alert: AlertView, resolved: bool, t: _Text) -> list[dict[str, Any]]:
    lines = [f"*{t(alert.key.alert)}* ({alert.severity}): {t(alert.description)}"]
    if resolved and alert.resolution:
        lines.append(f"*Resolved:* {t(alert.resolution)}")
    if not resolved:
        if alert.evidence.why:
            lines.append(f"*Why:* {t(alert.evidence.why)}")
        if alert.evidence.hint:
            lines.append(f"*What to do:* {t(alert.evidence.hint)}")
        if alert.evidence.facts:
            lines.append("*Evidence:* " + "; ".join(f"{t(k)}: `{_code(t(v))}`" for k, v in alert.evidence.facts))
        lines.append(f"*Since:* {_when(alert.active_since)}")
    links = [_link(alert.runbook_url, "Runbook", t)]
    if alert.dashboard_url:
        links.append(_link(alert.dashboard_url, "Dashboard", t))
    lines.append(" · ".join(links))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), TEXT_LIMIT)}}
    ]
    if alert.evidence.trace and not resolved:
        trace = _cut(t(alert.evidence.trace).replace("```", "'''"), TEXT_LIMIT - 8)  # cannot end the code block
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{trace}```"}})
    return blocks


def render(message: Message, secrets: Iterable[str] = ()) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) for one message."""
    t = _Text(secrets)
    resolved = message.kind is MessageKind.RESOLVED
    icon = ":white_check_mark:" if resolved else _ICON[message.severity]
    names = ", ".join(dict.fromkeys(a.key.alert for a in message.alerts))
    subject = _subject(message)
    title = _cut(f"{_TITLE[message.kind]}: {names} on {subject}", HEADER_LIMIT)
    group = dict(message.group)
    fields = [f"*Severity:*\n{message.severity}"]
    if "connect_cluster" in group:
        fields.append(f"*Connect cluster:*\n{t(group['connect_cluster'])}")
    for name, label in (("connector", "Connector"), ("database", "Database"), ("source", "Source")):
        if name in group:
            fields.append(f"*{label}:*\n{t(group[name])}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": t.plain(title)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    for alert in message.alerts[:MAX_ALERTS_SHOWN]:
        blocks.extend(_alert_section(alert, resolved, t))
    if len(message.alerts) > MAX_ALERTS_SHOWN:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"+{len(message.alerts) - MAX_ALERTS_SHOWN} more alerts"}],
            }
        )
    if message.also_firing:
        others = ", ".join(f"{a.key.alert} ({a.severity})" for a in message.also_firing)
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _cut(f"Still firing for {t(subject)}: {t(others)}", TEXT_LIMIT)}
                ],
            }
        )
    return f"{icon} {t(title)}", blocks  # the fallback text is mrkdwn too (push notifications)


def render_notice(notice: Notice, secrets: Iterable[str] = ()) -> tuple[str, list[dict[str, Any]]]:
    text = f":wrench: {_Text(secrets)(_cut(notice.text, TEXT_LIMIT))}"
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


Secrets = Iterable[str] | Callable[[], Iterable[str]]


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, settings: SlackSettings, secrets: Secrets = ()):
        self.settings = settings
        self._secrets = secrets  # known secret values (cdc_watch's config); a callable follows reloads
        self.min_rank = Severity(settings.min_severity).rank
        timeout = max(1, int(settings.timeout))
        SDK_LOG.setLevel(logging.WARNING)  # whatever --log.level says (the SDK checks this level itself)
        self._webhooks: dict[str, WebhookClient] = {}
        self._client: WebClient | None = None
        if settings.webhook_url is not None:
            self._webhooks["default"] = WebhookClient(
                settings.webhook_url.get_secret_value(), timeout=timeout, retry_handlers=[], logger=SDK_LOG
            )
            for severity, url in settings.severity_webhook_urls.items():
                self._webhooks[severity] = WebhookClient(
                    url.get_secret_value(), timeout=timeout, retry_handlers=[], logger=SDK_LOG
                )
        else:
            assert settings.token is not None
            base = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
            self._client = WebClient(
                token=settings.token.get_secret_value(),
                base_url=base,
                timeout=timeout,
                retry_handlers=[],
                logger=SDK_LOG,
            )

    def wants(self, message: Message | Notice) -> bool:
        return message.severity.rank <= self.min_rank

    def payloads(self, message: Message) -> list[Any]:
        return [message.to_json()] if self.wants(message) else []

    def notice_payloads(self, notice: Notice) -> list[Any]:
        return [notice.to_json()] if self.wants(notice) else []

    def restored_kind(self, payload: Any) -> str | None:
        try:
            parsed = payload_from_json(payload)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        return "notice" if isinstance(parsed, Notice) else str(parsed.kind)

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets() if callable(self._secrets) else self._secrets)

    def _rendered(self, payload: Any) -> tuple[Message | Notice, str, list[dict[str, Any]]] | None:
        try:
            message = payload if isinstance(payload, (Message, Notice)) else payload_from_json(payload)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        render_one = render_notice if isinstance(message, Notice) else render
        text, blocks = render_one(message, self.secrets())  # type: ignore[arg-type]
        return message, text, blocks

    def send(self, payload: Any) -> Outcome:
        rendered = self._rendered(payload)
        if rendered is None:
            return Outcome(False, retry=False, detail="malformed payload")
        message, text, blocks = rendered
        severity = str(message.severity)
        if self._client is None:
            client = self._webhooks.get(severity, self._webhooks["default"])
            try:
                response = client.send(text=text, blocks=blocks, unfurl_links=False, unfurl_media=False)
            except Exception as exc:  # connection refused, timeout, TLS: never show the URL
                return Outcome(False, retry=True, detail=type(exc).__name__)
            return outcome_for_status(
                response.status_code,
                (response.headers or {}).get("Retry-After") or (response.headers or {}).get("retry-after"),
            )
        channel = self.settings.severity_channels.get(severity, self.settings.channel)
        assert channel is not None  # SlackSettings: a token needs a channel
        return self._call(
            self._client.chat_postMessage,
            channel=channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )

    def update(self, payload: Any, receipt: Mapping[str, str]) -> Outcome:
        """Re-send a message Slack has already accepted (its receipt is known): chat.update of
        that message, so a re-send after a crash shows it once. A message that cannot be
        updated (deleted, too old) is posted again."""
        channel, ts = receipt.get("channel"), receipt.get("ts")
        if self._client is None or not channel or not ts:
            return self.send(payload)
        rendered = self._rendered(payload)
        if rendered is None:
            return Outcome(False, retry=False, detail="malformed payload")
        _message, text, blocks = rendered
        outcome = self._call(self._client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)
        if not outcome.ok and not outcome.retry:
            return self.send(payload)
        return outcome

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Outcome:
        """One Web API call; the outcome carries the message's receipt (channel, ts)."""
        try:
            response = method(**kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code
            headers = exc.response.headers or {}
            outcome = outcome_for_status(status, headers.get("Retry-After") or headers.get("retry-after"))
            error = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
            error = error if isinstance(error, str) and error.replace("_", "").isalnum() else "unknown"
            if outcome.ok:  # HTTP 200 with ok=false: channel_not_found, invalid_auth, ...
                return Outcome(False, retry=False, detail=f"slack error {error}")
            return Outcome(False, outcome.retry, outcome.retry_after, f"{outcome.detail} {error}")
        except Exception as exc:
            return Outcome(False, retry=True, detail=type(exc).__name__)
        channel, ts = response.get("channel"), response.get("ts")
        receipt = {"channel": channel, "ts": ts} if isinstance(channel, str) and isinstance(ts, str) else None
        return Outcome(True, detail="200", receipt=receipt)


def build(alerting: AlertingConfig, context: ChannelContext) -> SlackChannel | None:
    return None if alerting.slack is None else SlackChannel(alerting.slack, context.secrets)
