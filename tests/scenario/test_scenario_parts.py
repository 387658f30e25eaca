"""The scenario runner's pure parts: nemesis schedules, op picking, outcome classification,
and history appends from many threads and two processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from pathlib import Path

from emulator.checkers.ops import Outcome, ops_from_history, read_history
from emulator.etcdctl_client import Reply
from emulator.scenario.historylog import HistoryAppender
from emulator.scenario.model import Nemesis, TimedFault, Workload
from emulator.scenario.schedule import resolve
from emulator.scenario.workload import OpPicker, classify


def test_interval_schedule_cycles_and_ends_inside_the_phase():
    n = Nemesis(faults=({"kill": "leader"}, {"pause": "random"}), interval=5, duration=2, first=1)
    got = resolve(n, 14, random.Random(1))
    assert [(f.at, f.fault, f.duration) for f in got] == [
        (1, {"kill": "leader"}, 2), (6, {"pause": "random"}, 2), (11, {"kill": "leader"}, 2),
    ]  # fmt: skip


def test_random_pick_is_decided_by_the_seed():
    n = Nemesis(faults=({"kill": "a"}, {"kill": "b"}, {"kill": "c"}), interval=1, pick="random")
    one = resolve(n, 30, random.Random(7))
    assert one == resolve(n, 30, random.Random(7))
    assert len({f.fault["kill"] for f in one}) > 1


def test_timed_faults_are_merged_in_order():
    n = Nemesis(at=(TimedFault(9, {"kill": "x"}, 1), TimedFault(2, {"kill": "y"}, None),
                    TimedFault(50, {"kill": "z"}, 1)))  # fmt: skip
    assert [f.at for f in resolve(n, 20, random.Random(1))] == [2, 9]


def test_picker_sends_cas_only_with_a_known_value_and_writes_unique_values():
    w = Workload(keys=1, mix={"cas": 1.0})
    p = OpPicker(w, ["core-01"], random.Random(1), process=3)
    assert p.next({}).f == "write"  # nothing known to compare with
    op = p.next({"/scenario/k0": 3000001})
    assert op.f == "cas" and op.value == (3000001, 3000002)


def _reply(status: int, body: dict) -> Reply:
    return Reply(status, {"X-Etcd-Index": "5"}, json.dumps(body).encode())


def test_classify_tells_certain_failures_from_unknown_outcomes():
    ok_read = _reply(200, {"action": "get", "node": {"key": "/k", "value": "7"}})
    assert classify("read", ok_read, None) == (Outcome.OK, "7", "")
    missing = _reply(404, {"errorCode": 100, "message": "Key not found", "cause": "/k", "index": 5})
    assert classify("read", missing, None)[:2] == (Outcome.OK, None)
    compare = _reply(412, {"errorCode": 101, "message": "Compare failed", "cause": "", "index": 5})
    assert classify("cas", compare, None)[0] is Outcome.FAIL
    timeout = _reply(500, {"errorCode": 300, "message": "Raft Internal Error", "cause": "",
                           "index": 5})  # fmt: skip
    assert classify("write", timeout, None)[0] is Outcome.INFO
    assert classify("write", None, ConnectionRefusedError())[0] is Outcome.FAIL
    assert classify("write", None, TimeoutError())[0] is Outcome.INFO
    assert classify("read", None, TimeoutError())[0] is Outcome.FAIL


_CHILD = """
import sys
from pathlib import Path
from emulator.scenario.historylog import HistoryAppender
h = HistoryAppender(Path(sys.argv[1]))
for i in range(2000):
    h.record("fault", phase="start", id=i, pad="y" * 300)
"""


def test_appends_from_threads_and_another_process_never_interleave(tmp_path):
    path = tmp_path / "history.jsonl"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)],
                             cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    h = HistoryAppender(path)

    def client(p: int) -> None:
        for i in range(300):
            h.record("op", phase="invoke", op=p * 1000 + i, process=p, f="write", key="k",
                     value=i, node="core-01", pad="x" * 200)  # fmt: skip
            h.record("op", phase="complete", op=p * 1000 + i, process=p, outcome="ok")

    threads = [threading.Thread(target=client, args=(p,)) for p in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert child.wait(60) == 0
    h.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 8 * 600 + 2000
    entries = [json.loads(line) for line in lines]  # every line whole
    assert len(read_history(path)) == len(entries)
    ops = ops_from_history(entries)
    assert len(ops) == 2400 and all(o.outcome is Outcome.OK for o in ops)
