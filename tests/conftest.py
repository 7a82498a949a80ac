"""Shared pytest fixtures for tests that need the real devstack (see devstack/README.md).

`stack` starts the whole stack once per session (and stops it at the end unless
CDC_DEVSTACK_KEEP=1); `connector` gives each test its own freshly created, streaming Debezium
connector and undoes every injected fault afterwards. If the stack cannot start, the test fails
with the piece's name and log path: it never skips.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from devstack import Stack, StackError, versions  # noqa: E402

pytest_plugins = ["tests.support.notify_fixtures"]  # capture, slack_env, sentry_cleanup


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "stack: needs the real devstack (broker, MariaDB, Kafka Connect + Debezium, Jolokia)"
    )


_STACK_ERROR: list[str] = []


@pytest.fixture(scope="session")
def stack():
    """The running devstack (Stack().up()); stopped at session end unless CDC_DEVSTACK_KEEP=1.

    Kafka Connect runs at $CDC_DEVSTACK_CONNECT_VERSION, else the devstack's default version
    (never whatever an earlier run left running); tests/versions/ switches it for the core tests.
    """
    if _STACK_ERROR:
        pytest.fail(f"devstack could not start earlier in this session:\n{_STACK_ERROR[0]}", pytrace=False)
    s = Stack(connect_version=versions.resolve(None).key)
    try:
        s.up()
    except (StackError, httpx.HTTPError) as exc:
        _STACK_ERROR.append(str(exc))
        s.close()
        pytest.fail(f"devstack could not start:\n{exc}", pytrace=False)
    try:
        yield s
    finally:
        try:
            s.faults.heal_all()
        except Exception as exc:
            print(f"devstack: heal_all at session end failed: {exc}", file=sys.stderr)
        if os.environ.get("CDC_DEVSTACK_KEEP") != "1":
            s.down()
        s.close()


@pytest.fixture
def connector(stack):
    """A fresh Debezium MySQL connector (unique name, topic prefix, server id), streaming."""
    try:
        handle = stack.create_connector()
    except StackError as exc:
        stack.faults.heal_all()
        pytest.fail(f"could not create a streaming connector:\n{exc}", pytrace=False)
    try:
        yield handle
    finally:
        try:
            stack.faults.heal_all()
        finally:
            stack.delete_connector(handle.name)
