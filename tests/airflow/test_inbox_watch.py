"""The triggerer's watch on the inbox (inbox_watch.py), run as the triggerer runs it: its async generator
against a real folder. It fires once per arrival, never for an unchanged folder, and a restarted watch
does not fire again for files it has seen."""
from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from thb_reporting.intake.inbox_watch import InboxArrivalTrigger, load_seen

POLL = 0.05


def make_trigger(tmp_path):
    return InboxArrivalTrigger(inbox=(tmp_path / "inbox").as_uri(), state=(tmp_path / "state.json").as_uri(),
                               poll_seconds=POLL)


class Watch:
    """The trigger's generator driven by a task of its own, as in the triggerer: waiting for an event with
    a timeout must not cancel the generator."""

    def __init__(self, trigger):
        self.events: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._drive(trigger.run()))

    async def _drive(self, gen):
        async for event in gen:
            await self.events.put(event)

    async def aclose(self):
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def next_event(watch: Watch, timeout: float):
    """The watch's next event, or None if it fires nothing within timeout seconds."""
    try:
        return await asyncio.wait_for(watch.events.get(), timeout)
    except asyncio.TimeoutError:
        if watch.task.done():
            watch.task.result()  # the generator's own error, if it ended
        return None


def drop(tmp_path, relative: str, data: bytes = b"a,b\n1,2\n") -> None:
    path = tmp_path / "inbox" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_fires_once_per_arrival_and_not_for_an_unchanged_inbox(tmp_path):
    drop(tmp_path, "subotica/victims_2026Q2.csv")  # there before the first watch: the safety net's

    async def scenario():
        gen = Watch(make_trigger(tmp_path))
        try:
            assert await next_event(gen, 20 * POLL) is None
            drop(tmp_path, "novi_sad/victims_2026Q2.csv")
            event = await next_event(gen, 40 * POLL)
            assert event is not None and event.payload == {"files": 1}
            assert await next_event(gen, 20 * POLL) is None  # nothing new since
            drop(tmp_path, "novi_sad/victims_2026Q2.csv", b"a,b\n1,2\n3,4\n")  # the same name, new content
            assert (await next_event(gen, 40 * POLL)).payload == {"files": 1}
            drop(tmp_path, "kikinda/programmes_2026Q2.csv")
            drop(tmp_path, "kikinda/activities_2026Q2.csv")
            event = await next_event(gen, 40 * POLL)
            assert event.payload["files"] in (1, 2)  # one listing may fall between the two drops
            if event.payload["files"] == 1:
                assert (await next_event(gen, 40 * POLL)).payload == {"files": 1}
            assert await next_event(gen, 20 * POLL) is None
        finally:
            await gen.aclose()

    asyncio.run(scenario())
    assert len(load_seen((tmp_path / "state.json").as_uri())) == 4


def test_a_restarted_watch_fires_only_for_what_arrived_since(tmp_path):
    async def watch_once(expect_event: bool):
        gen = Watch(make_trigger(tmp_path))
        try:
            event = await next_event(gen, 40 * POLL)
            assert (event is not None) is expect_event
        finally:
            await gen.aclose()

    drop(tmp_path, "subotica/victims_2026Q2.csv")
    asyncio.run(watch_once(expect_event=False))  # the first watch takes note
    drop(tmp_path, "sombor/victims_2026Q2.csv")
    asyncio.run(watch_once(expect_event=True))  # what arrived while no triggerer ran
    asyncio.run(watch_once(expect_event=False))  # after the restart that follows an event: nothing again
    drop(tmp_path, "pirot/victims_2026Q2.csv")
    asyncio.run(watch_once(expect_event=True))


def test_a_removed_file_dropped_again_is_new_and_links_are_not_followed(tmp_path):
    async def scenario():
        gen = Watch(make_trigger(tmp_path))
        try:
            assert await next_event(gen, 20 * POLL) is None  # the first watch, of an empty inbox
            drop(tmp_path, "subotica/victims_2026Q2.csv")
            assert (await next_event(gen, 40 * POLL)).payload == {"files": 1}
            os.remove(tmp_path / "inbox" / "subotica" / "victims_2026Q2.csv")
            await asyncio.sleep(5 * POLL)
            drop(tmp_path, "subotica/victims_2026Q2.csv")
            assert (await next_event(gen, 40 * POLL)).payload == {"files": 1}
            (tmp_path / "secret").write_text("x")
            os.symlink(tmp_path / "secret", tmp_path / "inbox" / "subotica" / "link.csv")
            assert (await next_event(gen, 40 * POLL)).payload == {"files": 1}  # seen, refused later by ingest
            (tmp_path / "secret").write_text("changed")  # the link is not followed: no new event
            assert await next_event(gen, 20 * POLL) is None
        finally:
            await gen.aclose()

    asyncio.run(scenario())


def test_the_trigger_serializes_to_an_importable_classpath():
    from importlib import import_module

    classpath, kwargs = InboxArrivalTrigger(inbox="s3://bucket/inbox", state="s3://bucket/state.json").serialize()
    module, _, name = classpath.rpartition(".")
    assert getattr(import_module(module), name) is InboxArrivalTrigger
    assert InboxArrivalTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert InboxArrivalTrigger(**kwargs)._resolve()[2] == 60.0  # object storage is listed once a minute


@pytest.mark.parametrize("inbox", ["file:///srv/inbox", "/srv/inbox"])
def test_a_local_inbox_is_listed_every_two_seconds(inbox):
    assert InboxArrivalTrigger(inbox=inbox, state="file:///srv/state.json")._resolve()[2] == 2.0
