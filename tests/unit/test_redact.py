"""Secret scrubbing of free text (traces, error bodies)."""

from __future__ import annotations

from cdc_watch.redact import REDACTED, excerpt, scrub, secret_values


def test_secret_values_come_from_secret_looking_keys_only():
    config = {"database.password": "s3cr3t-pw", "database.user": "debezium", "sasl.jaas.config": "x required password=\"p\";", "tasks.max": "1"}
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
