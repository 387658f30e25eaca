"""coreemu's etcd against real etcd 3.4, side by side on this machine.

Both clusters have 3 members on loopback addresses with etcd's default timing (heartbeat 100 ms,
election 1000 ms). The same HTTP load — v2 PUT and quorum GET of 100-byte values, sent to the
leader by ``wrk`` at concurrency 1, 16 and 64 — is run against each, then leader failover.

Like with like:
* etcd 3.4 serves a v2 ``?quorum=true`` GET through the Raft log (QGET); coreemu uses ReadIndex
  by default. Both are shown, labelled, plus a row with coreemu's log-read mode
  (``COREEMU_QUORUM_READS=log``, a second coreemu cluster) against the same etcd figures.
* Every row shows its errors (non-2xx answers plus socket errors from wrk); a row with more than
  0.1 % errors is marked INVALID and fails the run.
* Failover is timed the same way for both: the same Python client (short timeout, retries) writes
  through the surviving members, the leader is SIGKILLed by pid, and only writes sent after the
  kill count; median and max of N rounds. Every acknowledged write is read back afterwards.
* Both snapshot the keyspace every 10,000 applied entries: coreemu's default (etcd 2's, as on
  CoreOS), passed to etcd 3.4 as ``--snapshot-count`` (its own default is 100,000), so both do
  the same snapshot work in a run. (A coreemu member's pause for one is logged as
  ``member.snapshot`` with ``took_ms``.)
* The exit status is 0 only when every printed target is met.
* CPU per request of each member's process (from /proc), leader and followers: on a shared
  machine whose speed drifts, it moves far less than req/s does.

Needs Debian's etcd-server (real etcd) and wrk:  apt-get install etcd-server wrk
    python bench/etcd_compare.py                  # the full table
    python bench/etcd_compare.py --duration 1 --concurrency 1 --failovers 1   # smoke size
    python bench/etcd_compare.py --breakdown      # also: where a coreemu write spends its time

Loads are interleaved: both clusters run at once and take turns, ``--rounds`` times (default 3),
and each row is the median of its rounds, so the machine's drift does not land in the ratios.
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

from actors.etcd.memberports import StageTimes
from emulator.procstat import cpu_seconds

REPO = Path(__file__).resolve().parent.parent
VALUE = "v" * 100
MAX_ERROR_RATE = 0.001  # a row with more errors than this is not a measurement
SNAPSHOT_COUNT = 10_000  # coreemu's default, passed to etcd 3.4 too (see the docstring)
CLIENT_TIMEOUT_S = 0.3  # failover client: short, so the figure is not the timeout
WRITERS_PER_MEMBER = 3  # failover writers per surviving member, their timeouts staggered

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

    def pids(self) -> dict[str, int]:
        """Each member's process id (the whole process: every thread's CPU counts)."""
        raise NotImplementedError

    def restart(self, name: str) -> float:
        """Start a killed member again; return when its process was launched (monotonic)."""
        raise NotImplementedError

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
                "--snapshot-count",
                str(SNAPSHOT_COUNT),
            ],
            stdout=log,
            stderr=log,
        )

    def up(self) -> None:
        for name in self.addrs:
            self.start(name)

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.procs.items()}

    def kill(self, name: str) -> float:
        killed_at = time.monotonic()
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()
        return killed_at

    def restart(self, name: str) -> float:
        launched = time.monotonic()
        self.start(name, state="existing")
        return launched

    def down(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            p.wait(10)


class Coreemu(Cluster):
    name = "coreemu"

    def __init__(self, workdir: Path, subnet: str, env: dict[str, str] | None = None):
        self.config = workdir / "bench.yaml"
        self.config.write_text(
            f"cluster: bench\nseed: 1\nnetwork:\n  subnet: {subnet}.0/24\nnodes: 3\n"
        )
        self.env = dict(os.environ, COREEMU_RUNS=str(workdir / "runs"), NO_COLOR="1", **(env or {}))
        if env:
            self.name = "coreemu (" + ", ".join(f"{k}={v}" for k, v in env.items()) + ")"
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

    def pids(self) -> dict[str, int]:
        status = json.loads(self.cli("status", "--json"))
        return {n["name"]: n["pid"] for n in status["nodes"] if n.get("pid")}

    def kill(self, name: str) -> float:
        # SIGKILL from here, as for real etcd: going through run.py would add its own start-up
        # time between "killed" and the actual kill. The supervisor sees the node go down.
        pid = self.pids()[name]
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        return killed_at

    def restart(self, name: str) -> float:
        # Timed from the node's launch, as etcd's from its Popen: run.py's own start-up, before
        # the supervisor launches the node, is not the member's. The supervisor logs the launch
        # with its CLOCK_MONOTONIC time, the clock this script reads too.
        self.cli("fault", "restart", name)
        run_dir = Path(json.loads(self.cli("status", "--json"))["run_dir"])
        launches = [
            record["mono"]
            for record in map(_json_or_none, (run_dir / "supervisor.log").read_text().splitlines())
            if record
            and record.get("event") == "node.launched"
            and record.get("fields", {}).get("target") == name
        ]
        if not launches:
            raise RuntimeError(f"no launch of {name} in {run_dir / 'supervisor.log'}")
        return launches[-1]

    def down(self) -> None:
        self.cli("down")


def _json_or_none(line: str) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:
        return None


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
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
    return parse_wrk(proc.stdout)


def parse_wrk(out: str) -> dict:
    """Rate, latency percentiles and errors (non-2xx answers plus socket errors) of a wrk run."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    # anchored: "95.50%" in the Stdev column would match a bare "50%"
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    requests = int(total.group(1)) if total else 0
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(x) for x in sock.groups()) if sock else 0
    )
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": _ms(p50.group(1)) if p50 else float("nan"),
        "p99": _ms(p99.group(1)) if p99 else float("nan"),
        "requests": requests,
        "errors": errors,
        # no answers at all is as invalid as too many errors
        "valid": requests > 0 and errors <= MAX_ERROR_RATE * requests,
    }


def failover(cluster: Cluster, rounds: int) -> dict:
    """Kill the leader during writes; time until a write sent after the kill succeeds.

    The same client for both systems: ``WRITERS_PER_MEMBER`` threads per surviving member, each
    writing in a loop with a ``CLIENT_TIMEOUT_S`` timeout and retrying at once on any failure.
    """
    times = []
    caught_up: list[float] = []  # restart to serving quorum reads again, per round
    acked: dict[str, str] = {}
    for r in range(rounds):
        leader = cluster.wait_leader()
        others = [n for n in cluster.urls if n != leader]
        stop = threading.Event()
        successes: list[tuple[float, float]] = []  # (sent, answered) of each acknowledged write

        def writer(target: str, w: int, r: int = r, stop=stop, successes=successes) -> None:
            i = 0
            while not stop.is_set():
                key = f"/failover/{r}/{target}/{w}/{i}"
                sent = time.monotonic()
                url = cluster.urls[target] + "/v2/keys" + key
                code, _ = http("PUT", url, {"value": str(i)}, timeout=CLIENT_TIMEOUT_S)
                if code in (200, 201):
                    acked[key] = str(i)
                    successes.append((sent, time.monotonic()))
                i += 1

        threads = [
            threading.Thread(target=writer, args=(n, w))
            for n in others
            for w in range(WRITERS_PER_MEMBER)
        ]
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
        launched = cluster.restart(leader)
        caught_up.append(wait_serving(cluster.urls[leader]) - launched)
    reader = cluster.urls[cluster.wait_leader()]
    lost = 0
    for key, value in acked.items():
        code, body = http("GET", reader + "/v2/keys" + key + "?quorum=true", timeout=5)
        if code != 200 or body.get("node", {}).get("value") != value:
            lost += 1
    return {
        "median_s": statistics.median(times),
        "max_s": max(times),
        "all_s": times,
        "acked": len(acked),
        "lost": lost,
        "caught_up_s": caught_up,
    }


def wait_serving(url: str, timeout: float = 120.0) -> float:
    """Wait until the member at ``url`` answers a quorum read (it has replayed its log, has a
    leader and has applied up to the commit index): the next round kills the leader of a whole
    cluster, not of one still catching up. Returns when (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, _ = http("GET", url + "/v2/keys/?quorum=true", timeout=1.0)
        if code == 200:
            return time.monotonic()
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not serve a quorum read within {timeout:g} s of its restart")


def scrape(url: str) -> dict[str, float]:
    """The samples of a Prometheus text page, by ``name{labels}``."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


STAGES = StageTimes.STAGES  # as the member names them in its /metrics


def stage_breakdown(before: dict, after: dict, heartbeat_ms: float) -> dict:
    """Mean milliseconds per write and stage on the leader between two scrapes."""

    def mean_ms(total: str, count: str) -> float:
        n = after.get(count, 0.0) - before.get(count, 0.0)
        return 1000 * (after.get(total, 0.0) - before.get(total, 0.0)) / n if n else float("nan")

    out = {
        stage: mean_ms(
            f'coreemu_write_stage_seconds_sum{{stage="{stage}"}}',
            f'coreemu_write_stage_count{{stage="{stage}"}}',
        )
        for stage in STAGES
    }
    out["fsync"] = mean_ms(
        "etcd_disk_wal_fsync_duration_seconds_sum", "etcd_disk_wal_fsync_duration_seconds_count"
    )
    out["heartbeat_rtt"] = heartbeat_ms
    return out


def heartbeat_rtt_ms(url: str) -> float:
    code, body = http("GET", url + "/v2/stats/leader")
    followers = body.get("followers", {}).values() if code == 200 else ()
    lat = [f["latency"]["average"] for f in followers]
    return statistics.mean(lat) if lat else float("nan")


def median_row(runs: list[dict]) -> dict:
    """One table row from the same load's rounds: median rate and percentiles, all errors."""
    row = {key: statistics.median(r[key] for r in runs) for key in ("rps", "p50", "p99")}
    row["requests"] = sum(r["requests"] for r in runs)
    row["errors"] = sum(r["errors"] for r in runs)
    row["valid"] = all(r["valid"] for r in runs)
    row["runs"] = runs
    cpus = [r["cpu_us"] for r in runs if "cpu_us" in r]
    if cpus:
        row["cpu_us"] = {k: statistics.median(cpu[k] for cpu in cpus) for k in cpus[0]}
    stages = [r["stages"] for r in runs if "stages" in r]
    if stages:
        row["stages"] = {k: statistics.median(st[k] for st in stages) for k in stages[0]}
    return row


def load_rounds(entries: list[tuple[Cluster, tuple[str, ...]]], args, script: Path) -> list[dict]:
    """Every cluster up at once, then ``args.rounds`` rounds of every load, taking turns.

    A shared machine drifts (other tenants, CPU frequency, the page cache): run one system's
    loads after the other's and the drift lands in the ratio. Interleaved, each round runs a
    load on every cluster back to back, the first cluster alternating, and a row is the median
    of its rounds; the per-round ratios show the spread.
    """
    results: list[dict] = [{} for _ in entries]
    runs: list[dict] = [{} for _ in entries]
    for cluster, _ in entries:
        cluster.up()
    try:
        for cluster, _ in entries:
            url = cluster.urls[cluster.wait_leader()]
            for i in range(1000):  # the keys the GET load reads
                http("PUT", f"{url}/v2/keys/bench/{i}", {"value": VALUE})
        for r in range(args.rounds):
            order = list(enumerate(entries))
            if r % 2:
                order.reverse()
            for method in ("PUT", "GET"):
                for c in args.concurrency:
                    for k, (cluster, methods) in order:
                        if method in methods:
                            row = timed_run(cluster, args, script, method, c)
                            runs[k].setdefault((method, c), []).append(row)
                            print(
                                f"  round {r + 1}: {cluster.name} {method} c={c}: "
                                f"{row['rps']:.0f} req/s, p50 {row['p50']:.2f} ms, "
                                f"{row['errors']} errors",
                                file=sys.stderr,
                            )
        for k, (cluster, methods) in enumerate(entries):
            for key, rows in runs[k].items():
                results[k][key] = median_row(rows)
            if "PUT" in methods and args.failovers:
                results[k]["failover"] = failover(cluster, args.failovers)
        return results
    finally:
        for cluster, _ in entries:
            cluster.down()


def timed_run(cluster: Cluster, args, script: Path, method: str, c: int) -> dict:
    """One wrk run against the current leader (and, for coreemu's PUTs with --breakdown, the
    leader's time per stage over the run)."""
    leader = cluster.wait_leader()
    url = cluster.urls[leader]
    timed = args.breakdown and method == "PUT" and type(cluster) is Coreemu
    before = scrape(url) if timed else {}
    pids = cluster.pids()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    row = run_wrk(url, method, c, args.duration, script)
    cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    if timed:
        row["stages"] = stage_breakdown(before, scrape(url), heartbeat_rtt_ms(url))
    row["cpu_us"] = cpu_per_request(cpu_before, cpu_after, leader, row["requests"])
    return row


def cpu_per_request(before: dict, after: dict, leader: str, requests: int) -> dict:
    """Microseconds of CPU per request: the leader's, and the followers' mean."""
    if not requests:
        return {"leader": float("nan"), "follower": float("nan")}
    used = {name: (after[name] - before[name]) * 1e6 / requests for name in before}
    followers = [v for name, v in used.items() if name != leader]
    return {
        "leader": used.get(leader, float("nan")),
        "follower": statistics.mean(followers) if followers else float("nan"),
    }


def _cells(row: dict) -> str:
    flag = "" if row["valid"] else " INVALID"
    return f"{row['rps']:>9.0f}{row['p50']:>8.2f}{row['p99']:>8.2f}{row['errors']:>7}{flag:<8}"


def print_table(args, ours: dict, ours_log: dict, real: dict) -> list[dict]:
    """Print the side-by-side table; returns every row pair shown (for the validity check)."""
    print(
        f"\nv2 API, 3 members, 100-byte values, wrk to the leader, {args.duration:g} s per run, "
        f"{os.cpu_count()} cores, snapshot-count {SNAPSHOT_COUNT} on both; median of "
        f"{args.rounds} interleaved rounds; err = non-2xx + socket errors, all rounds (INVALID "
        f"above {MAX_ERROR_RATE:.1%})"
    )
    cols = f"{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'err':>7}{'':<8}"
    header = f"{'load':<36}{'coreemu':<8}{cols}  {'etcd 3.4':<9}{cols}{'ratio':>6}"
    print(header)
    print("-" * len(header))
    shown = []
    rows = [("PUT", "PUT", ours, "")]
    rows.append(("quorum GET (ReadIndex / QGET)", "GET", ours, ""))
    if ours_log:
        rows.append(("quorum GET (log / QGET)", "GET", ours_log, ""))
    for label, method, mine, _ in rows:
        for c in args.concurrency:
            a, b = mine[(method, c)], real[(method, c)]
            shown += [a, b]
            ratio = a["rps"] / b["rps"] if b["rps"] else float("nan")
            print(f"{label + f' c={c}':<36}{'':<8}{_cells(a)}  {'':<9}{_cells(b)}{ratio:>6.2f}")
    print(
        "  quorum GET: etcd 3.4 serves v2 ?quorum=true through the Raft log (QGET); coreemu uses\n"
        "  ReadIndex, or the log too with COREEMU_QUORUM_READS=log (the 'log / QGET' row)."
    )
    if not args.failovers:
        return shown
    fo_a, fo_b = ours["failover"], real["failover"]
    print(
        f"{'failover':<36}{'median ' + format(fo_a['median_s'], '.2f') + ' s, max '}"
        f"{fo_a['max_s']:.2f} s{'':<14}median {fo_b['median_s']:.2f} s, max {fo_b['max_s']:.2f} s"
    )
    for name, fo in (("coreemu", fo_a), ("etcd   ", fo_b)):
        rounds = ", ".join(f"{t:.2f}" for t in fo["all_s"])
        back = ", ".join(f"{t:.1f}" for t in fo["caught_up_s"])
        print(
            f"  {name} rounds: {rounds} s; acked {fo['acked']}, lost {fo['lost']}; "
            f"killed member serving again {back} s after its process started"
        )
    print(
        f"  the same client for both: {WRITERS_PER_MEMBER} writers per surviving member, "
        f"{CLIENT_TIMEOUT_S:g} s timeout, retry at once; writes sent after the SIGKILL count"
    )
    return shown


def print_cpu(args, ours: dict, real: dict) -> None:
    """CPU per request: less at the mercy of a shared machine's speed than req/s is."""
    print(
        "\nCPU per request, microseconds (user + system, every thread of each member's process, "
        "from /proc), median of the rounds"
    )
    head = (
        f"{'load':<36}{'coreemu leader':>15}{'follower':>10}   {'etcd 3.4 leader':>16}"
        f"{'follower':>10}   {'leader ratio':>12}"
    )
    print(head)
    print("-" * len(head))
    for label, method in (("PUT", "PUT"), ("quorum GET (ReadIndex / QGET)", "GET")):
        for c in args.concurrency:
            a, b = ours[(method, c)].get("cpu_us"), real[(method, c)].get("cpu_us")
            if not a or not b:
                continue
            ratio = a["leader"] / b["leader"] if b["leader"] else float("nan")
            print(
                f"{label + f' c={c}':<36}{a['leader']:>15.0f}{a['follower']:>10.0f}   "
                f"{b['leader']:>16.0f}{b['follower']:>10.0f}   {ratio:>12.2f}"
            )
    print(
        "  a coreemu node's process holds its other parts too (fleet, locksmith, update_engine),\n"
        "  idle here; the client (wrk) is not counted."
    )


def print_breakdown(args, ours: dict) -> None:
    print(
        "\nbreakdown: coreemu PUT, mean ms per write on the leader (from its /metrics), "
        "median of the rounds"
    )
    head = (
        f"{'load':<7}{'parse':>7}{'queue':>7}{'replicate':>11}{'apply':>7}{'reply':>7}{'rest':>7}"
        f"{'client p50':>12}   {'leader fsync':>13}{'follower RT':>13}{'heartbeat RT':>14}"
    )
    print(head)
    print("-" * len(head))
    for c in args.concurrency:
        row = ours[("PUT", c)]
        st = row.get("stages")
        if not st:
            continue
        inside = sum(st[k] for k in ("parse", "queue", "replicate", "apply", "reply"))
        print(
            f"{'c=' + str(c):<7}{st['parse']:>7.3f}{st['queue']:>7.3f}{st['replicate']:>11.3f}"
            f"{st['apply']:>7.3f}{st['reply']:>7.3f}{row['p50'] - inside:>7.3f}{row['p50']:>12.3f}"
            f"   {st['fsync']:>13.3f}{st['follower']:>13.3f}{st['heartbeat_rtt']:>14.3f}"
        )
    print(
        "  parse: HTTP parse to the request handed on; queue: to the member's turn on the node's\n"
        "  loop; replicate: propose to commit (the leader's fsync, AppendEntries, a quorum's\n"
        "  fsyncs and acks); apply: apply and render; reply: the answer written to the socket;\n"
        "  rest: the client's p50 minus those (the wire, the client). Beside them: the leader's\n"
        "  fsync, and per append sent, the follower round trip (sent to acked: the wire both ways\n"
        "  and the follower's fsync, as the leader sees it) against a heartbeat's (no fsync).\n"
        "  Means set against a median: a guide to where time goes, not an exact sum."
    )


def _ratio_check(a: dict, b: dict, key: str, text: str, bound: float, at_least: bool):
    """A target on coreemu's median against etcd's, with each round's own ratio beside it."""
    ratio = a[key] / max(b[key], 1e-9)
    rounds = ", ".join(
        f"{ra[key] / max(rb[key], 1e-9):.2f}" for ra, rb in zip(a["runs"], b["runs"], strict=True)
    )
    ok = ratio >= bound if at_least else ratio <= bound
    return f"{text}: {ratio:.2f}x (rounds: {rounds})", ok


def check_targets(args, ours: dict, real: dict, shown: list[dict]) -> bool:
    """Print each target with its figure; True when every one is met."""
    checks: list[tuple[str, bool]] = []
    if 64 in args.concurrency:
        a, b = ours[("PUT", 64)], real[("PUT", 64)]
        checks.append(_ratio_check(a, b, "rps", "PUT c=64 rate >= 0.8x etcd", 0.8, True))
        checks.append(_ratio_check(a, b, "p99", "PUT c=64 p99 <= 1.5x etcd", 1.5, False))
    if 1 in args.concurrency:
        a, b = ours[("PUT", 1)], real[("PUT", 1)]
        checks.append(_ratio_check(a, b, "p50", "PUT c=1 p50 <= 1.5x etcd", 1.5, False))
    if args.failovers:  # --failovers 0 skips them, and so their targets
        fo = ours["failover"]
        checks.append((f"failover median <= 1.5 s: {fo['median_s']:.2f} s", fo["median_s"] <= 1.5))
        lost = fo["lost"] + real["failover"]["lost"]
        checks.append((f"acknowledged writes lost: {lost}", lost == 0))
    invalid = sum(not row["valid"] for row in shown)
    checks.append((f"rows over {MAX_ERROR_RATE:.1%} errors: {invalid}", invalid == 0))
    print("targets:")
    for text, ok in checks:
        print(f"  {'ok    ' if ok else 'MISSED'} {text}")
    return all(ok for _, ok in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each load per system, interleaved"
    )
    parser.add_argument(
        "--no-log-reads", action="store_true", help="skip coreemu's log-read (QGET) cluster"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="time per stage of coreemu's PUTs (leader)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="coreemu-bench-") as tmp:
        tmpdir = Path(tmp)
        script = tmpdir / "load.lua"
        script.write_text(WRK_SCRIPT)
        (tmpdir / "etcd").mkdir()
        (tmpdir / "log").mkdir()
        entries: list[tuple[Cluster, tuple[str, ...]]] = [
            (Coreemu(tmpdir, "127.0.232"), ("PUT", "GET")),
            (RealEtcd(tmpdir / "etcd", "127.0.233"), ("PUT", "GET")),
        ]
        if not args.no_log_reads:
            logged = Coreemu(tmpdir / "log", "127.0.234", {"COREEMU_QUORUM_READS": "log"})
            entries.append((logged, ("GET",)))
        ours, real, *rest = load_rounds(entries, args, script)
        ours_log = rest[0] if rest else {}
    shown = print_table(args, ours, ours_log, real)
    print_cpu(args, ours, real)
    if args.breakdown:
        print_breakdown(args, ours)
    return 0 if check_targets(args, ours, real, shown) else 1


if __name__ == "__main__":
    sys.exit(main())
