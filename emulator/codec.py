"""The peer-port envelope: protocol version, cluster token, source, destination actor, message.

One frame on a peer port is ``pack([version, token, source, actor, type, fields])``. The codec
checks every part before anything reaches an actor; a frame that fails is a :class:`FrameRejected`
with a short reason the transport counts and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator import wire

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 << 20  # snapshots travel in one frame


class FrameRejected(ValueError):
    """A frame that must be dropped; ``str(exc)`` is the reason."""


@dataclass(slots=True)  # one per frame each way: a frozen __init__ costs a setattr call per field
class Envelope:
    source: str  # node name, or "_supervisor" / "_client" for control traffic
    actor: str  # destination actor name on the receiving node
    message: Any  # a registered wire message


def encode(envelope: Envelope, token: str) -> bytes:
    msg = envelope.message
    return wire.pack(
        [
            PROTOCOL_VERSION,
            token,
            envelope.source,
            envelope.actor,
            wire.wire_name(msg),
            wire.fields_of(msg),
        ]
    )


def decode(frame: bytes, token: str) -> Envelope:
    try:
        parts = wire.unpack(frame, MAX_FRAME_BYTES)
    except wire.WireError as exc:
        raise FrameRejected(str(exc)) from None
    if not isinstance(parts, tuple) or len(parts) != 6:
        raise FrameRejected("envelope is not a 6-element array")
    version, their_token, source, actor, type_name, fields = parts
    if version != PROTOCOL_VERSION:
        raise FrameRejected(f"protocol version {version!r}, expected {PROTOCOL_VERSION}")
    if their_token != token:
        raise FrameRejected("cluster token mismatch")
    if not isinstance(source, str) or not source:
        raise FrameRejected("source is not a name")
    if not isinstance(actor, str) or not actor:
        raise FrameRejected("destination actor is not a name")
    try:
        message = wire.build(type_name, fields)
    except wire.WireError as exc:
        raise FrameRejected(str(exc)) from None
    return Envelope(source, actor, message)
