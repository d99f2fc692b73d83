"""Freezing start-up's objects must not stop the bot reclaiming what it allocates later."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.adapter.heap import settle_after_start_up


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def settled() -> Iterator[int]:
    frozen = settle_after_start_up()
    try:
        yield frozen
    finally:
        gc.unfreeze()


def test_start_up_objects_are_frozen(settled: int) -> None:
    assert settled > 0
    assert gc.get_freeze_count() > 0


def test_cycles_made_after_start_up_are_still_collected(settled: int) -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first
    watch = weakref.ref(first)
    del first, second
    gc.collect()
    assert watch() is None


def test_garbage_present_at_start_up_is_collected_not_frozen() -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first
    watch = weakref.ref(first)
    del first, second
    try:
        settle_after_start_up()
        assert watch() is None
    finally:
        gc.unfreeze()
