"""Step kinds and conditions for the update and fleet parts: publish a release on the run's
update service, start fleet units, wait until every node runs a version."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.config import yamlsource as ys
from emulator.config.yamlsource import Kind, ProblemLog, YNode
from emulator.scenario.steps import StepContext, condition, read_nothing, register

CHANNELS = ("alpha", "beta", "stable")
RELEASE_FAULTS = ("broken-boot", "bad-signature", "corrupt")


@dataclass(frozen=True)
class Release:
    version: str
    channel: str
    fault: str | None  # one of RELEASE_FAULTS


def read_release(node: YNode, log: ProblemLog, names: Sequence[str]) -> Release | None:
    """``publish-release: {version: 1.1.0, channel: stable, broken-boot: true}``."""
    readers: dict[str, Any] = {"version": lambda n: ys.nonempty(ys.text(n)),
                               "channel": ys.choice(*CHANNELS)}  # fmt: skip
    readers.update({f: ys.boolean for f in RELEASE_FAULTS})
    sec = ys.read_section(node, readers, log)
    if node.kind is not Kind.MAP:
        return None
    if sec.get("version") is None:
        log.error(node, "'version' is required (the release's version, like 1.1.0)")
        return None
    faults = [f for f in RELEASE_FAULTS if sec.get(f)]
    if len(faults) > 1:
        log.error(node, f"give at most one of {', '.join(RELEASE_FAULTS)}")
        return None
    return Release(sec.get("version"), sec.get("channel", "stable"), faults[0] if faults else None)


@register("publish-release", read_release, "publish a release on the run's update service")
def run_publish(ctx: StepContext, rel: Release) -> None:
    from emulator.release import ReleaseError, call, service_url

    ctx.set_phase(f"publish {rel.version}")
    body = {"channel": rel.channel, "version": rel.version, "origin": "scenario",
            **{f.replace("-", "_"): f == rel.fault for f in RELEASE_FAULTS}}  # fmt: skip
    try:
        call(service_url(ctx.run), "POST", "/api/v1/releases", body)
    except ReleaseError as exc:
        ctx.note(f"publish-release {rel.version}: {exc}")
        return
    ctx.record("release", version=rel.version, channel=rel.channel, fault=rel.fault)


def read_units(node: YNode, log: ProblemLog, names: Sequence[str]) -> tuple[str, ...] | None:
    """``fleet-start: [configs/units/hello@1.service, ...]`` (paths from the working dir)."""
    try:
        paths = ys.text_list(node) if node.kind is Kind.SEQ else (ys.text(node),)
    except ValueError as exc:
        log.error(getattr(exc, "where", None) or node, str(exc))
        return None
    missing = [p for p in paths if not Path(p).is_file() and not _template(Path(p)).is_file()]
    if missing:
        log.error(node, f"no unit file at {', '.join(missing)}")
        return None
    return tuple(paths)


def _template(path: Path) -> Path:
    """``hello@1.service`` → ``hello@.service``: fleetctl starts instances of a template."""
    stem, at, rest = path.name.partition("@")
    return path.with_name(f"{stem}@{Path(rest).suffix}") if at else path


@register("fleet-start", read_units, "fleetctl start these unit files (or template instances)")
def run_fleet_start(ctx: StepContext, paths: tuple[str, ...]) -> None:
    from emulator.fleetctl import main as fleetctl

    ctx.set_phase("fleet start")
    out, err = io.StringIO(), io.StringIO()
    code = fleetctl([str(ctx.run), "start", *paths], None, out, err)
    ctx.record("fleet", command="start", units=list(paths), code=code,
               output=(out.getvalue() + err.getvalue())[-2000:])  # fmt: skip
    if code != 0:
        ctx.note(f"fleetctl start failed ({code}): {err.getvalue().strip()[:200]}")


@condition("all-on-version")
def all_on_version(report: dict[str, Any], version: Any) -> bool:
    """Every node up and booted into ``version``."""
    nodes = report.get("nodes", [])
    return bool(nodes) and all(
        n.get("state") == "up" and str(n.get("version")) == str(version) for n in nodes
    )


def _fleet(ctx: StepContext) -> Any:
    from actors.fleet.client import FleetClient
    from actors.fleet.registry import Registry
    from emulator.etcdctl_client import V2Client

    urls = list(ctx.urls().values())
    return FleetClient(Registry(V2Client(urls, timeout=3)))


@register("fleet-snapshot", read_nothing, "record fleet's units, machines and states", bare=True)
def run_fleet_snapshot(ctx: StepContext, _: None) -> None:
    ctx.set_phase("fleet snapshot")
    try:
        client = _fleet(ctx)
        snap = client.snapshot()
        record = {"units": client.units(snap), "machines": client.machines(snap),
                  "states": client.unit_states(snap)}  # fmt: skip
    except Exception as exc:  # etcd unreachable: the checker says unknown
        ctx.note(f"fleet-snapshot: {type(exc).__name__}: {exc}")
        return
    ctx.record("fleet", event="snapshot", **record)


def read_unit_name(node: YNode, log: ProblemLog, names: Sequence[str]) -> str | None:
    try:
        return ys.nonempty(ys.text(node))
    except ValueError as exc:
        log.error(node, str(exc))
        return None


@register("kill-unit-host", read_unit_name, "kill the node a fleet unit runs on (for good)")
def run_kill_unit_host(ctx: StepContext, unit: str) -> None:
    from emulator.release import node_names

    try:
        info = _fleet(ctx).unit(unit)
    except Exception as exc:
        ctx.note(f"kill-unit-host {unit}: {type(exc).__name__}: {exc}")
        return
    node = node_names(ctx.run).get((info or {}).get("machineID", ""))
    if node is None:
        ctx.note(f"kill-unit-host: {unit} is not scheduled on a known machine")
        return
    ctx.fault({"kill": node}, None)
