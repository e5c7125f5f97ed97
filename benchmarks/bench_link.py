"""What the authenticated link layer costs per frame and per message.

Run:  python benchmarks/bench_link.py [--repeat 51] [--run-ms 5]

Measures, each as the median (and the best) of ``--repeat`` short timed runs:

* ``seal`` / ``open``: LinkSender.seal (header + keyed BLAKE2b-128) and LinkReceiver.open
  (header checks, MAC check with compare_digest, anti-replay window) for payloads of 64 B,
  1 KiB and 16 KiB;
* msgpack ``pack_batch`` / ``unpack_batch`` of 100 small messages (tuples of 6 small ints,
  the shape of an RBC message);
* ``FrameDecoder.feed`` splitting a stream of 1 KiB frames;
* the whole path for one batch of 100 messages (pack, seal, frame, decode, open, unpack),
  per message;
* Ed25519 sign and verify of one 64-byte message (PyNaCl), the alternative we did not
  take: signing every message instead of MACing every frame;
* one-off X25519 key agreement plus both direction-key derivations for one link.

The point of the comparison: a signature costs per *message*, a MAC per *frame*, and
frames carry batches, so the per-message authentication cost drops by the batch size.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import msgpack
import nacl
import nacl.signing
from nacl.public import PrivateKey

from byzlab.network.auth import LinkFrame, LinkKeys, LinkReceiver, LinkSender
from byzlab.network.framing import FrameDecoder, encode_frame, pack_batch, unpack_batch

KEY = bytes(range(32))


def timed(
    make: Callable[[int], Callable[[], object]], repeat: int, run_seconds: float
) -> tuple[float, float]:
    """(median, best) seconds per operation over ``repeat`` short timed runs.

    ``make(number)`` prepares state for one run outside the clock and returns the body
    to call ``number`` times. ``number`` is calibrated so that a run lasts about
    ``run_seconds``: many short runs rather than a few long ones, so that on a shared
    machine some runs fall between other processes' time slices; ``best`` is then close
    to the cost on an idle core and ``median`` to what a busy machine sees.
    """
    number = 1
    while True:  # calibrate: grow until one run takes long enough to time
        body = make(number)
        start = time.perf_counter()
        for _ in range(number):
            body()
        elapsed = time.perf_counter() - start
        if elapsed >= run_seconds / 4 or number >= 1_000_000:
            break
        number *= 4
    number = max(1, int(number * run_seconds / max(elapsed, 1e-9)))
    samples = []
    for _ in range(repeat):
        body = make(number)
        start = time.perf_counter()
        for _ in range(number):
            body()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples), min(samples)


def bench_seal(size: int) -> Callable[[int], Callable[[], object]]:
    payload = bytes(size)

    def make(number: int) -> Callable[[], object]:
        sender = LinkSender(sender=0, receiver=1, key=KEY)
        return lambda: sender.seal(payload)

    return make


def bench_open(size: int) -> Callable[[int], Callable[[], object]]:
    payload = bytes(size)

    def make(number: int) -> Callable[[], object]:
        # Fresh frames and a fresh receiver per run: every open is a first delivery.
        sender = LinkSender(sender=0, receiver=1, key=KEY)
        bodies = iter([sender.seal(payload) for _ in range(number)])
        receiver = LinkReceiver(receiver=1, keys={0: KEY})

        def body() -> object:
            result = receiver.open(next(bodies))
            assert isinstance(result, LinkFrame)
            return result

        return body

    return make


SMALL_MESSAGES: list[object] = [(3, i % 64, i, 2, -1, 1) for i in range(100)]


def bench_pack(number: int) -> Callable[[], object]:
    return lambda: pack_batch(SMALL_MESSAGES)


def bench_unpack(number: int) -> Callable[[], object]:
    packed = pack_batch(SMALL_MESSAGES)
    return lambda: unpack_batch(packed, max_items=1024)


def bench_decode_1k(number: int) -> Callable[[], object]:
    # One op = one 1 KiB frame out of a stream fed in 64 KiB chunks.
    frame = encode_frame(bytes(1024))
    per_chunk = (64 * 1024) // len(frame)
    chunk = frame * per_chunk
    decoder = FrameDecoder()
    state = {"left": 0}

    def body() -> object:
        if state["left"] == 0:
            decoder.feed(chunk)
            state["left"] = per_chunk
        state["left"] -= 1
        return None

    return body


def bench_full_path(number: int) -> Callable[[], object]:
    """pack -> seal -> frame -> decode -> open -> unpack, for one 100-message batch."""
    sender = LinkSender(sender=0, receiver=1, key=KEY)
    receiver = LinkReceiver(receiver=1, keys={0: KEY})
    decoder = FrameDecoder()

    def body() -> object:
        wire = encode_frame(sender.seal(pack_batch(SMALL_MESSAGES)))
        (frame_body,) = decoder.feed(wire)
        assert isinstance(frame_body, bytes)
        frame = receiver.open(frame_body)
        assert isinstance(frame, LinkFrame)
        return unpack_batch(frame.payload)

    return body


SIGNING_KEY = nacl.signing.SigningKey.generate()
MESSAGE_64 = bytes(64)


def bench_sign(number: int) -> Callable[[], object]:
    return lambda: SIGNING_KEY.sign(MESSAGE_64)


def bench_verify(number: int) -> Callable[[], object]:
    signed = SIGNING_KEY.sign(MESSAGE_64)
    verify_key = SIGNING_KEY.verify_key
    return lambda: verify_key.verify(signed)


A, B = PrivateKey.generate(), PrivateKey.generate()


def bench_link_setup(number: int) -> Callable[[], object]:
    return lambda: LinkKeys.derive(
        me=0,
        peer=1,
        private_key=A,
        my_public=A.public_key,
        peer_public=B.public_key,
        run_id="bench",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=51, help="timed runs per row")
    parser.add_argument(
        "--run-ms", type=float, default=5.0, help="length of one timed run, in milliseconds"
    )
    args = parser.parse_args(argv)

    # (operation, size label, make, messages per op)
    rows: list[tuple[str, str, Callable[[int], Callable[[], object]], int]] = []
    for size, label in ((64, "64 B"), (1024, "1 KiB"), (16 * 1024, "16 KiB")):
        rows.append(("MAC seal (LinkSender.seal)", label, bench_seal(size), 1))
        rows.append(("MAC open (LinkReceiver.open)", label, bench_open(size), 1))
    n = len(SMALL_MESSAGES)
    batch_size = f"{len(pack_batch(SMALL_MESSAGES))} B"
    rows += [
        ("msgpack pack_batch, 100 msgs", batch_size, bench_pack, n),
        ("msgpack unpack_batch, 100 msgs", batch_size, bench_unpack, n),
        ("FrameDecoder.feed, per frame", "1 KiB", bench_decode_1k, 1),
        ("full path, 100-msg batch", "pack..unpack", bench_full_path, n),
        ("Ed25519 sign (per message)", "64 B", bench_sign, 1),
        ("Ed25519 verify (per message)", "64 B", bench_verify, 1),
        ("X25519 + derive link keys", "per link", bench_link_setup, 1),
    ]

    print(
        f"byzlab link-layer benchmark: Python {platform.python_version()}, "
        f"msgpack {'.'.join(map(str, msgpack.version))}, PyNaCl {nacl.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"us/op: median of {args.repeat} runs of ~{args.run_ms:g} ms; best: fastest run; "
        "ops/s and msgs/s from the median"
    )
    header = f"{'operation':<32} {'size':>12} {'us/op':>9} {'best':>9} {'ops/s':>11} {'msgs/s':>11}"
    print(header)
    print("-" * len(header))
    best_of: dict[tuple[str, str], float] = {}
    for name, label, make, msgs in rows:
        seconds, best = timed(make, args.repeat, args.run_ms / 1000)
        best_of[(name, label)] = best
        print(
            f"{name:<32} {label:>12} {seconds * 1e6:>9.2f} {best * 1e6:>9.2f} "
            f"{1 / seconds:>11,.0f} {msgs / seconds:>11,.0f}"
        )

    # Authentication cost per message, from the best runs (the cost of the operation
    # itself, not of sharing the CPU). A frame of 100 small messages is ~1 KiB.
    mac_frame = (
        best_of[("MAC seal (LinkSender.seal)", "1 KiB")]
        + best_of[("MAC open (LinkReceiver.open)", "1 KiB")]
    )
    sig = (
        best_of[("Ed25519 sign (per message)", "64 B")]
        + best_of[("Ed25519 verify (per message)", "64 B")]
    )
    print()
    print(
        f"authentication per message (best runs): Ed25519 sign+verify {sig * 1e6:.1f} us; "
        f"MAC seal+open of a 1 KiB frame {mac_frame * 1e6:.1f} us, "
        f"i.e. {mac_frame / n * 1e6:.3f} us per message at {n} messages per frame "
        f"({sig / (mac_frame / n):,.0f}x less)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
