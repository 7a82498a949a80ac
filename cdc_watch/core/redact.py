"""Keeping connector secrets out of everything cdc_watch emits.

Connector configs returned by Kafka Connect carry database passwords. The parsers keep only
an allow-list of keys (see `SAFE_CONNECTOR_KEYS`); free text that may echo a secret (task
traces, error bodies) goes through `scrub`, which removes the secret values seen in the same
reply and anything shaped like `password=...`; URLs put into a message go through
`strip_userinfo`.

`scrub` runs once, where text enters (the source parsers and pollers); it is idempotent
(scrubbing scrubbed text changes nothing, so a second pass further down is harmless) and it
leaves prose alone:
- a value already `[REDACTED]` is never redacted again, and a `)` closing a parenthesis the
  value did not open ends the value (`(using password: YES)` keeps its parenthesis);
- `key=value`, quoted keys or values (a JSON `"password"` key) and dotted/underscored config keys
  (`database.password: x`) are always assignments;
- a bare English word followed by a colon (`password: YES`, `credentials: fix the password`)
  is prose unless the value has the shape of a secret (a digit or a symbol in it): a bare
  all-letter word after "password:" cannot be told from prose by its shape. Known secret
  values (the connector config's, the daemon config's) are removed whatever their shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

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

# key=value / key: value / "key":"value" forms of secret-looking keys in free text. The
# lookbehind starts a match only where a key can start (not inside a dotted Java identifier),
# which keeps the scan linear; `_assignments` below narrows it further to keyword hits.
_SECRET_ASSIGNMENT = re.compile(
    r"""(?<![\w.\-])(?P<key>["']?[\w.\-]*(?:password|passwd|secret|token|credential|api[._-]?key)[\w.\-]*["']?\s*[=:]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\]]+)""",
    re.I,
)
# Lower-case literals every match of _SECRET_ASSIGNMENT contains ("pass" for password and
# passwd, "api" for api[._-]?key).
_KEYWORDS = ("pass", "secret", "token", "credential", "api")
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


def _is_key_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_.-"  # exactly the regex class [\w.\-]


def _assignments(text: str) -> str:
    """`_SECRET_ASSIGNMENT.sub`, but the regex only runs where a keyword occurs.

    A Java trace is kilobytes of stack frames with a keyword or two; running the regex at every
    position cost ~0.3 ms per trace (8,000 failed tasks: seconds). Each match contains a
    keyword inside the run of key characters it starts with, so trying a match at the start
    of the run around each keyword hit finds the same matches.
    """
    if not text.isascii():  # lower() may change lengths, and re.I folds more than ASCII
        return _SECRET_ASSIGNMENT.sub(_redact_value, text)
    low = text.lower()
    hits: list[int] = []
    for word in _KEYWORDS:
        at = low.find(word)
        while at >= 0:
            hits.append(at)
            at = low.find(word, at + 1)
    if not hits:
        return text
    hits.sort()
    parts: list[str] = []
    done = skip = 0  # text[:done] is settled; hits before `skip` share a run that failed
    for hit in hits:
        if hit < done or hit < skip:
            continue
        start = hit
        while start > done and _is_key_char(text[start - 1]):
            start -= 1
        match = None
        if start > done and text[start - 1] in "\"'":  # a quoted key, as the regex would start it
            match = _SECRET_ASSIGNMENT.match(text, start - 1)
        match = match or _SECRET_ASSIGNMENT.match(text, start)
        if match is None:
            skip = hit
            while skip < len(text) and _is_key_char(text[skip]):
                skip += 1
            continue
        replacement, end = _redacted(match)
        parts.append(text[done : match.start()])
        parts.append(replacement)
        done = end
    parts.append(text[done:])
    return "".join(parts)


def _value_end(match: re.Match[str]) -> int:
    """Where the value really ends: trailing `)` the value did not open belong to the prose."""
    value = match.group("value")
    end = match.end("value")
    if value[:1] in "\"'":
        return end
    opened = value.count("(")
    while value.endswith(")") and value.count(")") > opened:
        value = value[:-1]
        end -= 1
    return end


def _is_secret_value(match: re.Match[str], end: int) -> bool:
    """Whether the matched assignment's value (up to `end`) is a secret rather than prose."""
    value = match.string[match.start("value") : end]
    if not value or match.string.startswith(REDACTED, match.start("value")) or value.strip("\"'") == REDACTED:
        return False  # already scrubbed (idempotence) or nothing left after the parenthesis
    key = match.group("key").rstrip()
    if key.endswith("="):
        return True
    name = key[:-1].rstrip()
    if name[:1] in "\"'" or value[:1] in "\"'" or any(ch in name for ch in "._-"):
        return True  # JSON, quoted values, config keys
    word = value.strip("()[].,:!?")
    return not word.isalpha()  # a bare word after "password:" is prose; "t0k3n-1" is not


def _redacted(match: re.Match[str]) -> tuple[str, int]:
    """(replacement text, end of what it replaces) for one assignment match."""
    end = _value_end(match)
    if not _is_secret_value(match, end):
        return match.string[match.start() : end], end
    return match.group("key") + REDACTED, end


def _redact_value(match: re.Match[str]) -> str:
    replacement, end = _redacted(match)
    return replacement + match.string[end : match.end()]


def _scrub_shapes(text: str) -> str:
    """Secret-shaped assignments and URL passwords; a function of the text alone."""
    text = _assignments(text)
    if "://" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)
    return text


def scrub(text: str, secrets: Iterable[str] = (), memo: dict[str, str] | None = None) -> str:
    """Remove known secret values and secret-shaped assignments from free text.

    `memo`, a dict the caller keeps for one reply, scrubs identical texts once (8,000 tasks
    failing with the same trace) and makes them share one string.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_LEN and secret in text:
            # never inside a marker a previous pass left: scrubbing twice changes nothing
            text = REDACTED.join(part.replace(secret, REDACTED) for part in text.split(REDACTED))
    if memo is None:
        return _scrub_shapes(text)
    done = memo.get(text)
    if done is None:
        done = memo[text] = _scrub_shapes(text)
    return done


def strip_userinfo(url: str) -> str:
    """The URL without any `user:password@` part, for messages, labels and pages."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host: keep only what follows the last @
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if "@" in rest.split("/", 1)[0] else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def excerpt(text: str, limit: int = 200) -> str:
    """A short, single-line, scrubbed excerpt of a reply body for an error message."""
    flat = " ".join(text.split())
    flat = scrub(flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
