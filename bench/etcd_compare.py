"""coreemu's etcd against real etcd 3.4, side by side on this machine.

Both clusters have 3 members on loopback addresses with etcd's default timing (heartbeat 100 ms,
election 1000 ms). The same HTTP load — v2 PUT and quorum GET of 100-byte values, sent to the
leader by ``wrk`` at concurrency 1, 16 and 64 — is run against each, then leader failover:
SIGKILL the leader during writes and time the first successful write after it (median of 5);
every acknowledged write is read back afterwards.

Needs Debian's etcd-server (real etcd) and wrk:  apt-get install etcd-server wrk
    python bench/etcd_compare.py                  # the full table
    python bench/etcd_compare.py --duration 3 --concurrency 1 16 --failovers 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VALUE = "v" * 100

WRK_SCRIPT = """
local n = 0
local method = os.getenv("BENCH_METHOD")
request = function()
  n = n + 1
  if method == "PUT" then
    return wrk.format("PUT", "/v2/keys/bench/" .. (n % 1000), {["Content-Type"]="application/x-www-form-urlencoded"}, "value=@VALUE@")
  end
  return wrk.format("GET", "/v2/keys/bench/" .. (n % 1000) .. "?quorum=true")
end
""".replace("@VALUE@", VALUE)


def http(method: str, url: str, data: dict | None = None, timeout: float = 2.0) -> tuple[int, dict]:
    body = urllib.parse.urlencode(data).encode() if data else None
    req = urllib.request.Request(url, data=body, method=method)
    if body:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}
    except (OSError, ValueError):
        return 0, {}


class Cluster:
    name = ""
    urls: dict[str, str]

    def leader(self) -> str | None:
        for name, url in self.urls.items():
            code, body = http("GET", url + "/v2/stats/self", timeout=1)
            if code == 200 and body.get("state") == "StateLeader":
                return name
        return None

    def wait_leader(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader:
                return leader
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no leader in {timeout} s")


class RealEtcd(Cluster):
    name = "etcd 3.4"

    def __init__(self, workdir: Path, subnet: str):
        self.binary = shutil.which("etcd")
        if not self.binary:
            raise SystemExit("real etcd not found: apt-get install etcd-server")
        self.workdir = workdir
        self.addrs = {f"etcd-{i}": f"{subnet}.{i}" for i in (1, 2, 3)}
        self.urls = {n: f"http://{a}:2379" for n, a in self.addrs.items()}
        self.procs: dict[str, subprocess.Popen] = {}
        self.initial = ",".join(f"{n}=http://{a}:2380" for n, a in self.addrs.items())

    def start(self, name: str, state: str = "new") -> None:
        a = self.addrs[name]
        log = open(self.workdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [
                self.binary,
                "--name",
                name,
                "--data-dir",
                str(self.workdir / name),
                "--enable-v2",
                "--listen-client-urls",
                f"http://{a}:2379",
                "--advertise-client-urls",
                f"http://{a}:2379",
                "--listen-peer-urls",
                f"http://{a}:2380",
                "--initial-advertise-peer-urls",
                f"http://{a}:2380",
                "--initial-cluster",
                self.initial,
                "--initial-cluster-token",
                "bench",
                "--initial-cluster-state",
                state,
            ],
            stdout=log,
            stderr=log,
        )

    def up(self) -> None:
        for name in self.addrs:
            self.start(name)

    def kill(self, name: str) -> float:
        killed_at = time.monotonic()
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()
        return killed_at

    def restart(self, name: str) -> None:
        self.start(name, state="existing")

    def down(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            p.wait(10)


class Coreemu(Cluster):
    name = "coreemu"

    def __init__(self, workdir: Path, subnet: str):
        self.config = workdir / "bench.yaml"
        self.config.write_text(
            f"cluster: bench\nseed: 1\nnetwork:\n  subnet: {subnet}.0/24\nnodes: 3\n"
        )
        self.env = dict(os.environ, COREEMU_RUNS=str(workdir / "runs"), NO_COLOR="1")
        self.urls = {f"core-0{i}": f"http://{subnet}.{i}:2379" for i in (1, 2, 3)}

    def cli(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "run.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"run.py {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    def up(self) -> None:
        self.cli("up", "-d", str(self.config))

    def kill(self, name: str) -> float:
        # SIGKILL from here, as for real etcd: going through run.py would add its own start-up
        # time between "killed" and the actual kill. The supervisor sees the node go down.
        status = json.loads(self.cli("status", "--json"))
        pid = next(n["pid"] for n in status["nodes"] if n["name"] == name)
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        return killed_at

    def restart(self, name: str) -> None:
        self.cli("fault", "restart", name)

    def down(self) -> None:
        self.cli("down")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def run_wrk(url: str, method: str, concurrency: int, duration: float, script: Path) -> dict:
    threads = min(2, concurrency)
    proc = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(concurrency),
            "-d",
            f"{duration:g}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, BENCH_METHOD=method),
        timeout=duration + 60,
    )
    out = proc.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+(\S+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": _ms(p50.group(1)) if p50 else float("nan"),
        "p99": _ms(p99.group(1)) if p99 else float("nan"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def failover(cluster: Cluster, rounds: int) -> dict:
    """Kill the leader during writes; time until a write succeeds again; check acked writes."""
    times = []
    acked: dict[str, str] = {}
    for r in range(rounds):
        leader = cluster.wait_leader()
        others = [n for n in cluster.urls if n != leader]
        stop = threading.Event()
        successes: list[tuple[float, float]] = []  # (sent, answered) of each acknowledged write

        def writer(
            target: str, r: int = r, stop: threading.Event = stop, successes: list = successes
        ) -> None:
            i = 0
            while not stop.is_set():
                key = f"/failover/{r}/{target}/{i}"
                sent = time.monotonic()
                code, _ = http(
                    "PUT", cluster.urls[target] + "/v2/keys" + key, {"value": str(i)}, timeout=2
                )
                if code in (200, 201):
                    acked[key] = str(i)
                    successes.append((sent, time.monotonic()))
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in others]
        for t in threads:
            t.start()
        time.sleep(1.0)
        killed_at = cluster.kill(leader)
        deadline = killed_at + 30
        # Only writes sent after the kill count: one in flight may have committed before it.
        while time.monotonic() < deadline and not any(sent > killed_at for sent, _ in successes):
            time.sleep(0.005)
        after = [done for sent, done in successes if sent > killed_at]
        stop.set()
        for t in threads:
            t.join()
        times.append(min(after) - killed_at if after else float("inf"))
        cluster.restart(leader)
        cluster.wait_leader()
        time.sleep(2)
    reader = cluster.urls[cluster.wait_leader()]
    lost = 0
    for key, value in acked.items():
        code, body = http("GET", reader + "/v2/keys" + key + "?quorum=true", timeout=5)
        if code != 200 or body.get("node", {}).get("value") != value:
            lost += 1
    return {"median_s": statistics.median(times), "all_s": times, "acked": len(acked), "lost": lost}


def bench(cluster: Cluster, args, script: Path) -> dict:
    cluster.up()
    try:
        leader = cluster.wait_leader()
        url = cluster.urls[leader]
        for i in range(1000):  # the keys the GET load reads
            http("PUT", f"{url}/v2/keys/bench/{i}", {"value": VALUE})
        results = {}
        for method in ("PUT", "GET"):
            for c in args.concurrency:
                results[(method, c)] = run_wrk(url, method, c, args.duration, script)
                print(
                    f"  {cluster.name} {method} c={c}: {results[(method, c)]['rps']:.0f} req/s",
                    file=sys.stderr,
                )
        results["failover"] = failover(cluster, args.failovers)
        return results
    finally:
        cluster.down()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--failovers", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="coreemu-bench-") as tmp:
        tmpdir = Path(tmp)
        script = tmpdir / "load.lua"
        script.write_text(WRK_SCRIPT)
        (tmpdir / "etcd").mkdir()
        ours = bench(Coreemu(tmpdir, "127.0.232"), args, script)
        real = bench(RealEtcd(tmpdir / "etcd", "127.0.233"), args, script)
    print(
        f"\nv2 API, 3 members, 100-byte values, wrk to the leader, {args.duration:g} s per run, {os.cpu_count()} cores"
    )
    header = f"{'load':<14}{'coreemu req/s':>14}{'p50 ms':>8}{'p99 ms':>8}   {'etcd req/s':>11}{'p50 ms':>8}{'p99 ms':>8}   {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for method in ("PUT", "GET"):
        for c in args.concurrency:
            a, b = ours[(method, c)], real[(method, c)]
            label = f"{'PUT' if method == 'PUT' else 'quorum GET'} c={c}"
            ratio = a["rps"] / b["rps"] if b["rps"] else float("nan")
            print(
                f"{label:<14}{a['rps']:>14.0f}{a['p50']:>8.2f}{a['p99']:>8.2f}   "
                f"{b['rps']:>11.0f}{b['p50']:>8.2f}{b['p99']:>8.2f}   {ratio:>6.2f}"
            )
    fo_a, fo_b = ours["failover"], real["failover"]
    print(
        f"{'failover':<14}{'median ' + format(fo_a['median_s'], '.2f') + ' s':>30}   "
        f"{'median ' + format(fo_b['median_s'], '.2f') + ' s':>27}"
    )
    print(
        f"  coreemu rounds: {', '.join(f'{t:.2f}' for t in fo_a['all_s'])} s; acked {fo_a['acked']}, lost {fo_a['lost']}"
    )
    print(
        f"  etcd    rounds: {', '.join(f'{t:.2f}' for t in fo_b['all_s'])} s; acked {fo_b['acked']}, lost {fo_b['lost']}"
    )
    print(
        "targets: PUT at c=64 >= 0.5x etcd; failover median <= 1.5 s; zero acknowledged writes lost"
    )
    return 0 if fo_a["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
