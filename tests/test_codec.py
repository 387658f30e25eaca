"""The peer-port envelope: whatever bytes arrive, decode either returns an Envelope or rejects."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.heartbeat import Ping, Pong
from actors.raft.entries import ConfState, Entry, Snapshot
from emulator import codec, wire

TOKEN = "test-token"

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
entries = st.builds(
    Entry, st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 1), st.binary(max_size=64)
)
messages = st.one_of(
    st.builds(Ping, st.integers(0, 2**31), st.floats(allow_nan=False, allow_infinity=False)),
    st.builds(Pong, st.integers(0, 2**31), st.floats(allow_nan=False, allow_infinity=False)),
    entries,
    st.builds(
        Snapshot,
        st.integers(0, 2**40),
        st.integers(0, 2**40),
        st.builds(ConfState, st.lists(names, max_size=5).map(tuple)),
        st.binary(max_size=64),
    ),
)


@given(names, names, messages)
def test_round_trip(source, actor, msg):
    env = codec.Envelope(source, actor, msg)
    assert codec.decode(codec.encode(env, TOKEN), TOKEN) == env


@given(st.binary(max_size=512))
@settings(max_examples=500)
def test_random_bytes_are_rejected_never_raised_otherwise(data):
    try:
        env = codec.decode(data, TOKEN)
    except codec.FrameRejected:
        return
    # vanishingly unlikely, but if random bytes form a valid frame it must be a real Envelope
    assert isinstance(env, codec.Envelope)


def test_wrong_token_is_rejected():
    frame = codec.encode(codec.Envelope("core-01", "heartbeat", Ping(1, 0.5)), "other-cluster")
    with pytest.raises(codec.FrameRejected, match="token"):
        codec.decode(frame, TOKEN)


@pytest.mark.parametrize(
    "parts, reason",
    [
        ([2, TOKEN, "a", "b", "hb.Ping", (1, 0.0)], "protocol version"),
        ([1, TOKEN, "", "b", "hb.Ping", (1, 0.0)], "source"),
        ([1, TOKEN, "a", 7, "hb.Ping", (1, 0.0)], "actor"),
        ([1, TOKEN, "a", "b", "no.Such", (1, 0.0)], "unknown message type"),
        ([1, TOKEN, "a", "b", "hb.Ping", (1,)], "expected 2 fields"),
        ([1, TOKEN, "a", "b"], "6-element"),
        ("just a string", "6-element"),
    ],
)
def test_malformed_envelopes_name_the_problem(parts, reason):
    with pytest.raises(codec.FrameRejected, match=reason):
        codec.decode(wire.pack(parts), TOKEN)


def test_oversized_frame_is_rejected():
    with pytest.raises(codec.FrameRejected, match="exceeds"):
        codec.decode(b"\x00" * (codec.MAX_FRAME_BYTES + 1), TOKEN)


def test_nested_unknown_ext_type_is_rejected():
    import msgpack

    bad = msgpack.packb([1, TOKEN, "a", "b", "hb.Ping", (msgpack.ExtType(9, b"x"), 0.0)])
    with pytest.raises(codec.FrameRejected):
        codec.decode(bad, TOKEN)


@pytest.mark.parametrize(
    "nested, reason",
    [
        ([wire._TAG_EXT, b"no.Such", 1], "unknown message type 'no.Such'"),
        ([wire._TAG_EXT, b"raft.Entry", 1, 2, 3], "raft.Entry: expected 4 fields"),
    ],
)
def test_a_bad_message_nested_in_a_payload_is_rejected_with_its_name(nested, reason):
    import msgpack

    code, name, *fields = nested
    inner = [msgpack.ExtType(code, name), *fields]
    frame = msgpack.packb([1, TOKEN, "a", "b", "raft.Snapshot", (1, 2, inner, b"")])
    with pytest.raises(codec.FrameRejected, match=reason):
        codec.decode(frame, TOKEN)


def test_messages_nested_in_a_payload_decode_to_their_classes():
    snap = Snapshot(7, 2, ConfState(("n1", "n2")), b"data")
    got = wire.unpack(wire.pack([snap, Entry(2, 7, 0, b"x"), ("plain", 1)]))
    assert got == (snap, Entry(2, 7, 0, b"x"), ("plain", 1))
    assert type(got[0].conf) is ConfState and type(got[2]) is tuple
