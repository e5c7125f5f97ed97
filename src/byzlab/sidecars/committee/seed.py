"""The public seed of a committee draw, from members' signatures (not in the paper).

The seed is public: :func:`public_seed` hashes a canonical encoding of the previous agreement's
decision, the agreement instance and the set of members' Ed25519 signatures (each member signs
:func:`seed_message` with ``nacl.signing``; Ed25519 is deterministic, so a member cannot grind
its share, only withhold it)::

    seed = BLAKE2b-256(person="byzlab-cseed-v1",
                       int64_be(previous_decision) || uint64_be(instance) ||
                       uint32_be(m) || (uint32_be(len(sig)) || sig  for sig in sorted(set(sigs))))

:mod:`byzlab.sidecars.committee.draw` turns the seed into a committee.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from byzlab.sidecars.committee.inputs import _check_int

SEED_PERSON = b"byzlab-cseed-v1"
SEED_MESSAGE_TAG = b"byzlab/committee-seed/v1"


def seed_message(previous_decision: int, instance: int) -> bytes:
    """The message each member signs to contribute to the seed of ``instance``."""
    dec = _check_int(previous_decision, "previous_decision", -(2**63), 2**63 - 1)
    inst = _check_int(instance, "instance", 0, 2**64 - 1)
    return SEED_MESSAGE_TAG + dec.to_bytes(8, "big", signed=True) + inst.to_bytes(8, "big")


def sign_seed_share(signing_key: SigningKey, previous_decision: int, instance: int) -> bytes:
    """A member's 64-byte Ed25519 signature on :func:`seed_message`."""
    return bytes(signing_key.sign(seed_message(previous_decision, instance)).signature)


def verify_seed_share(
    verify_key: VerifyKey, previous_decision: int, instance: int, signature: bytes
) -> bool:
    """Check one member's seed share; anyone can do this before accepting the seed."""
    try:
        verify_key.verify(seed_message(previous_decision, instance), bytes(signature))
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def public_seed(previous_decision: int, instance: int, signatures: Sequence[bytes]) -> bytes:
    """32-byte public seed: BLAKE2b over the canonical encoding described in the module doc.

    The signatures are treated as a set (sorted, duplicates removed, each length-prefixed),
    so the order in which they were collected does not matter.
    """
    msg = seed_message(previous_decision, instance)
    as_object: object = signatures
    if isinstance(as_object, bytes | bytearray | str):
        raise ValueError("signatures must be a sequence of bytes objects, not a single one")
    sigs = []
    for s in signatures:
        if not isinstance(s, bytes | bytearray) or len(s) == 0:
            raise ValueError("signatures must be non-empty bytes objects")
        sigs.append(bytes(s))
    if not sigs:
        raise ValueError("signatures must contain at least one signature")
    canon = sorted(set(sigs))
    h = hashlib.blake2b(digest_size=32, person=SEED_PERSON)
    h.update(msg[len(SEED_MESSAGE_TAG) :])
    h.update(len(canon).to_bytes(4, "big"))
    for s in canon:
        h.update(len(s).to_bytes(4, "big"))
        h.update(s)
    return h.digest()
