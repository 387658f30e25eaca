"""Footprint: how many nodes fit on this machine.

For each cluster size, bring a cluster up with ``run.py up -d`` (``--members`` etcd members, 3 by
default, the other nodes etcd proxies, as CoreOS recommends for large clusters), then print: time until every node is up,
resident memory per node process (median, max) and the CPU the whole cluster uses while idle over
``--idle`` seconds (percent of one core, all node processes and the supervisor together).

    python bench/scale.py                 # sizes 10 25 50
    python bench/scale.py --sizes 3 10 --idle 5
    python bench/scale.py --sizes 10 --members 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emulator.procstat import cpu_seconds

REPO = Path(__file__).resolve().parent.parent


def write_config(directory: Path, size: int, subnet: str, members: int) -> Path:
    lines = [
        f"cluster: scale-{size}",
        "seed: 1",
        "network:",
        f"  subnet: {subnet}",
        f"nodes: {size}",
        "overrides:",
    ]
    width = max(2, len(str(size)))
    for i in range(members + 1, size + 1):
        name = f"core-{i:0{width}d}"
        lines.append(f"  {name}: {{cloud-config: {{coreos: {{etcd2: {{proxy: 'on'}}}}}}}}")
    if size <= members:
        lines.pop()
    path = directory / f"scale-{size}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(size: int, idle_s: float, members: int, workdir: Path, index: int) -> dict:
    env = dict(os.environ, COREEMU_RUNS=str(workdir / "runs"), NO_COLOR="1")
    config = write_config(workdir, size, f"127.0.{200 + index}.0/24", members)
    started = time.monotonic()
    up = subprocess.Popen(
        [sys.executable, "run.py", "up", "-d", str(config), "--timeout", "300"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready_s = None
    report = None
    try:
        while time.monotonic() - started < 300:
            proc = cli(env, "status", "--json", timeout=30)
            if proc.returncode == 0:
                report = json.loads(proc.stdout)
                if all(n["state"] == "up" for n in report["nodes"]):
                    ready_s = time.monotonic() - started
                    break
            if up.poll() not in (None, 0):
                raise RuntimeError(f"run.py up failed: {up.stderr.read()}")
            time.sleep(0.2)
        up.wait(timeout=60)
        if ready_s is None:
            raise RuntimeError(f"{size} nodes not up in 300 s")
        time.sleep(2)  # let start-up work (elections, first heartbeats) finish before idling
        report = json.loads(cli(env, "status", "--json").stdout)
        pids = [n["pid"] for n in report["nodes"]]
        sup = report.get("supervisor_pid")
        rss = [rss_mb(p) for p in pids]
        everyone = pids + ([sup] if sup else [])
        before = sum(cpu_seconds(p) for p in everyone)
        t0 = time.monotonic()
        time.sleep(idle_s)
        used = sum(cpu_seconds(p) for p in everyone) - before
        elapsed = time.monotonic() - t0
    finally:
        cli(env, "down", timeout=120)
    roles = [n.get("role") for n in report["nodes"]]
    return {
        "nodes": size,
        "members": sum(r not in (None, "proxy") for r in roles),
        "proxies": roles.count("proxy"),
        "ready_s": ready_s,
        "rss_median_mb": statistics.median(rss),
        "rss_max_mb": max(rss),
        "idle_cpu_pct": 100 * used / elapsed,
        "idle_cpu_per_node_pct": 100 * used / elapsed / size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    parser.add_argument("--members", type=int, default=3, help="etcd members; the rest are proxies")
    args = parser.parse_args()
    if args.members < 1:
        parser.error("--members must be at least 1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="coreemu-scale-") as tmp:
        for i, size in enumerate(args.sizes):
            rows.append(measure(size, args.idle, args.members, Path(tmp), i))
            r = rows[-1]
            print(f"measured {size} nodes: ready in {r['ready_s']:.1f} s", file=sys.stderr)
    print(
        f"\ncoreemu footprint on {os.cpu_count()} cores (idle CPU over {args.idle:g} s; % of one core)"
    )
    header = f"{'nodes':>6} {'members':>8} {'proxies':>8} {'all ready':>10} {'RSS median':>11} {'RSS max':>8} {'idle CPU':>9} {'per node':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['nodes']:>6} {r['members']:>8} {r['proxies']:>8} {r['ready_s']:>9.1f}s {r['rss_median_mb']:>9.1f}MB {r['rss_max_mb']:>6.1f}MB"
            f" {r['idle_cpu_pct']:>8.2f}% {r['idle_cpu_per_node_pct']:>8.3f}%"
        )
    print(
        f"each cluster: {args.members} etcd members (Raft voters), every other node an etcd proxy"
    )
    print("targets: an idle node under 40 MB RSS and under 0.5 % of a core")
    ok = all(
        r["rss_max_mb"] < 40 and r["idle_cpu_per_node_pct"] < 0.5
        and r["members"] == min(args.members, r["nodes"])
        for r in rows
    )  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
