"""The collector pause around bulk decoding: nests across threads, restores what it found."""

from __future__ import annotations

import gc
import threading

import pytest

from cdc_watch.core.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _collector_on():
    gc.enable()
    yield
    gc.enable()


def test_pause_disables_and_resumes():
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumes_after_an_exception():
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("decode failed")
    assert gc.isenabled()


def test_never_turns_on_a_collector_that_was_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_of_two_threads_resume_when_the_last_ends():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def second() -> None:
        first_in.wait(5)
        with gc_paused():
            second_in.set()
            first_out.wait(5)
            seen["after first ended"] = gc.isenabled()

    worker = threading.Thread(target=second)
    worker.start()
    with gc_paused():
        first_in.set()
        second_in.wait(5)
    first_out.set()
    worker.join(5)
    assert seen == {"after first ended": False}
    assert gc.isenabled()


def test_connect_decode_leaves_the_collector_on():
    """Decoding an expanded reply (and failing to) ends with the collector on."""
    from cdc_watch.core.model import SourceFailure
    from cdc_watch.sources.connect import poll

    with pytest.raises(SourceFailure):
        poll._decode_expanded(b"{not json", "GET /connectors")
    assert gc.isenabled()
    assert poll._decode_expanded(b'{"a": {}}', "GET /connectors") is not None
    assert gc.isenabled()
