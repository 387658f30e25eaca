"""A stored run checked offline (``run.py check``): results.json, exit code and report.html."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from histories import H

from emulator.checkers.rundata import check_run, exit_code
from emulator.report import write_report

REPO = Path(__file__).resolve().parents[2]


def make_run(tmp_path: Path, stale: bool) -> Path:
    run = tmp_path / "run"
    (run / "nodes" / "core-01").mkdir(parents=True)
    h = H().w(1, 1.0, 1.1).w(2, 1.2, 1.3, p=1).r(1 if stale else 2, 1.4, 1.5, p=2)
    h.r(2, 3.0, 3.1, p=3)  # the final read
    lines = [{"ts": 0, "mono": 100.0, "type": "run", "event": "start"}]
    lines.append({"ts": 0, "mono": 100.5, "type": "fault", "phase": "start", "id": 1,
                  "kind": "kill", "fault": "kill leader", "nodes": ["core-01"]})  # fmt: skip
    lines.append({"ts": 0, "mono": 100.5, "type": "node", "node": "core-01", "event": "killed"})
    lines.append({"ts": 0, "mono": 101.5, "type": "fault", "phase": "end", "id": 1,
                  "kind": "kill", "fault": "kill leader", "nodes": ["core-01"]})  # fmt: skip
    for o in h.ops:
        final = {"final": True} if o.process == 3 else {}
        lines.append({"ts": 0, "mono": 100 + o.invoke, "type": "op", "phase": "invoke", "op": o.id,
                      "process": o.process, "f": o.f, "key": "/scenario/k0",
                      "value": None if o.f == "read" else o.value, "node": "core-01", **final})  # fmt: skip
        lines.append({"ts": 0, "mono": 100 + o.complete, "type": "op", "phase": "complete",
                      "op": o.id, "outcome": "ok", **({"value": o.value} if o.f == "read" else {})})  # fmt: skip
    (run / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    samples = [{"ts": 0, "mono": 100 + t / 2, "faults": [], "nodes": {
        "core-01": {"state": "down" if 1 <= t < 3 else "up", "role": "leader", "term": 1 + (t >= 3)},
        "core-02": {"state": "up", "role": "follower", "term": 1}}} for t in range(8)]  # fmt: skip
    (run / "status.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    (run / "nodes" / "core-01" / "node.log").write_text(json.dumps(
        {"event": "raft.leader_changed", "fields": {"leader": "core-01", "term": 1}}) + "\n")  # fmt: skip
    (run / "leftover.json").write_text('{"pids": []}')
    scenario = {"scenario": "t", "seed": 1, "workload": {"keys": ["/scenario/k0"]},
                "checkers": ["linearizable", "writes-survive", "raft-invariants",
                             "no-processes-left"]}  # fmt: skip
    (run / "scenario.json").write_text(json.dumps(scenario))
    return run


def test_a_valid_run_exits_0(tmp_path):
    results, _ = check_run(make_run(tmp_path, stale=False))
    assert results["valid"] is True and exit_code(results["valid"]) == 0
    assert set(results["checkers"]) == {"linearizable", "writes-survive", "raft-invariants",
                                        "no-processes-left"}  # fmt: skip


def test_a_stale_read_is_invalid_with_its_counterexample(tmp_path):
    run = make_run(tmp_path, stale=True)
    results, _ = check_run(run)
    assert results["valid"] is False and exit_code(False) == 1
    lin = json.loads((run / "results.json").read_text())["checkers"]["linearizable"]
    assert lin["valid"] is False
    assert [o["id"] for o in lin["counterexample_ops"]] == [1, 2, 3]
    assert any("read()=1" in line for line in lin["counterexample"])


def test_the_report_is_one_self_contained_page(tmp_path):
    run = make_run(tmp_path, stale=True)
    results, _ = check_run(run)
    page = write_report(run, results).read_text()
    assert page.count("<svg") == 4  # timeline, latency, throughput, the ops of the violation
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)
    assert "core-01" in page and "kill leader" in page and "INVALID" in page
    assert "#3" in page  # the stale read, in the table of ops around the violation


def test_run_py_check_recomputes_the_verdict(tmp_path):
    run = make_run(tmp_path, stale=True)
    proc = subprocess.run([sys.executable, "run.py", "check", str(run)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot be ordered" in proc.stdout
    assert (run / "report.html").exists()


def test_a_stale_read_is_explained_in_words(tmp_path):
    results, _ = check_run(make_run(tmp_path, stale=True))
    why = results["checkers"]["linearizable"]["explanation"]
    assert why.startswith("stale read: #3 returned 1, written by #1, but #2 had replaced it")


def test_timeline_merges_samples_and_pairs_lock_holds():
    from emulator.report.timeline import lock_spans, node_segments

    samples = [{"mono": 10 + t, "nodes": {"a": {"state": s, "role": r, "term": 1}}}
               for t, (s, r) in enumerate([("up", "leader"), ("up", "leader"), ("down", None),
                                           ("up", "follower")])]  # fmt: skip
    segs = node_segments(samples, origin=10, end=5)["a"]
    assert [(s.start, s.end, s.state, s.role) for s in segs] == [
        (0, 2, "up", "leader"), (2, 3, "down", None), (3, 5, "up", "follower")]  # fmt: skip
    history = [{"type": "lock", "mono": 11, "nodes": ["a"]}, {"type": "lock", "mono": 13, "nodes": []},
               {"type": "lock", "mono": 14, "nodes": ["b"]}]  # fmt: skip
    spans = lock_spans(history, origin=10, end=9)
    assert [(s.start, s.end, s.nodes) for s in spans] == [(1, 3, ("a",)), (4, 9, ("b",))]
