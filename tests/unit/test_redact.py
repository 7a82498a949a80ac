"""Secret scrubbing of free text (traces, error bodies)."""

from __future__ import annotations

import json
import random
import re

from cdc_watch.core import redact
from cdc_watch.core.redact import REDACTED, excerpt, scrub, secret_values
from tests.support.recorded import ROOT


def test_secret_values_come_from_secret_looking_keys_only():
    config = {
        "database.password": "s3cr3t-pw",
        "database.user": "debezium",
        "sasl.jaas.config": 'x required password="p";',
        "tasks.max": "1",
    }
    assert secret_values(config) == frozenset({"s3cr3t-pw", 'x required password="p";'})


def test_scrub_known_values_and_assignments():
    text = "Access denied using s3cr3t-pw; jdbc:mysql://u:pa55word@db:3306/x?password=abc123&user=u token: tok-999"
    out = scrub(text, {"s3cr3t-pw"})
    for secret in ("s3cr3t-pw", "pa55word", "abc123", "tok-999"):
        assert secret not in out
    assert out.count(REDACTED) == 4
    assert "user=u" in out


def test_excerpt_is_short_single_line_and_scrubbed():
    text = "line one\npassword=hunter22\n" + "x" * 500
    out = excerpt(text, 60)
    assert "\n" not in out and "hunter22" not in out and len(out) <= 60


# The pattern before it was anchored: the reference the fast path must agree with.
_REFERENCE = re.compile(
    r"""(?P<key>["']?[\w.\-]*(?:password|passwd|secret|token|credential|api[._-]?key)[\w.\-]*["']?\s*[=:]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\]]+)""",
    re.I,
)
_PIECES = (
    "password",
    "Passwd",
    "SECRET",
    "token",
    "credential",
    "api_key",
    "api-Key",
    "apikey",
    "api",
    "db",
    "io.debezium.connector",
    "x",
    "-",
    ".",
    "_",
    "=",
    ":",
    " ",
    "\n",
    "\t",
    '"',
    "'",
    ",",
    ";",
    "&",
    "}",
    "]",
    "(",
    ")",
    "@",
    "://",
    "u:pw@",
    "é",
    "7",
)


def _reference_scrub(text: str) -> str:
    text = _REFERENCE.sub(lambda m: m.group("key") + REDACTED, text)
    return redact._URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)


def test_fast_scrub_agrees_with_the_unanchored_pattern_on_generated_text():
    rng = random.Random(7)
    for _ in range(4000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 30)))
        assert scrub(text) == _reference_scrub(text), repr(text)


def test_fast_scrub_agrees_on_every_recorded_trace():
    traces = []
    for path in sorted((ROOT / "connect").glob("*.json")):
        traces += re.findall(r'"trace": "((?:[^"\\]|\\.)*)"', path.read_text())
    assert len(traces) >= 3
    for raw in traces:
        text = json.loads(f'"{raw}"')
        assert scrub(text) == _reference_scrub(text)


def test_the_pattern_never_starts_inside_a_dotted_identifier():
    # What made it quadratic: every position of a long identifier started a new scan.
    assert redact._SECRET_ASSIGNMENT.match("io.debezium.password=x", 3) is None
    assert redact._SECRET_ASSIGNMENT.match("io.debezium.password=x", 0).group("value") == "x"


def test_the_regex_runs_only_at_keyword_hits(monkeypatch):
    calls = []

    class Counting:
        def __getattr__(self, name):
            attr = getattr(redact._SECRET_ASSIGNMENT_REAL, name)
            return lambda *args: calls.append(name) or attr(*args)

    monkeypatch.setattr(redact, "_SECRET_ASSIGNMENT_REAL", redact._SECRET_ASSIGNMENT, raising=False)
    monkeypatch.setattr(redact, "_SECRET_ASSIGNMENT", Counting())
    frames = "\n".join(
        f"\tat io.debezium.connector.binlog.jdbc.Frame{i}.method(Frame{i}.java:{i})" for i in range(2000)
    )
    assert scrub(frames) == frames and calls == []
    assert scrub(frames + "\nCaused by: x password=hunter22 and token: t0k3n-1").endswith(
        "password=[REDACTED] and token: [REDACTED]"
    )
    assert calls == ["match", "match"]


def test_a_memo_scrubs_identical_traces_once_and_shares_the_result():
    trace = "boom password=hunter22\n\tat x.Y.z(Y.java:1)"
    memo: dict[str, str] = {}
    first = scrub(trace, {"pw-one"}, memo)
    second = scrub("".join(list(trace)), {"pw-two"}, memo)
    assert first == second == scrub(trace) and first is second
    # A known secret is replaced before the memo is consulted, so it never leaks through it.
    assert scrub(trace + " pw-one", {"pw-one"}, memo).endswith(REDACTED)
