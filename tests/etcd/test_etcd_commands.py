"""The replicated request on the wire."""

from __future__ import annotations

from actors.etcd.commands import Method, V2Request
from actors.etcd.v2api import Write
from emulator import wire


def test_requests_round_trip_through_the_wire_codec():
    for req in [
        Write("PUT", "/a", "v", prev_exist=False, ttl=5, prev_value="p", prev_index=3).stamped(
            "id", 10**18
        ),
        Write("DELETE", "/d", dir=True, recursive=True).stamped("id2", 5),
        V2Request.sync(123, "s"),
        V2Request.qget("q", "/x", True, True, 7),
    ]:
        assert wire.unpack(wire.pack(req)) == req


def test_sync_and_methods():
    sync = V2Request.sync(42)
    assert Method(sync.method) is Method.SYNC and sync.time_ns == 42 and sync.id == ""
    assert Method.PUT == "PUT" and {m.value for m in Method} == {
        "PUT",
        "POST",
        "DELETE",
        "QGET",
        "SYNC",
    }
