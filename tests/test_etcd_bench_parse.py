"""bench/etcd_compare.py reads wrk's report right: anchored percentiles (not the "+/- Stdev"
column), errors from non-2xx answers and socket errors, and the 0.1 % validity rule."""

from __future__ import annotations

import importlib.util
import os

import pytest
from cluster_harness import REPO

_spec = importlib.util.spec_from_file_location("etcd_compare", REPO / "bench" / "etcd_compare.py")
etcd_compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(etcd_compare)

REPORT = """Running 1s test @ http://127.0.0.1:2379
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.63ms    1.20ms  15.21ms   95.50%
    Req/Sec   275.00     10.00   290.00     80.99%
  Latency Distribution
     50%  834.00us
     75%    3.80ms
     90%    4.00ms
     99%    1.02s
  {requests} requests in 1.00s, 50.00KB read
{errors}Requests/sec:    275.00
"""


def test_percentiles_come_from_the_distribution_not_the_stdev_column():
    row = etcd_compare.parse_wrk(REPORT.format(requests=275, errors=""))
    assert (row["p50"], row["p99"], row["rps"]) == (0.834, 1020.0, 275.0)
    assert (row["requests"], row["errors"], row["valid"]) == (275, 0, True)


def test_socket_errors_and_non_2xx_answers_count_and_over_a_tenth_of_a_percent_is_invalid():
    errors = (
        "  Socket errors: connect 0, read 1, write 0, timeout 2\n  Non-2xx or 3xx responses: 3\n"
    )
    row = etcd_compare.parse_wrk(REPORT.format(requests=6000, errors=errors))
    assert row["errors"] == 6 and row["valid"]  # exactly 0.1 %
    row = etcd_compare.parse_wrk(REPORT.format(requests=5999, errors=errors))
    assert not row["valid"]


def test_a_run_with_no_answers_is_invalid():
    assert not etcd_compare.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")[
        "valid"
    ]


def test_cpu_per_request_splits_the_leader_from_the_followers_mean():
    before = {"a": 1.0, "b": 2.0, "c": 3.0}
    after = {"a": 1.5, "b": 2.1, "c": 3.3}  # a: 0.5 s, b: 0.1 s, c: 0.3 s over 1000 requests
    cpu = etcd_compare.cpu_per_request(before, after, "a", 1000)
    assert cpu == {"leader": pytest.approx(500.0), "follower": pytest.approx(200.0)}


def test_cpu_per_request_of_a_run_without_answers_is_not_a_number():
    cpu = etcd_compare.cpu_per_request({"a": 1.0}, {"a": 2.0}, "a", 0)
    assert cpu["leader"] != cpu["leader"] and cpu["follower"] != cpu["follower"]


def test_cpu_seconds_of_this_process_grows_and_of_no_process_is_nan():
    first = etcd_compare.cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))  # burn a little CPU
    assert etcd_compare.cpu_seconds(os.getpid()) >= first > 0
    gone = etcd_compare.cpu_seconds(2**22 + 12345)  # above the kernel's pid_max
    assert gone != gone


def test_real_etcd_snapshots_as_often_as_coreemu_does_by_default():
    from emulator.config.cloudmodel import Etcd2Options

    assert etcd_compare.SNAPSHOT_COUNT == Etcd2Options().snapshot_count


def test_cpu_seconds_reads_a_live_process_and_is_nan_for_a_gone_one():
    import math
    import subprocess
    import sys

    from emulator.procstat import cpu_seconds

    assert cpu_seconds(os.getpid()) > 0
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert math.isnan(cpu_seconds(child.pid))


def test_without_failovers_the_table_and_targets_leave_the_failover_out(capsys):
    args = etcd_compare.argparse.Namespace(duration=1, rounds=1, concurrency=[1], failovers=0)
    row = {**etcd_compare.parse_wrk(REPORT.format(requests=275, errors="")), "runs": []}
    row["runs"] = [dict(row)]
    results = {("PUT", 1): row, ("GET", 1): row}
    shown = etcd_compare.print_table(args, results, {}, results)
    assert etcd_compare.check_targets(args, results, results, shown)  # ratio 1.0 meets c=1 p50
    out = capsys.readouterr().out
    assert "PUT c=1" in out and "failover" not in out
