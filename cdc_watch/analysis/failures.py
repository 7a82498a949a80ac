"""Failure classification, as the layers above the sources see it.

The classifier lives with the Connect source (`cdc_watch.sources.connect.failures`): a trace is
classified once, when the reply that carries it is parsed, and only the `Failure` (excerpt,
digest, classification) is kept. This module names the same things for the rules and the
remediation policy.
"""

from __future__ import annotations

from cdc_watch.sources.connect.failures import (
    KINDS,
    NO_TRACE_HINT,
    UNKNOWN_HINT,
    Classification,
    Failure,
    FailureCategory,
    classify,
    classify_failure,
    exception_blocks,
    explain,
    summarize,
    trace_excerpt,
)

__all__ = [
    "KINDS",
    "NO_TRACE_HINT",
    "UNKNOWN_HINT",
    "Classification",
    "Failure",
    "FailureCategory",
    "classify",
    "classify_failure",
    "exception_blocks",
    "explain",
    "summarize",
    "trace_excerpt",
]
