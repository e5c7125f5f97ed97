"""Authenticated links: per-direction keys and a MAC with a sequence number on every frame.

Theory of operation
-------------------
HPZ works with *authenticated asynchronous channels*: the adversary decides when (and in
which order) each message is delivered, but it cannot make an honest node appear to have
sent something it did not send. Over TCP all frames pass through the adversary's proxy,
which sees, delays, reorders and may even duplicate or corrupt bytes; this module makes
sure the only things the proxy can still do are the ones the model allows it.

Keys. Every node ``i`` has a long-term X25519 key pair (``keys.py``). For an ordered pair
``(s, r)`` both ends compute the same Diffie-Hellman secret ``q = X25519(sk_s, pk_r) =
X25519(sk_r, pk_s)`` and derive the *direction* key

    K(s->r) = BLAKE2b-256(key=q, person="byzlab-link-v1",
                          len(run_id) || run_id || s || r || pk_s || pk_r)

Binding the direction ``(s, r)`` means a frame from ``s`` to ``r`` cannot be reflected
back as a frame from ``r`` to ``s``; binding the run id means frames recorded in one run
fail the MAC in every other run, even if keys were reused; binding both public keys ties
the key to the identities (as libsodium's ``crypto_kx`` does). Only ``s``, ``r`` and the
adversary holding a corrupted ``s`` or ``r`` know ``K(s->r)``; with a MAC under that key
nobody else can produce a frame that ``r`` accepts as coming from ``s``.

Frame body (the unit the length-prefixed framing in ``framing.py`` carries; its header
layout, ``FRAME_HEADER``, is defined there)::

    offset  size  field
    0       1     version = 1
    1       4     sender id     (u32, big-endian)
    5       4     receiver id   (u32, big-endian)
    9       8     sequence no.  (u64, big-endian; 1, 2, 3, ... per direction)
    17      L     payload       (a msgpack batch, see framing.pack_batch)
    17+L    16    MAC = BLAKE2b-128(key=K(sender->receiver), person="byzlab-link-v1",
                                    bytes 0 .. 17+L)

The MAC covers the whole header and payload; the payload length is implied by the frame
length, so truncating or extending a frame changes the MACed bytes too.

Why a MAC per frame and not an Ed25519 signature per message. A signature would also give
*transferability* (a third node could check that ``s`` said something), but HPZ does not
need it: every protocol message travels on one point-to-point link, and reliable
broadcast (Bracha) is what stops equivocation, not signatures. And signatures are paid
per *message*, on a path where a node handles O(n^2) messages per RBC instance:
``benchmarks/bench_link.py`` measured PyNaCl Ed25519 at ~19 us to sign plus ~46 us to
verify one message, while sealing plus opening a 1 KiB frame holding a hundred batched
messages costs ~4.6 us, i.e. ~0.05 us per message: three orders of magnitude less (best
runs on a 2-vCPU VM).
The link key is symmetric, so the receiver could forge frames *to itself* from ``s``;
that gives it nothing, since it is the only one who would believe them. (CPython's
BLAKE2b is not vectorised: above ~3 KiB per frame, HMAC-SHA256 on a CPU with SHA
extensions is faster, 1.6x at 16 KiB; at 1 KiB keyed BLAKE2b is 1.5x faster, and at
256 B 3x. Our frames are batches of small messages, mostly below that crossover.)

Replay and reordering. The proxy may replay a captured frame; the receiver must accept
each frame at most once. The naive check "seq strictly greater than the last accepted"
would also drop honest frames the proxy merely *reordered*, which the model allows and
which would then be lost for good (a loss the model does *not* allow). So we use an
anti-replay window as in IPsec (RFC 4303 section 3.4.3): per sender we remember the
highest accepted ``top`` and which of the last ``window`` sequence numbers were
accepted. A frame with ``seq > top`` is new; one with ``top - window < seq <= top`` is
accepted if its slot is unmarked; anything older is rejected as ``STALE`` because we can
no longer tell whether we saw it. The slots are a ring of ``window`` u64 entries holding
the sequence number last accepted in that slot (``seen <=> slots[seq % window] == seq``),
so every check is O(1) with no bitmap shifting. This gives: every frame accepted at most
once; every frame reordered by less than ``window`` frames of the same direction accepted
exactly once. Consequence for the proxy: it must not hold a frame back behind ``window``
or more later frames of the same (sender, receiver) direction, or the frame is dropped
as ``STALE``. ``REPLAY_WINDOW`` is 4096 frames, i.e. 32 KiB of state per sender.

Order of checks, and why. Header fields are checked before the MAC only to select the
key (an unknown sender has no key); the window is updated only *after* the MAC verified,
otherwise a forged frame with a huge sequence number would slide the window and make the
receiver drop honest frames. Nothing here raises on hostile input: every rejection is a
``Reject`` value and is counted, the frame is dropped, the loop goes on.

Not handled here: a node restarting mid-run starts again at sequence number 1 and all its
frames are rejected as replays (a restarted node process rejoins as crashed, see
``network/tcp/incarnation.py``); restarts would need a fresh run id (new keys). A
*receiver* restarting forgets its window: the proxy, which does restart within a run, keeps
the sequence number of each node's latest hello in its statistics file and refuses older
hellos (``adversary/proxy/sidechannel.py``); the frames between nodes need nothing more, since
node processes do not restart.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import nacl.bindings
import nacl.exceptions
from nacl.public import PrivateKey, PublicKey

from byzlab.network.framing import FRAME_HEADER, HEADER_SIZE, MAC_SIZE, OVERHEAD, VERSION
from byzlab.network.keys import Roster

__all__ = [
    "MAX_NODE_ID",
    "REPLAY_WINDOW",
    "LinkFrame",
    "LinkKeys",
    "LinkReceiver",
    "LinkSender",
    "Reject",
    "derive_link_key",
    "link_keys_for",
    "shared_secret",
]

KEY_SIZE = 32
MAX_NODE_ID = 2**32 - 1
MAX_SEQ = 2**64 - 1
REPLAY_WINDOW = 4096
_PERSON = b"byzlab-link-v1"  # BLAKE2b personalisation: domain separation from other uses


class Reject(enum.Enum):
    """Why a frame body was dropped. Each is evidence about the link, never an exception."""

    TRUNCATED = "truncated"  # shorter than header + MAC
    MALFORMED = "malformed"  # unknown version byte
    WRONG_RECEIVER = "wrong_receiver"  # addressed to someone else
    WRONG_SENDER = "wrong_sender"  # claims a sender we have no link with
    BAD_MAC = "bad_mac"  # altered, forged, wrong direction or wrong run
    REPLAY = "replay"  # authentic, but this sequence number was already accepted
    STALE = "stale"  # authentic, but older than the anti-replay window


class LinkFrame(NamedTuple):
    """An accepted frame: authentic, addressed to us, and not seen before.

    A NamedTuple rather than a frozen dataclass because one is built per received frame
    and a frozen dataclass's ``__init__`` (``object.__setattr__`` per field) costs more
    than the MAC check of a small frame.
    """

    sender: int
    receiver: int
    seq: int
    payload: bytes


def shared_secret(private_key: PrivateKey, peer_public: PublicKey) -> bytes:
    """Raw X25519 shared secret; the same for ``(sk_a, pk_b)`` and ``(sk_b, pk_a)``.

    Raises ``ValueError`` for a low-order peer key (the result would be all zeros and
    known to everyone); libsodium detects that case.
    """
    try:
        return bytes(nacl.bindings.crypto_scalarmult(bytes(private_key), bytes(peer_public)))
    except nacl.exceptions.CryptoError as exc:
        raise ValueError("peer public key is invalid (low-order X25519 point)") from exc


def derive_link_key(
    secret: bytes,
    *,
    run_id: str,
    sender: int,
    receiver: int,
    sender_public: PublicKey,
    receiver_public: PublicKey,
) -> bytes:
    """The 32-byte MAC key for frames from ``sender`` to ``receiver`` (one direction)."""
    if len(secret) != KEY_SIZE:
        raise ValueError(f"shared secret must be {KEY_SIZE} bytes, got {len(secret)}")
    _check_id("sender", sender)
    _check_id("receiver", receiver)
    run = run_id.encode()
    if len(run) > 0xFFFF:
        raise ValueError("run id too long")
    # Length-prefixing the only variable-length field keeps the encoding injective.
    context = (
        struct.pack("!H", len(run))
        + run
        + struct.pack("!II", sender, receiver)
        + bytes(sender_public)
        + bytes(receiver_public)
    )
    return hashlib.blake2b(context, key=secret, digest_size=KEY_SIZE, person=_PERSON).digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkKeys:
    """Both direction keys of the link between ``me`` and ``peer``."""

    me: int
    peer: int
    send_key: bytes  # K(me -> peer)
    recv_key: bytes  # K(peer -> me)

    @classmethod
    def derive(
        cls,
        *,
        me: int,
        peer: int,
        private_key: PrivateKey,
        my_public: PublicKey,
        peer_public: PublicKey,
        run_id: str,
    ) -> LinkKeys:
        secret = shared_secret(private_key, peer_public)
        send = derive_link_key(
            secret,
            run_id=run_id,
            sender=me,
            receiver=peer,
            sender_public=my_public,
            receiver_public=peer_public,
        )
        recv = derive_link_key(
            secret,
            run_id=run_id,
            sender=peer,
            receiver=me,
            sender_public=peer_public,
            receiver_public=my_public,
        )
        return cls(me=me, peer=peer, send_key=send, recv_key=recv)


def link_keys_for(me: int, private_key: PrivateKey, roster: Roster) -> dict[int, LinkKeys]:
    """Keys of every link of node ``me`` (including ``me -> me``), indexed by peer.

    Checks that ``private_key`` is the roster's key for ``me``: deriving keys from the
    wrong file would otherwise show up only as BAD_MAC on every link.
    """
    if not 0 <= me < roster.n:
        raise ValueError(f"node {me} is not in the roster (n={roster.n})")
    my_public = roster.public_keys[me]
    if bytes(private_key.public_key) != bytes(my_public):
        raise ValueError(f"private key does not match the roster's public key for node {me}")
    return {
        peer: LinkKeys.derive(
            me=me,
            peer=peer,
            private_key=private_key,
            my_public=my_public,
            peer_public=peer_public,
            run_id=roster.run_id,
        )
        for peer, peer_public in enumerate(roster.public_keys)
    }


def _check_id(name: str, value: int) -> None:
    if not 0 <= value <= MAX_NODE_ID:
        raise ValueError(f"{name} id must be in 0..{MAX_NODE_ID}, got {value}")


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"link key must be {KEY_SIZE} bytes, got {len(key)}")


class LinkSender:
    """Seals payloads for one direction ``sender -> receiver``.

    Not thread-safe; one instance per direction, owned by the task writing that link.
    """

    __slots__ = ("_mac", "_next_seq", "receiver", "sender")

    def __init__(self, *, sender: int, receiver: int, key: bytes, first_seq: int = 1) -> None:
        _check_id("sender", sender)
        if not 1 <= first_seq <= MAX_SEQ:
            raise ValueError(f"first_seq must be in 1..{MAX_SEQ}, got {first_seq}")
        _check_id("receiver", receiver)
        _check_key(key)
        self.sender = sender
        self.receiver = receiver
        # Keyed BLAKE2b state prepared once; .copy() per frame skips re-hashing the key
        # block, which makes short frames ~2x cheaper than constructing a keyed hash.
        self._mac = hashlib.blake2b(key=key, digest_size=MAC_SIZE, person=_PERSON)
        # 0 is never valid: the receiver treats it as already seen. A sender that restarts
        # within a run (the proxy's corrupted nodes) starts above every seq it used before.
        self._next_seq = first_seq

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def seal(self, payload: bytes) -> bytes:
        """The frame body carrying ``payload``, with the next sequence number and a MAC."""
        seq = self._next_seq
        if seq > MAX_SEQ:
            # 2^64 frames is not reachable in practice; wrapping would re-open old slots.
            raise OverflowError("sequence numbers exhausted on this link")
        self._next_seq = seq + 1
        header = FRAME_HEADER.pack(VERSION, self.sender, self.receiver, seq)
        h = self._mac.copy()
        h.update(header)
        h.update(payload)
        return b"".join((header, payload, h.digest()))


class _SenderState:
    """What a receiver keeps per sender: the prepared MAC and the anti-replay window."""

    __slots__ = ("mac", "slots", "top")

    def __init__(self, key: bytes) -> None:
        self.mac = hashlib.blake2b(key=key, digest_size=MAC_SIZE, person=_PERSON)
        self.top = 0
        # Allocated on the first authentic frame, so senders that never talk cost nothing.
        self.slots: array[int] | None = None


class LinkReceiver:
    """Verifies frame bodies addressed to ``receiver`` from a known set of senders.

    ``keys`` maps each sender we accept frames from to ``K(sender -> receiver)``. Use one
    receiver for a node's single connection to the proxy (all senders), or one per
    point-to-point link (a single sender); the checks are the same.
    """

    __slots__ = ("_senders", "_window", "accepted", "receiver", "rejected")

    def __init__(
        self, *, receiver: int, keys: Mapping[int, bytes], window: int = REPLAY_WINDOW
    ) -> None:
        _check_id("receiver", receiver)
        if window < 1:
            raise ValueError(f"replay window must be at least 1, got {window}")
        self.receiver = receiver
        self._window = window
        self._senders: dict[int, _SenderState] = {}
        for sender, key in keys.items():
            _check_id("sender", sender)
            _check_key(key)
            self._senders[sender] = _SenderState(key)
        self.accepted = 0
        self.rejected: Counter[Reject] = Counter()

    @property
    def window(self) -> int:
        return self._window

    @property
    def rejected_total(self) -> int:
        return self.rejected.total()

    def open(self, body: bytes | bytearray | memoryview) -> LinkFrame | Reject:
        """Check one frame body; return the accepted frame or the reason it was dropped."""
        reason = self._check(body)
        if isinstance(reason, Reject):
            self.rejected[reason] += 1
        else:
            self.accepted += 1
        return reason

    def _check(self, body: bytes | bytearray | memoryview) -> LinkFrame | Reject:
        size = len(body)
        if size < OVERHEAD:
            return Reject.TRUNCATED
        version, sender, receiver, seq = FRAME_HEADER.unpack_from(body)
        if version != VERSION:
            return Reject.MALFORMED
        if receiver != self.receiver:
            return Reject.WRONG_RECEIVER
        state = self._senders.get(sender)
        if state is None:
            return Reject.WRONG_SENDER
        view = memoryview(body)
        end = size - MAC_SIZE
        h = state.mac.copy()
        h.update(view[:end])
        if not hmac.compare_digest(h.digest(), view[end:]):
            return Reject.BAD_MAC
        # Authentic from here on: only now may the frame touch the replay state.
        window = self._window
        if seq <= state.top - window:
            return Reject.STALE
        slots = state.slots
        if slots is None:
            # All zeros: sequence number 0 counts as already seen, as it should.
            slots = state.slots = array("Q", bytes(8 * window))
        i = seq % window
        if slots[i] == seq:
            return Reject.REPLAY
        # A different value in the slot is a sequence number >= window away from seq, so
        # it is not seq itself (see the module docstring): seq was never accepted.
        slots[i] = seq
        if seq > state.top:
            state.top = seq
        return LinkFrame(sender, receiver, seq, bytes(view[HEADER_SIZE:end]))
