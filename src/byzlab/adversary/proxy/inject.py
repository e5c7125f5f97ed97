"""Test-only: hostile input written by the proxy itself (``inject`` in proxy.json).

Before the start, when the proxy receives SIGUSR1, it writes garbage frames, forged frames,
frames with a valid Byzantine MAC but invalid contents, and finally one oversized frame to
the target node's connection, then writes ``done_file``; with ``hold_start`` the run starts
on the next SIGUSR1, so a test can measure the target between the flood and the run. With
``stall_frames``, when the run starts the Byzantine node also sends the target that many
frames of about 1 MiB through the relay queues (the stalled-receiver flood of
``delivery.py``, "Memory bounds"). With ``flood_messages``, well-formed, validly MAC'd
protocol messages at full speed (``benchmarks/bench_flood.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import msgpack

from byzlab.adversary.proxy.config import InjectSpec
from byzlab.adversary.proxy.connections import Connections
from byzlab.adversary.proxy.corrupted import CorruptedNodes
from byzlab.adversary.proxy.stats import ProxyStats
from byzlab.atomicio import atomic_write_json
from byzlab.errors import NodeConfigError
from byzlab.network.framing import (
    FRAME_HEADER,
    LENGTH_PREFIX,
    MAC_SIZE,
    MAX_FRAME,
    OVERHEAD,
    VERSION,
    encode_frame,
    pack_batch,
)
from byzlab.node.messages import DecideMsg, Kind, Message, RbcMsg, Vote, Write, encode

__all__ = ["Injector"]

log = logging.getLogger("byzlab.proxy")


class Injector:
    """Writes ``spec``'s hostile frames when triggered (``trigger``: SIGUSR1), then calls
    ``on_done`` (the run may start); ``schedule`` relays the stall flood."""

    def __init__(
        self,
        spec: InjectSpec,
        *,
        seed: int,
        n: int,
        honest_ids: list[int],
        connections: Connections,
        byzantine: CorruptedNodes,
        stats: ProxyStats,
        schedule: Callable[[int, int, list[bytes], list[Message] | None, int], None],
        on_done: Callable[[], None],
    ) -> None:
        self.spec = spec
        self._seed = seed
        self.n = n
        self._honest = honest_ids
        self._connections = connections
        self._byzantine = byzantine
        self._stats = stats
        self._schedule = schedule
        self._on_done = on_done
        self.trigger = asyncio.Event()
        self.done = False  # the injection is over: the run may start

    async def run(self) -> None:
        """Wait for SIGUSR1, write the hostile frames, then let the run start (on a second
        SIGUSR1 with ``hold_start``)."""
        spec = self.spec
        if spec.target not in self._honest or spec.from_node not in self._byzantine.actors:
            raise NodeConfigError("inject: target must be honest and from_node Byzantine")
        await self.trigger.wait()
        connections = self._connections
        while spec.target not in connections.conns:
            connections.changed.clear()
            await connections.changed.wait()
        conn = connections.conns[spec.target]
        writer = conn.writer
        rng = random.Random(f"inject:{self._seed}")
        counts: Counter[str] = Counter()
        log.info("proxy: injecting hostile frames into node %d", spec.target)

        async def put(data: bytes, kind: str) -> None:
            writer.write(data)
            counts[kind] += 1
            if counts.total() % 64 == 0:
                await writer.drain()

        for _ in range(spec.garbage_frames):
            await put(encode_frame(rng.randbytes(rng.randrange(0, 600))), "garbage")
        other = next(i for i in self._honest if i != spec.target)
        for _ in range(spec.forged_frames):
            # A well-formed header claiming an honest sender, with a MAC we cannot compute.
            header = FRAME_HEADER.pack(VERSION, other, spec.target, rng.randrange(1, 1 << 40))
            body = header + rng.randbytes(rng.randrange(1, 200)) + rng.randbytes(MAC_SIZE)
            await put(encode_frame(body), "forged")
        payloads = _invalid_payloads(self.n, spec.from_node, other)
        sender = self._byzantine.actors[spec.from_node].senders[spec.target]
        for k in range(spec.invalid_frames):
            await put(encode_frame(sender.seal(payloads[k % len(payloads)])), "invalid")
        flood = _flood_messages(self.n, spec.from_node, rng)
        left = spec.flood_messages
        while left > 0:
            batch: list[object] = [next(flood) for _ in range(min(left, spec.flood_batch))]
            left -= len(batch)
            await put(encode_frame(sender.seal(pack_batch(batch))), "flood-frames")
            counts["flood"] += len(batch)
        await writer.drain()
        if spec.oversized:
            # The length prefix alone is over the limit: the node must close the stream.
            writer.write(LENGTH_PREFIX.pack(MAX_FRAME + 1) + bytes(4096))
            counts["oversized"] += 1
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
        self._stats.injected = dict(counts)
        self.trigger.clear()
        atomic_write_json(Path(spec.done_file), dict(counts))
        log.info("proxy: injection done: %s", dict(counts))
        if spec.hold_start:
            # Lets a test measure the target after the flood and before the run.
            await self.trigger.wait()
        self.done = True
        self._on_done()

    def stall_flood(self) -> None:
        """Test-only: ``stall_frames`` frames of about 1 MiB from a corrupted node to
        ``target``, scheduled like any relayed frame (the receiver drops them: one item
        that is not a message)."""
        spec = self.spec
        sender = self._byzantine.actors[spec.from_node].senders[spec.target]
        payload = pack_batch([bytes(MAX_FRAME - OVERHEAD - 16)])
        for _ in range(spec.stall_frames):
            self._schedule(spec.from_node, spec.target, [encode_frame(sender.seal(payload))], [], 0)
        self._stats.injected = {
            **self._stats.injected,
            "stall_frames": spec.stall_frames,
        }
        log.info(
            "proxy: %d frames of %d bytes for node %d",
            spec.stall_frames,
            len(payload) + OVERHEAD,
            spec.target,
        )


def _invalid_payloads(n: int, byz: int, other: int) -> list[bytes]:
    """Payloads with a valid Byzantine MAC whose contents every honest node must reject."""
    bad_items: list[object] = [
        ["x"],
        [9],
        [],
        {"a": 1},
        [3, 5],
        [3],
        [0, n + 5, 1, 0, 1, 1, 1, 0, None],  # origin out of range
        [0, byz, 0, 0, 1, 1, 1, 0, None],  # seq 0
        [0, byz, 1, 7, 1, 1, 1, 0, None],  # unknown item tag
        [0, byz, 1, 0, 1, 9, 1, 0, None],  # vote step 9
        [0, byz, 1, 0, 1, 1, 5, 0, None],  # value 5
        [0, byz, 1, 0, 1, 1, 1, 1 << (n + 1), None],  # support beyond n bits
        [0, byz, 1, 0, 1, 1, 1, 0, [1] * (n + 1)],  # view of the wrong length
        [0, byz, 1, 0, 1, 1, 1, 0, "view"],
        [1.5, byz, 1, 0, 1, 1, 1, 0, None],
    ]
    return [
        b"\xc1",  # a reserved msgpack type byte
        msgpack.packb({"not": "a batch"}),
        b"\xdd\xff\xff\xff\xff",  # an array header announcing 4 billion messages
        b"\x91" * 3000 + b"\x90",  # nesting deeper than msgpack allows
        pack_batch(bad_items * 40),  # 600 invalid messages in one frame
        # Well-formed messages the protocol must ignore:
        pack_batch([encode(RbcMsg(int(Kind.INITIAL), other, 1, Vote(1, 1, 1)))]),  # not origin
        pack_batch([encode(RbcMsg(int(Kind.ECHO), byz, 1 << 30, Vote(1, 1, 1)))]),  # far ahead
        pack_batch([encode(DecideMsg(1)), encode(DecideMsg(-1))]),  # a duplicate DECIDE
    ]


def _flood_messages(n: int, byz: int, rng: random.Random) -> Iterator[list[object]]:
    """Endless well-formed messages a Byzantine peer may send, aimed at an honest node's memory.

    Every one passes the wire decoder; what keeps the node bounded is node/: RBC instances
    are opened for every origin up to the window with a different value each time, others
    far beyond it, the peer's own stream claims far-future iterations and boards (items that
    wait for a validation that never comes), and DECIDEs repeat.
    """
    own_seq = 0
    while True:
        roll = rng.random()
        kind = rng.choice((int(Kind.ECHO), int(Kind.READY)))
        support = rng.getrandbits(n)
        if roll < 0.4:  # open instances of every origin, inside the window
            item = Vote(rng.randrange(1, 50), rng.randrange(1, 4), rng.choice((-1, 1)), support)
            yield encode(RbcMsg(kind, rng.randrange(n), rng.randrange(1, 5000), item))
        elif roll < 0.6:  # far beyond the window
            yield encode(
                RbcMsg(
                    kind,
                    rng.randrange(n),
                    rng.randrange(1 << 20, 1 << 39),
                    Vote(1, 1, 1, support),
                )
            )
        elif roll < 0.8:  # its own stream, iterations far ahead
            own_seq += 1
            yield encode(
                RbcMsg(
                    int(Kind.INITIAL),
                    byz,
                    own_seq,
                    Vote(rng.randrange(1000, 1 << 20), 1, 1, support),
                )
            )
        elif roll < 0.9:
            yield encode(
                RbcMsg(
                    kind,
                    byz,
                    rng.randrange(1, 5000),
                    Write(
                        rng.randrange(1000, 1 << 20),
                        rng.randrange(1, 9),
                        1,
                        support,
                        tuple(rng.randrange(1 << 30) for _ in range(n)),
                    ),
                )
            )
        else:
            yield encode(DecideMsg(rng.choice((-1, 1))))
