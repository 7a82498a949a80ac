"""Structured logging: `logfmt` (key=value; `text` is its earlier name) or `json` lines on stderr.

Context goes in `extra={...}` (connector=, source=, alert=, ...); every extra field is
written as a key. Messages must never contain secrets: callers pass classified, scrubbed text.

Two nets under that rule, whatever `--log.level` says:
- Libraries that print request URLs, headers or bodies below WARNING (`QUIET_LOGGERS`: the
  Slack SDK prints the webhook URL and the message body at DEBUG, urllib3 the request path,
  httpx every URL at INFO) are held at WARNING; there is no flag to open them, because a
  webhook URL is the credential itself.
- Every line written goes through `redact.scrub` on the way out: the configuration's secret
  values (`use_secrets`, set by the App at start and at each reload) and anything shaped like
  `password=...` or `user:password@` become [REDACTED].
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

from cdc_watch.core import redact

QUIET_LOGGERS = ("slack_sdk", "slack", "sentry_sdk", "httpx", "httpcore", "urllib3", "pymysql", "hpack")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(ch in text for ch in ' "=\n\t'):
        return json.dumps(text)
    return text


class _Scrubbing(logging.Formatter):
    """Scrubs every text it writes of the known secrets and of secret-shaped text."""

    secrets: frozenset[str] = frozenset()

    def clean(self, value: object) -> str:
        return redact.scrub(str(value), self.secrets)


class TextFormatter(_Scrubbing):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={_timestamp(record)}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_quote(self.clean(record.getMessage()))}",
        ]
        parts += [f"{k}={_quote(self.clean(v))}" for k, v in _fields(record).items()]
        if record.exc_info:
            parts.append(f"exc={_quote(self.clean(self.formatException(record.exc_info)))}")
        return " ".join(parts)


class JsonFormatter(_Scrubbing):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.clean(record.getMessage()),
        }
        body.update(
            {
                k: v if isinstance(v, (int, float, bool)) or v is None else self.clean(v)
                for k, v in _fields(record).items()
            }
        )
        if record.exc_info:
            body["exc"] = self.clean(self.formatException(record.exc_info))
        return json.dumps(body)


def quiet_libraries() -> None:
    """Hold QUIET_LOGGERS at WARNING (idempotent; the App calls it too, for embedders and tests)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def use_secrets(secrets: Iterable[str]) -> None:
    """Add secret values for the root handlers' formatters to scrub from every line (those of an
    earlier configuration stay: a late line may still name them)."""
    values = frozenset(s for s in secrets if s)
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, _Scrubbing):
            handler.formatter.secrets = handler.formatter.secrets | values


def setup(level: str = "info", fmt: str = "logfmt") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()
