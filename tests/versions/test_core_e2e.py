"""The core end-to-end checks on each other Connect version (see conftest.py).

Each test is the default-version test of the same name, collected here once more: a FAILED
task, a binlog purged under a RUNNING task (Jolokia and MySQL sides), a database stopped under a
RUNNING task (not streaming), remediation of a retriable failure, and the offsets view.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_daemon_e2e import test_running_connector_and_a_task_failed_within_two_poll_intervals  # noqa: F401
from tests.e2e.test_jolokia_e2e import (  # noqa: F401
    test_database_stopped_under_a_running_task_shows_not_streaming,
    test_debezium_metrics_appear_under_the_connector_name,
    test_purge_loop_shows_as_missing_streaming_mbean_under_a_running_task,
)
from tests.e2e.test_mysql_e2e import test_purged_binlog_is_unavailable_while_connect_says_running  # noqa: F401
from tests.e2e.test_ops_e2e import cli, test_offsets_show_the_binlog_position  # noqa: F401
from tests.e2e.test_remediation_e2e import test_retriable_failure_is_restarted_once_the_database_is_back  # noqa: F401

pytestmark = pytest.mark.stack
