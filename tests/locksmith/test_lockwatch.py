"""The supervisor's watch of the reboot lock: how it asks again after a watch that failed.

Nodes are fakes that raise the errors a real ``V2Client`` raised against a socket that never
answers (a quiet long poll, or a paused node) and one that refuses; the watch loop runs in the
test's thread, and its pauses are recorded instead of slept.
"""

from __future__ import annotations

import socket
import threading

import pytest

from actors.locksmith.lockwatch import RETRY_S, LockWatch
from actors.locksmith.semaphore import KEY_PREFIX
from emulator.etcdctl_client import ClusterError, KeysResponse, V2Client

SNAPSHOT_INDEX = 7


def error_from(sock: socket.socket) -> ClusterError:
    """What a real client raises when it asks the endpoint behind ``sock``."""
    host, port = sock.getsockname()
    client = V2Client([f"http://{host}:{port}"], timeout=0.05)
    with pytest.raises(ClusterError) as info:
        client.request("GET", "/v2/keys/" + KEY_PREFIX, {"wait": "true"})
    return info.value


@pytest.fixture
def quiet_error() -> ClusterError:
    """A listener that takes the connection (the kernel does) and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return error_from(sock)


@pytest.fixture
def refused_error() -> ClusterError:
    """A bound port with no listener: the connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return error_from(sock)


class Pauses(threading.Event):
    """The watch's stop event, recording each pause instead of sleeping it."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.taken.append(timeout)
        return self.is_set()


class FakeNode:
    """A node whose snapshot read is empty and whose every watch fails with ``error``."""

    def __init__(self, name: str, error: Exception, log: list[tuple[str, str]], stop: Pauses):
        self.name, self.error, self.log, self.stop = name, error, log, stop

    def get(self, key: str, **_: bool) -> KeysResponse:
        return KeysResponse("get", {"key": "/" + key, "dir": True}, None, SNAPSHOT_INDEX)

    def request(self, method: str, path: str, query: dict[str, str]) -> None:
        self.log.append((self.name, query["waitIndex"]))
        if len(self.log) == 3:
            self.stop.set()
        raise self.error


def watch_until_three_asks(tmp_path, error: Exception) -> tuple[list[tuple[str, str]], Pauses]:
    watch = LockWatch(["http://a", "http://b"], tmp_path)
    pauses, asked = Pauses(), []
    watch._stopping = pauses
    watch.clients = [FakeNode(n, error, asked, pauses) for n in ("a", "b")]
    watch.run()
    watch.history.close()
    return asked, pauses


def test_the_client_reports_a_quiet_long_poll_as_timed_out(quiet_error, refused_error):
    assert quiet_error.timed_out
    assert not refused_error.timed_out


def test_a_quiet_watch_is_asked_again_at_once_from_the_same_index(tmp_path, quiet_error):
    asked, pauses = watch_until_three_asks(tmp_path, quiet_error)
    watch_index = str(SNAPSHOT_INDEX + 1)
    # the next node each time: a paused node, too, only times out, and must not hold the watch
    assert asked == [("a", watch_index), ("b", watch_index), ("a", watch_index)]
    assert pauses.taken == []  # no RETRY_S pause


def test_a_refused_watch_waits_before_it_asks_the_next_node(tmp_path, refused_error):
    asked, pauses = watch_until_three_asks(tmp_path, refused_error)
    assert [name for name, _ in asked] == ["a", "b", "a"]
    assert pauses.taken == [RETRY_S] * 3
