"""Pausing Python's cyclic garbage collector while a large reply is decoded and modelled.

Decoding the expanded Connect reply at thousands of connectors allocates hundreds of thousands
of container objects in a burst. Each burst sets off collections, and the full ones walk every
live object, the previous snapshot included. Measured with benchmarks/bench_scale.py at 8,000
connectors x 4 tasks with unique traces, counting collections with `gc.callbacks`: a steady
poll spent 130-180 ms of its 700-780 ms CPU in about 135 collections, one of them full; paused,
it sets off a single young collection of 35-55 ms when the pause ends.

The pause is safe because what is decoded holds no reference cycles (JSON values and frozen
model records are freed by reference counting alone); cycles other threads make meanwhile are
found at the next collection after the pause. It lasts as long as one decode of a reply that
`max_reply_size` bounds, never across network reads. Pauses nest across threads: the collector
resumes when the last one ends, and only if it was on before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
