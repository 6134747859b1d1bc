"""Ctrl-C that lands in a finalizer is kept, not lost: Python swallows what a __del__ raises."""

from __future__ import annotations

import gc
import signal
import sys

import pytest

from lit import interrupt

pytestmark = pytest.mark.unit


def test_an_interrupt_inside_a_finalizer_is_raised_at_the_next_checkpoint() -> None:
    class Finalized:
        def __del__(self) -> None:  # as Popen.__del__ runs when the collector gets to it
            interrupt._handler(signal.SIGINT, sys._getframe())

    Finalized()
    gc.collect()
    assert interrupt.pending(), "kept, since a KeyboardInterrupt raised here would be swallowed"
    with pytest.raises(KeyboardInterrupt):
        interrupt.check()
    interrupt.check()  # raised once: the handler that caught it may run docker commands to clean up
    assert not interrupt.pending()
    with pytest.raises(KeyboardInterrupt):
        interrupt._handler(signal.SIGINT, sys._getframe())  # anywhere else, at once
