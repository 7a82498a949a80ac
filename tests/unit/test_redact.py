"""Secret scrubbing of free text (traces, error bodies)."""

from __future__ import annotations

import json
import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

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


# The plain regex substitution over the whole text: the reference the keyword-hit fast path
# must agree with.
_REFERENCE = redact._SECRET_ASSIGNMENT
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
    text = _REFERENCE.sub(redact._redact_value, text)
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


# --------------------------------------------------------------------------- idempotent, prose-safe


def test_mysql_access_denied_keeps_its_parenthesis_through_any_number_of_passes():
    text = "Access denied for user 'cdc'@'10.0.0.1' (using password: YES)"
    assert scrub(text) == text
    assert scrub(scrub(scrub(text))) == text
    assert scrub("password=hunter22)") == f"password={REDACTED})"
    assert scrub(scrub("password=hunter22)")) == f"password={REDACTED})"


def test_hints_and_prose_with_secret_words_are_left_alone():
    for prose in (
        "The database refused the connector's credentials: fix the password or user in the connector config",
        "token: expired, secret: rotated",
        "Check the password: it may have changed",
    ):
        assert scrub(prose) == prose


def test_assignments_that_are_not_prose_are_still_scrubbed():
    out = scrub('x "password": "abc" database.password: hunter y password: t0k3n-1 api_key=word')
    assert out == f'x "password": {REDACTED} database.password: {REDACTED} y password: {REDACTED} api_key={REDACTED}'


def test_a_known_secret_inside_a_marker_is_not_scrubbed_again():
    once = scrub("a DACT b", {"DACT"})
    assert once == f"a {REDACTED} b" and scrub(once, {"DACT"}) == once


_WORDS = st.from_regex(r"[A-Za-z]{1,9}", fullmatch=True)
_PROSE = st.sampled_from(
    [
        "(using password: YES)",
        "credentials: fix the password",
        "Access denied for user 'cdc'@'db'",
        "password",
        "at io.debezium.connector.Foo.bar(Foo.java:12)",
        "token:",
    ]
)
# Secrets with a digit (a bare "password: word" is prose by design, see the module docstring);
# no whitespace or separators, which end a value in free text.
_SECRETS = st.from_regex(r"[A-Za-z!#%*+?^~]{2,10}[0-9][A-Za-z0-9!#%*+?^~-]{1,10}", fullmatch=True)
_FORMS = (
    "password={}",
    '"database.password":"{}"',
    "database.password = {}",
    "token: {}",
    "jdbc:mysql://cdc:{}@db:3306/shop",
    "Api-Key='{}'",
    "{}",  # a known secret value on its own
)


@st.composite
def _texts(draw):
    pieces: list[str] = []
    words: list[str] = []
    secrets: list[str] = []
    for _ in range(draw(st.integers(1, 12))):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            word = draw(_WORDS)
            words.append(word)
            pieces.append(word)
        elif choice == 1:
            pieces.append(draw(_PROSE))
        else:
            secret = draw(_SECRETS)
            secrets.append(secret)
            pieces.append(draw(st.sampled_from(_FORMS)).format(secret))
    separators = draw(st.lists(st.sampled_from([" ", "\n", "; ", ", ", "\n\tat "]), min_size=len(pieces)))
    text = "".join(p + s for p, s in zip(pieces, separators, strict=False))
    return text, words, secrets


@settings(max_examples=300, deadline=None)
@given(_texts())
def test_property_no_secret_survives_no_word_is_lost_and_twice_is_once(case):
    text, words, secrets = case
    once = scrub(text, secrets)
    for secret in secrets:
        assert secret not in once
    kept = once.split()
    for word in words:  # every non-secret word survives (as a whole token or inside one)
        assert any(word in token for token in kept), (word, once)
    for prose in ("(using password: YES)", "credentials: fix the password"):
        assert text.count(prose) == once.count(prose)
    assert scrub(once, secrets) == once
