"""Keeping connector secrets out of everything cdc_watch emits.

Connector configs returned by Kafka Connect carry database passwords. The parsers keep only
an allow-list of keys (see `SAFE_CONNECTOR_KEYS`); free text that may echo a secret (task
traces, error bodies) goes through `scrub`, which removes the secret values seen in the same
reply and anything shaped like `password=...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

REDACTED = "[REDACTED]"

# Config keys whose values cdc_watch keeps; every other value is dropped at parse time.
SAFE_CONNECTOR_KEYS = frozenset(
    {
        "connector.class",
        "topic.prefix",
        "database.server.name",
        "database.hostname",
        "database.port",
        "database.user",
        "tasks.max",
    }
)

_SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|credential|private[._-]?key|api[._-]?key|sasl\.jaas)", re.I)

# key=value / key: value / "key":"value" forms of secret-looking keys in free text.
_SECRET_ASSIGNMENT = re.compile(
    r"""(?P<key>["']?[\w.\-]*(?:password|passwd|secret|token|credential|api[._-]?key)[\w.\-]*["']?\s*[=:]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\]]+)""",
    re.I,
)
# user:password@host in URLs.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.I)

_MIN_SECRET_LEN = 4  # shorter values would redact ordinary words


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def secret_values(config: Mapping[str, object]) -> frozenset[str]:
    """Values of secret-looking keys in a connector config (to scrub them from traces)."""
    found = set()
    for key, value in config.items():
        if isinstance(key, str) and is_secret_key(key) and isinstance(value, str) and len(value) >= _MIN_SECRET_LEN:
            found.add(value)
    return frozenset(found)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values and secret-shaped assignments from free text."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_LEN:
            text = text.replace(secret, REDACTED)
    text = _SECRET_ASSIGNMENT.sub(lambda m: m.group("key") + REDACTED, text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)
    return text


def excerpt(text: str, limit: int = 200) -> str:
    """A short, single-line, scrubbed excerpt of a reply body for an error message."""
    flat = " ".join(text.split())
    flat = scrub(flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
