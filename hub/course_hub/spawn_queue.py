"""A first-come, first-served line for starting single-user servers.

A single-user start costs about 2 CPU-seconds (``docs/capacity.md``); when a room logs
in at once, starting every server together makes each one slower and the last students
wait longest. The hub instead starts ``slots`` servers at a time, in the order students
arrived, and tells each waiting student where they are in line on the spawn-pending page
("you are number 7 in line").

A place is taken in ``Spawner.run_pre_spawn_hook`` (after the roll number was checked,
before ``Spawner.start``, outside ``start_timeout``) and given back when the spawn is no
longer pending: the server answered, or the start failed. JupyterHub's own
``concurrent_spawn_limit`` stays the outer bound (past it the hub answers 429).

``queued(SpawnerClass)`` adds the line to any spawner (DockerSpawner in production, the
local spawner in tests); the line is one per hub process.
"""

from __future__ import annotations

import asyncio
import collections
import os

from jupyterhub.utils import maybe_future

#: how often a waiting spawn re-reads its place, and a started one its pending state
POLL_SECONDS = 0.5


def default_slots() -> int:
    """Concurrent starts: ``HUB_SPAWN_SLOTS`` when positive, else one per core the hub
    sees."""
    configured = int(os.environ.get("HUB_SPAWN_SLOTS") or 0)
    return configured if configured > 0 else (os.cpu_count() or 1)


class SpawnLine:
    """At most ``slots`` holders at a time; the others wait in arrival order."""

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError(f"a spawn line needs at least one slot, not {slots}")
        self.slots = slots
        self.holders: set = set()
        self.waiting: collections.deque = collections.deque()
        self._changed = asyncio.Event()

    def position(self, key) -> int:
        """1 for the next in line, 2 behind them...; 0 when ``key`` is not waiting."""
        try:
            return self.waiting.index(key) + 1
        except ValueError:
            return 0

    async def enter(self, key) -> None:
        """Wait for a slot in arrival order, then hold it (until :meth:`leave`)."""
        self.waiting.append(key)
        try:
            while self.waiting[0] is not key or len(self.holders) >= self.slots:
                self._changed.clear()
                await self._changed.wait()
        finally:
            self.waiting.remove(key)
            self._changed.set()
        self.holders.add(key)

    def leave(self, key) -> None:
        """Give back ``key``'s slot (nothing if it holds none)."""
        self.holders.discard(key)
        self._changed.set()


_LINES: dict[int, SpawnLine] = {}


def line_for(slots: int) -> SpawnLine:
    """The hub process's line (one per slot count, so tests may build several)."""
    if slots not in _LINES:
        _LINES[slots] = SpawnLine(slots)
    return _LINES[slots]


def waiting_message(position: int) -> str:
    ahead = "You are next" if position == 1 else f"You are number {position} in line"
    return (f"Many students are starting their servers right now. {ahead}: your server "
            "starts by itself, keep this page open.")


class QueuedSpawnerMixin:
    """Spawner mixin: wait for a place in the hub's spawn line before ``start``."""

    spawn_slots = default_slots()

    @property
    def spawn_line(self) -> SpawnLine:
        return line_for(self.spawn_slots)

    async def run_pre_spawn_hook(self):
        line = self.spawn_line
        if line.position(self) == 0 and self not in line.holders:
            await line.enter(self)
            asyncio.ensure_future(self._leave_when_started())
        return await maybe_future(super().run_pre_spawn_hook())

    async def _leave_when_started(self):
        try:
            while self._spawn_pending:
                await asyncio.sleep(POLL_SECONDS)
        finally:
            self.spawn_line.leave(self)

    async def progress(self):
        line, shown = self.spawn_line, None
        while self._spawn_pending and not (line.position(self) or self in line.holders):
            await asyncio.sleep(POLL_SECONDS)  # the page opened before the spawn got in line
        while position := line.position(self):
            if position != shown:
                shown = position
                yield {"progress": 5, "message": waiting_message(position)}
            await asyncio.sleep(POLL_SECONDS)
        if shown is not None:
            yield {"progress": 20, "message": "Your turn: starting your server"}
        async for event in super().progress():
            yield event


def queued(spawner_class):
    """``spawner_class`` with the spawn line (:class:`QueuedSpawnerMixin`)."""
    return type(f"Queued{spawner_class.__name__}", (QueuedSpawnerMixin, spawner_class), {})
