"""Different people's updates side by side, one person's strictly in the order sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update

from bot.adapter.metrics import Metrics
from bot.adapter.update_order import ChatOrderedUpdateProcessor, chat_of


def update_from(chat_id: int, update_id: int) -> Update:
    chat = Chat(id=chat_id, type=Chat.PRIVATE)
    message = Message(message_id=update_id, date=datetime.now(UTC), chat=chat, text="hi")
    return Update(update_id=update_id, message=message)


class Recorder:
    """Handlers that note when they start and finish, and finish only when released."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.running: set[str] = set()
        self.most_at_once = 0
        self.release: dict[str, asyncio.Event] = {}

    async def handle(self, name: str) -> None:
        self.log.append(f"start {name}")
        self.running.add(name)
        self.most_at_once = max(self.most_at_once, len(self.running))
        await self.release.setdefault(name, asyncio.Event()).wait()
        self.running.discard(name)
        self.log.append(f"end {name}")

    def let_go(self, name: str) -> None:
        self.release.setdefault(name, asyncio.Event()).set()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_one_persons_updates_are_handled_in_turn_in_the_order_sent() -> None:
    processor = ChatOrderedUpdateProcessor(8, metrics=Metrics())
    recorder = Recorder()
    tasks = [
        asyncio.create_task(processor.process_update(update_from(5, n), recorder.handle(f"a{n}")))
        for n in range(1, 4)
    ]
    await settle()
    assert recorder.log == ["start a1"]
    recorder.let_go("a2")  # released early: must still wait for a1
    await settle()
    assert recorder.log == ["start a1"]
    recorder.let_go("a1")
    recorder.let_go("a3")
    await asyncio.gather(*tasks)
    assert recorder.log == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]
    assert processor.chats_in_hand == 0


async def test_different_people_are_handled_side_by_side() -> None:
    processor = ChatOrderedUpdateProcessor(8, metrics=Metrics())
    recorder = Recorder()
    tasks = [
        asyncio.create_task(
            processor.process_update(update_from(chat, chat), recorder.handle(name))
        )
        for chat, name in ((1, "priya"), (2, "sam"), (3, "kim"))
    ]
    await settle()
    assert recorder.running == {"priya", "sam", "kim"}
    for name in ("kim", "priya", "sam"):
        recorder.let_go(name)
    await asyncio.gather(*tasks)
    assert processor.chats_in_hand == 0


async def test_no_more_than_the_limit_at_once() -> None:
    processor = ChatOrderedUpdateProcessor(2, metrics=Metrics())
    recorder = Recorder()
    names = [f"p{chat}" for chat in range(6)]
    tasks = [
        asyncio.create_task(processor.process_update(update_from(chat, chat), recorder.handle(n)))
        for chat, n in enumerate(names)
    ]
    await settle()
    assert len(recorder.running) == 2
    for name in names:
        recorder.let_go(name)
    await asyncio.gather(*tasks)
    assert recorder.most_at_once == 2
    assert sorted(line for line in recorder.log if line.startswith("end")) == sorted(
        f"end {n}" for n in names
    )


async def test_a_flood_from_one_person_does_not_hold_up_everyone_else() -> None:
    metrics = Metrics()
    processor = ChatOrderedUpdateProcessor(2, metrics=metrics)
    recorder = Recorder()
    flood = [
        asyncio.create_task(processor.process_update(update_from(7, n), recorder.handle(f"f{n}")))
        for n in range(10)
    ]
    other = asyncio.create_task(processor.process_update(update_from(8, 99), recorder.handle("b")))
    await settle()
    # Nine of the flood wait for their turn without taking a slot, so the other person's
    # update is handled at once beside the first of the flood.
    assert recorder.running == {"f0", "b"}
    # /metrics shows the nine waiting for their turn.
    assert metrics.sample("marac_updates_waiting") == 9
    assert "marac_updates_waiting 9" in metrics.render()
    for n in range(10):
        recorder.let_go(f"f{n}")
    recorder.let_go("b")
    await asyncio.gather(*flood, other)
    assert metrics.sample("marac_updates_waiting") == 0
    assert [line for line in recorder.log if "f" in line] == [
        step for n in range(10) for step in (f"start f{n}", f"end f{n}")
    ]


async def test_one_at_a_time_keeps_ptbs_inline_path() -> None:
    processor = ChatOrderedUpdateProcessor(1, metrics=Metrics())
    assert processor.max_concurrent_updates == 1
    assert processor.handled_at_once == 1


def test_whose_turn_an_update_takes() -> None:
    assert chat_of(update_from(42, 1)) == 42
    assert chat_of(Update(update_id=2)) is None
    assert chat_of("not an update") is None


async def test_an_update_cancelled_while_waiting_its_turn_never_runs() -> None:
    """At shutdown a waiting update is dropped cleanly: not run, not counted as waiting."""
    metrics = Metrics()
    processor = ChatOrderedUpdateProcessor(4, metrics=metrics)
    recorder = Recorder()
    first = asyncio.create_task(processor.process_update(update_from(5, 1), recorder.handle("a1")))
    second = asyncio.create_task(processor.process_update(update_from(5, 2), recorder.handle("a2")))
    await settle()
    assert metrics.sample("marac_updates_waiting") == 1
    second.cancel()
    await settle()
    assert second.cancelled()
    assert metrics.sample("marac_updates_waiting") == 0
    recorder.let_go("a1")
    await first
    assert recorder.log == ["start a1", "end a1"]
    assert processor.chats_in_hand == 0
