"""Fixtures shared by the notification tests: a local Slack/Sentry capture server, the
environment the test configs reference, and a Sentry client reset. Loaded as a pytest plugin
from tests/conftest.py."""

from __future__ import annotations

import pytest
import sentry_sdk

from cdc_watch.notify.sentry import close_sentry
from tests.support.capture import CaptureServer

PASSWORD = "s3cr3t-Db-Passw0rd"  # the monitored database's password in cdc_watch's own config


@pytest.fixture
def capture():
    server = CaptureServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack_env(monkeypatch, capture):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", capture.webhook_url("default"))
    monkeypatch.setenv("SLACK_CRITICAL_URL", capture.webhook_url("critical"))
    monkeypatch.setenv("SLACK_TOKEN", "xoxb-test-token-123")
    monkeypatch.setenv("SENTRY_DSN", capture.sentry_dsn())
    monkeypatch.setenv("CDC_TEST_DB_PASSWORD", PASSWORD)
    return capture


@pytest.fixture
def sentry_cleanup():
    yield
    close_sentry()
    # An inactive client; dsn="" so the SDK does not pick up SENTRY_DSN, still set by slack_env.
    sentry_sdk.init(dsn="", default_integrations=False)
