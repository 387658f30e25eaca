"""locksmithctl set-max 2 on a real rollout: two machines reboot at a time, never three."""

from __future__ import annotations

import json

import pytest
from rollout_config import stable_rollout

pytestmark = pytest.mark.cluster

CONFIG = stable_rollout(safe_mode=False)
KEY = "coreos.com/updateengine/rebootlock/semaphore"
FAKE = ("f" * 32, "e" * 32)  # two holders that are no machine: they keep the lock full


def settled(status) -> bool:
    return sum(n.get("role") == "leader" for n in status["nodes"]) == 1 and all(
        n["state"] == "up"
        and n.get("update_status") == "UPDATE_STATUS_IDLE"
        and (n.get("locksmith") or {}).get("phase") == "idle"
        for n in status["nodes"]
    )


def test_set_max_two_lets_two_reboot_at_a_time_never_three(cluster_factory):
    run = cluster_factory(4, CONFIG)
    run.up()
    run.wait_for(settled, timeout=40, what="the cluster settled")
    assert run.cli("locksmithctl", "set-max", "2").stdout == "Old-Max: 1\nMax: 2\n"
    for fake in FAKE:
        run.cli("locksmithctl", "lock", fake)
    run.cli("release", "publish", "--channel", "stable", "--version", "1.1.0")
    # every node installs it and waits for the lock, which the two fake holders keep full
    run.wait_for(
        lambda s: all(n.get("locksmith", {}).get("phase") == "waiting-lock" for n in s["nodes"]),
        timeout=60,
        what="all four waiting for the lock",
    )
    # free both slots in one write: the four race for two places
    run.cli("etcdctl", "set", KEY, '{"semaphore":2,"max":2,"holders":[]}')
    run.wait_for(
        lambda s: all(
            n["state"] == "up" and n.get("version") == "1.1.0" and n.get("lock_holder") is False
            for n in s["nodes"]
        ),
        timeout=90,
        what="all four on 1.1.0",
    )
    entries = [json.loads(x) for x in (run.run_dir / "history.jsonl").read_text().splitlines()]
    locks = [e for e in entries if e["type"] == "lock"]
    real = [[n for n in e["nodes"] if n.startswith("core-")] for e in locks]
    assert max(len(h) for h in real) == 2  # two at a time ...
    assert all(len(e["holders"]) <= 2 for e in locks)  # ... never three
    assert {n for h in real for n in h} == {"core-01", "core-02", "core-03", "core-04"}
