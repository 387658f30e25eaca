"""The feed: the view it builds from a status report, rates from counters, logs in order."""

from __future__ import annotations

import json

from emulator.control import ClusterStatus
from emulator.dashboard.feed import Feed
from emulator.supervisor_client import SupervisorUnavailable


def report(counters):
    nodes = [
        {"name": n, "state": "up", "role": "follower", "term": 1, "client_url": f"http://{n}"}
        for n in counters
    ]
    nodes[0]["role"] = "leader"
    return {"cluster": "t", "nodes": nodes, "active_faults": [], "link_rules": []}


class Script:
    """A stand-in supervisor and etcd: each sample advances every member's counters."""

    def __init__(self):
        self.gets = {"a": 0, "b": 0}
        self.sets = 0
        self.down = False

    def ask(self, msg):
        if self.down:
            raise SupervisorUnavailable("the cluster of /x is not running")
        return ClusterStatus(report(self.gets))

    def keys(self, url):
        return {"dir": True, "nodes": [{"key": "/k1"}, {"key": "/k2"}]}

    def stats(self, url):
        name = url.removeprefix("http://")
        return {"getsSuccess": self.gets[name], "setsSuccess": self.sets, "createFail": 0}


def test_rates_from_counters_taken_at_least_the_rate_span_apart(tmp_path, monkeypatch):
    script = Script()
    feed = Feed(tmp_path, ask=script.ask, store_stats=script.stats, keys=script.keys)
    clock = iter(range(0, 100))
    monkeypatch.setattr("emulator.dashboard.feed.time.monotonic", lambda: float(next(clock)))
    for _ in range(4):  # one sample a second: 10 reads on each member, 3 writes applied everywhere
        feed.sample()
        script.gets = {n: v + 10 for n, v in script.gets.items()}
        script.sets += 3
    rates = feed.view["etcd"]["rates"]
    assert [(r[1], r[2]) for r in rates] == [(20.0, 3.0), (20.0, 3.0)]
    assert feed.view["etcd"]["leader"] == "a" and feed.view["alive"]


def test_a_supervisor_gone_makes_a_dead_view_with_the_reason(tmp_path):
    script = Script()
    script.down = True
    feed = Feed(tmp_path, ask=script.ask, store_stats=script.stats, keys=script.keys)
    feed.sample()
    assert feed.view == {
        "alive": False,
        "report": None,
        "error": "the cluster of /x is not running",
    }


def test_logs_reach_a_waiting_page_in_order_with_sequence_numbers(tmp_path):
    (tmp_path / "nodes" / "core-01").mkdir(parents=True)
    log = tmp_path / "nodes" / "core-01" / "node.log"
    line = {"ts": 1.0, "node": "core-01", "actor": "raft", "level": "info", "event": "e1"}
    log.write_text(json.dumps({**line, "fields": {"term": 2}}) + "\n")
    script = Script()
    feed = Feed(tmp_path, ask=script.ask, store_stats=script.stats, keys=script.keys)
    feed.watching(+1)  # a page is open: the feed polls at its fast pace
    feed.start()
    try:
        _, _, logs, seq = feed.wait(-1, 0, 5)
        assert [(e["event"], e["text"], e["seq"]) for e in logs] == [("e1", "term=2", 1)]
        with log.open("a") as f:
            f.write(json.dumps({**line, "ts": 2.0, "event": "e2", "fields": {}}) + "\n")
        for _ in range(20):  # the feed polls the files; wait for the record, not for time
            _, _, logs, _ = feed.wait(feed.version, seq, 5)
            if logs:
                break
        assert [(e["event"], e["seq"]) for e in logs] == [("e2", 2)]
        assert feed.view["etcd"]["keys"] == 2  # counted on the leader while a page watches
    finally:
        feed.stop()
