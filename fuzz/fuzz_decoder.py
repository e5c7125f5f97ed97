"""Coverage-guided fuzzing (atheris/libFuzzer) of everything between a TCP socket and node/.

    .venv/bin/python fuzz/fuzz_decoder.py -atheris_runs=200000   # or -max_total_time=60

Each input is treated as raw bytes arriving on a link: the frame decoder (length prefix,
size limit), the batch unpacker (msgpack with strict limits) and the protocol decoder
(`node.messages.decode`) must never raise, and every decoded message must then go through an
honest node without raising. Anything else is a crash that libFuzzer reports with the input.
A corpus of valid frames seeds the search so it starts from deep inside the format.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from byzlab.network.framing import (
        FrameDecoder,
        FrameError,
        encode_frame,
        pack_batch,
        unpack_batch,
    )
    from byzlab.node.agreement import HonestNode
    from byzlab.node.messages import DecodeError, Kind, RbcMsg, Vote, Write, decode, encode
    from byzlab.node.params import Params

N = 4
PARAMS = Params.practical(N, 1)


def one_input(data: bytes) -> None:
    node = HonestNode(0, PARAMS, protocol="hpz", input_value=1, rng=random.Random(0))
    node.start()
    decoder = FrameDecoder(max_frame=1 << 16)
    for chunk in decoder.feed(data):
        if isinstance(chunk, FrameError):
            return
        batch = unpack_batch(chunk, max_items=512, max_size=1 << 16)
        if isinstance(batch, FrameError):
            continue
        for obj in batch:
            msg = decode(obj, N)
            if isinstance(msg, DecodeError):
                continue
            node.receive(1, msg)


def seed_corpus() -> list[bytes]:
    msgs = [
        RbcMsg(int(Kind.INITIAL), 1, 1, Vote(1, 1, 1)),
        RbcMsg(int(Kind.ECHO), 2, 3, Write(2, 1, -1, view=(1, 2, 3, 4))),
        RbcMsg(int(Kind.READY), 3, 2, Vote(1, 2, 0, support=0b0111)),
    ]
    return [encode_frame(pack_batch([encode(m) for m in msgs]))]


def main() -> None:
    corpus = Path(__file__).with_name("corpus")
    corpus.mkdir(exist_ok=True)
    for i, frame in enumerate(seed_corpus()):
        (corpus / f"seed-{i}").write_bytes(frame)
    atheris.Setup([*sys.argv, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
