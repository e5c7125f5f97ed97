"""The side channel between an honest node and the proxy: its vocabulary and its limits.

Frames addressed to the proxy's own id ``n`` (and the proxy's frames to a node) carry
control items instead of protocol messages: msgpack dicts with a key ``"t"``. They are
MAC'd like every frame, with K(node->n) and K(n->node), so the proxy knows which node said
what and a node knows the proxy said it. A node says hello first on every connection and
sends its state snapshots (``HonestNode.snapshot()``); the proxy says when the run starts,
when it is over, and when the adversary has taken the node over.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["CORRUPTED", "DONE", "HELLO", "HELLO_MAX_FRAME", "SNAPSHOT", "START", "clean_snapshot"]

HELLO = "hello"  # node -> proxy, first frame on every connection
SNAPSHOT = "snap"  # node -> proxy, {"t": "snap", "s": HonestNode.snapshot()}
START = "start"  # proxy -> node: every honest node is connected, begin the protocol
DONE = "done"  # proxy -> node: every honest node has halted, the run is over
# proxy -> node: the adversary took this node over (adaptive corruption) and runs it from
# now on with its keys; the process stops, and nothing it sends is relayed any more
CORRUPTED = "corrupted"
# The largest first frame (the hello) the proxy reads from a connection it has not
# authenticated yet. A hello is about 200 bytes; the largest snapshot ``clean_snapshot``
# accepts (64 keys, 64-character strings) packs to under 9 KiB.
HELLO_MAX_FRAME = 16 * 1024

_SNAPSHOT_MAX_KEYS = 64
_SNAPSHOT_MAX_STR = 64
_SNAPSHOT_INT_LIMIT = 1 << 63


def clean_snapshot(obj: object) -> dict[str, Any] | None:
    """A snapshot dict with small primitive values, or None if ``obj`` is not one.

    Snapshots come from whoever holds a node's key and end up in JSON files (the proxy's
    statistics, ``proxy-stats.json``), so only what JSON can carry is let through: at most
    64 string keys of at most 64 characters, values None, bool, 64-bit integers, *finite*
    floats (NaN and Infinity are not JSON) and strings of at most 64 characters.
    """
    if not isinstance(obj, dict) or len(obj) > _SNAPSHOT_MAX_KEYS:
        return None
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if not isinstance(k, str) or len(k) > _SNAPSHOT_MAX_STR:
            return None
        if isinstance(v, str):
            if len(v) > _SNAPSHOT_MAX_STR:
                return None
        elif isinstance(v, float):
            if not math.isfinite(v):
                return None
        elif isinstance(v, int) and not isinstance(v, bool):
            if not -_SNAPSHOT_INT_LIMIT <= v < _SNAPSHOT_INT_LIMIT:
                return None
        elif v is not None and not isinstance(v, bool):
            return None
        out[k] = v
    return out
