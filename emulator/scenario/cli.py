"""``run.py run SCENARIO [--unsafe-reads] [--seed N]``: run a scenario, check it, report it.

Exit codes as Jepsen's: 0 valid, 1 invalid, 2 unknown (or a scenario file with errors, or a
cluster that would not start).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emulator.checkers.rundata import check_run, exit_code
from emulator.config import ConfigErrors
from emulator.scenario.progress import Progress, summary_table
from emulator.scenario.reader import load_scenario
from emulator.scenario.runner import ScenarioRun, start_cluster, stop_cluster, write_scenario_files


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Bring a cluster up, drive a workload, inject the scenario's faults, heal, read back, "
        "bring it down, check the history (linearizability, lost writes, Raft invariants) and "
        "write results.json and report.html. Exit 0 valid, 1 invalid, 2 unknown."
    )
    parser.add_argument("scenario", help="scenario file, e.g. configs/scenarios/kill-leader.yaml")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument(
        "--unsafe-reads",
        action="store_true",
        help="start etcd with COREEMU_UNSAFE_READS=1: quorum reads answered from local state "
        "(a planted bug: the checker should find stale reads)",
    )
    parser.add_argument("--subnet", help="put the cluster on this /24 instead of its own")


def run(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario, seed=args.seed, subnet=args.subnet)
    except ConfigErrors as exc:
        n = len(exc.problems)
        print(f"error: {n} problem{'s' if n != 1 else ''} in {args.scenario}; nothing run:",
              file=sys.stderr)  # fmt: skip
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    started = time.monotonic()
    progress = Progress()
    progress.console.print(
        f"scenario [bold]{scenario.name}[/bold]: cluster {scenario.cluster_name} "
        f"({len(scenario.node_names)} nodes), seed {scenario.seed}"
        + (", [red]unsafe reads[/red]" if args.unsafe_reads else "")
    )
    run_dir = start_cluster(scenario, args.unsafe_reads)
    if run_dir is None:
        print("error: the cluster did not come up; nothing checked", file=sys.stderr)
        return 2
    progress.console.print(f"run dir {run_dir}")
    write_scenario_files(scenario, run_dir, args.unsafe_reads)
    interrupted = False
    try:
        with progress:
            ScenarioRun(scenario, run_dir, progress, args.unsafe_reads).execute()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        left = stop_cluster(run_dir)
    if left:
        print(f"warning: processes left after down: {left}", file=sys.stderr)
    if interrupted:
        print("interrupted; cluster stopped. Check what ran with: python run.py check "
              f"{run_dir}", file=sys.stderr)  # fmt: skip
        return 130
    return finish(Path(run_dir), progress, time.monotonic() - started)


def finish(run_dir: Path, progress: Progress, elapsed: float | None) -> int:
    results, verdicts = check_run(run_dir)
    try:
        from emulator.report import write_report

        path = write_report(run_dir, results)
        report_line = f"report: {path}"
    except Exception as exc:  # the verdict stands even if drawing fails
        report_line = f"report not written: {type(exc).__name__}: {exc}"
    console = progress.console
    console.print(summary_table(results, elapsed))
    for v in verdicts:
        if v.valid is False and v.counterexample:
            console.print(f"[red]{v.name}[/red]: {v.summary}")
            for line in v.counterexample:
                console.print(f"  {line}", markup=False, highlight=False)
    console.print(f"results: {run_dir / 'results.json'}")
    console.print(report_line)
    return exit_code(results["valid"])
