"""The two bounded queues of a node process: frames kept for re-sending, frames to process.

``ResendBuffer``: every sealed frame, per destination, until ``resend_frames`` newer ones
(or ``resend_bytes``) push it out; re-sent whole after every reconnect, so a proxy that
dies holding frames loses none of them (receivers drop what already arrived as replays).
``Inbox``: frames read from the proxy waiting for the protocol task, one list per socket
read, bounded by frames so a fast proxy pushes back on the connection task.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Sequence

from byzlab.network.framing import MAX_FRAME

__all__ = ["Inbox", "ResendBuffer"]


class ResendBuffer:
    """The last sealed frames per destination, oldest first, bounded by count and bytes."""

    def __init__(self, destinations: Sequence[int], *, max_frames: int, max_bytes: int) -> None:
        self.max_frames = max_frames
        # One maximal frame must always fit, or a large batch could never be buffered.
        self.max_bytes = max(max_bytes // max(1, len(destinations)), MAX_FRAME + 4)
        self._frames: dict[int, deque[bytes]] = {d: deque() for d in destinations}
        self._bytes: dict[int, int] = dict.fromkeys(destinations, 0)

    def full(self, dest: int) -> bool:
        return (
            len(self._frames[dest]) >= self.max_frames
            or self._bytes[dest] + MAX_FRAME + 4 > self.max_bytes
        )

    def append(self, dest: int, frame: bytes) -> None:
        frames = self._frames[dest]
        frames.append(frame)
        self._bytes[dest] += len(frame)
        while len(frames) > self.max_frames or self._bytes[dest] > self.max_bytes:
            self._bytes[dest] -= len(frames.popleft())

    def frames(self) -> Iterator[bytes]:
        for frames in self._frames.values():
            yield from frames

    def __len__(self) -> int:
        return sum(len(f) for f in self._frames.values())


class Inbox:
    """Frames from peers waiting for the protocol task, one list per socket read, and
    ``START``. Bounded by frames: ``put`` waits while ``max_frames`` or more are queued (so
    one read's worth may cross the bound, like the last message a Batcher lets in)."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self._items: deque[list[bytes] | str] = deque()
        self._frames = 0
        self._nonempty = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()

    def __len__(self) -> int:
        return self._frames

    async def put(self, item: list[bytes] | str) -> None:
        while self._frames >= self.max_frames:
            self._space.clear()
            await self._space.wait()
        self._items.append(item)
        if not isinstance(item, str):
            self._frames += len(item)
        self._nonempty.set()

    async def get(self) -> list[bytes] | str:
        while not self._items:
            self._nonempty.clear()
            await self._nonempty.wait()
        item = self._items.popleft()
        if not isinstance(item, str):
            self._frames -= len(item)
            if self._frames < self.max_frames:
                self._space.set()
        return item
