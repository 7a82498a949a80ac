"""The core end-to-end tests again, on every other Kafka Connect version the devstack runs.

The rest of the suite runs on the default version (`devstack.versions.DEFAULT`, or
$CDC_DEVSTACK_CONNECT_VERSION). Here `stack` is the same session stack switched to each other
version in turn (its workers replaced, the sample connector streaming in that version's own
group); pytest groups the tests by version, so each switch happens once. This directory sorts
after every other test directory, so the switches come last. $CDC_TEST_CONNECT_VERSIONS
(comma-separated keys, e.g. "4.1") names the versions instead; a version named there runs even
when it is the default (`CDC_DEVSTACK_CONNECT_VERSION=4.1 CDC_TEST_CONNECT_VERSIONS=4.1` runs
the core tests on 4.1 without starting any other version first).
"""

from __future__ import annotations

import os

import pytest

from devstack import CONNECT_VERSIONS, versions
from tests.e2e.conftest import capture, daemon_factory, stack_env  # noqa: F401 - fixtures for these tests


def other_versions() -> list[str]:
    default = versions.resolve(None).key
    wanted = os.environ.get("CDC_TEST_CONNECT_VERSIONS")
    if wanted:
        return [k for k in (k.strip() for k in wanted.split(",")) if k in CONNECT_VERSIONS]
    return [k for k in CONNECT_VERSIONS if k != default]


@pytest.fixture(scope="session", params=other_versions(), ids=lambda key: f"connect-{key}")
def stack(stack, request):  # the session stack, switched to this version
    stack.faults.heal_all()
    stack.use_connect_version(request.param)
    assert stack.rest("GET", "/").json()["version"] == CONNECT_VERSIONS[request.param].connect
    return stack
