"""Reading a scenario file: every problem at once, each with its line and key path (exit 2).

Theory of operation. The file is read into the located YAML tree of :mod:`emulator.config` and
walked section by section into a :class:`Scenario`, logging problems to a ProblemLog as the
cluster config reader does. The cluster is a path to a cluster file (relative to the scenario
file), a literal block holding one (``cluster: |``), or a mapping; it is checked by the cluster
reader itself, and problems inside an inline cluster are moved to the scenario file's lines.
Phases name registered step kinds (:mod:`.steps`); checkers name registered checkers
(:mod:`emulator.checkers.registry`), so new kinds need no change here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from emulator.checkers.registry import CHECKERS, default_checkers, load_checkers
from emulator.config import ConfigErrors, parse_cluster_config
from emulator.config import yamlsource as ys
from emulator.config.faultschedule import read_faults
from emulator.config.yamlsource import Kind, Loc, ProblemLog, YNode
from emulator.faults import SELECTORS, FaultError, parse_fault
from emulator.scenario.model import OP_KINDS, Nemesis, Scenario, Step, TimedFault, Workload
from emulator.scenario.steps import STEP_KINDS, load_step_modules

_PASS = lambda n: n  # noqa: E731  (keep the node; a later step reads it)


def load_scenario(
    path: str | Path, *, seed: int | None = None, subnet: str | None = None
) -> Scenario:
    """Read and check a scenario file; raises ConfigErrors listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigErrors(
            [ys.Problem(str(path), None, "", f"cannot read the file: {exc}")]
        ) from None
    return parse_scenario(text, source=path, seed=seed, subnet=subnet)


def parse_scenario(
    text: str, *, source: Path, seed: int | None = None, subnet: str | None = None
) -> Scenario:
    load_step_modules()
    load_checkers()
    log = ProblemLog(str(source))
    tree = ys.parse_yaml(text, log)
    if tree is not None and tree.kind is not Kind.MAP:
        log.error(
            tree, f"a scenario is a mapping (scenario:, cluster:, ...), got {tree.describe()}"
        )
    if tree is None or tree.kind is not Kind.MAP:
        log.raise_if_errors()
    assert tree is not None
    top = ys.read_section(tree, {
        "scenario": lambda n: ys.nonempty(ys.text(n)), "cluster": _PASS,
        "seed": lambda n: ys.integer(n, minimum=0), "time-limit": ys.seconds,
        "workload": _PASS, "nemesis": _PASS, "phases": _PASS, "checkers": ys.text_list,
        "check-time-limit": ys.seconds,
    }, log)  # fmt: skip
    name = top.get("scenario", source.stem)
    cluster_text, cfg = _cluster(top, tree, source, log, subnet)
    names = list(cfg.node_names) if cfg else []
    workload = _workload(top.get("workload"), names, log)
    nemesis = _nemesis(top.get("nemesis"), names, log)
    steps = _steps(top.get("phases"), top.where("phases") or tree, names, log)
    checkers = top.get("checkers") or default_checkers()
    for i, c in enumerate(checkers):
        if c not in CHECKERS:
            where = top.where("checkers")
            item = where.node.items[i] if where and where.node.kind is Kind.SEQ else tree
            log.error(item, f"unknown checker {c!r} (known: {', '.join(sorted(CHECKERS))})")
    log.raise_if_errors()
    assert cfg is not None
    return Scenario(
        name=name, source=source, raw_text=text, cluster_text=cluster_text,
        cluster_name=cfg.name, node_names=cfg.node_names,
        seed=seed if seed is not None else top.get("seed", cfg.seed),
        time_limit=top.get("time_limit", 120.0), workload=workload, nemesis=nemesis,
        steps=tuple(steps), checkers=tuple(checkers),
        check_time_limit=top.get("check_time_limit", 30.0),
        client_urls={n.name: n.client_url for n in cfg.nodes},
    )  # fmt: skip


# --- cluster ------------------------------------------------------------------------------
def _cluster(top: ys.Section, tree: YNode, source: Path, log: ProblemLog, subnet: str | None):
    entry = top.where("cluster")
    if entry is None:
        log.error(tree, "'cluster' is required: a cluster file's path, or the cluster inline")
        return "", None
    node = entry.node
    offset = 0
    where = source
    if node.kind is Kind.SCALAR and isinstance(node.value, str) and "\n" not in node.value:
        ref = Path(node.value)
        path = ref if ref.is_absolute() else source.parent / ref
        if not path.is_file() and ref.is_file():
            path = ref  # relative to the working directory
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            log.error(node, f"cannot read cluster file {node.value!r}: {exc.strerror or exc}")
            return "", None
        where = path
    elif node.kind is Kind.SCALAR and isinstance(node.value, str):
        text = node.value
        offset = (node.line or 0) if node.style == "|" else 0
    elif node.kind is Kind.MAP:
        text = yaml.safe_dump(node.to_plain(), sort_keys=False)
    else:
        log.error(
            node, f"expected a cluster file path or the cluster inline, got {node.describe()}"
        )
        return "", None
    if subnet:
        text = with_subnet(text, subnet)
    try:
        cfg = parse_cluster_config(text, source=where)
    except ConfigErrors as exc:
        for p in exc.problems:
            if where != source:
                log.error(Loc(p.line, p.key_path), f"in {where}: {p.message}")
            elif node.kind is Kind.MAP:
                log.error(Loc(node.line, ys.child_path("cluster", p.key_path)), p.message)
            else:
                line = p.line + offset if p.line is not None and offset else node.line
                log.error(Loc(line, ys.child_path("cluster", p.key_path)), p.message)
        return text, None
    return text, cfg


def with_subnet(text: str, subnet: str) -> str:
    """The cluster text with its network set to ``subnet`` (tests give each run its own)."""
    data = yaml.safe_load(text) or {}
    data["network"] = {"subnet": subnet}
    return yaml.safe_dump(data, sort_keys=False)


# --- workload -----------------------------------------------------------------------------
def _workload(node: YNode | None, names: Sequence[str], log: ProblemLog) -> Workload:
    sec = ys.read_section(node, {
        "keys": lambda n: ys.integer(n, minimum=1, maximum=1000),
        "clients": lambda n: ys.integer(n, minimum=1, maximum=200),
        "rate": _positive, "mix": _PASS, "nodes": _PASS, "timeout": ys.seconds,
        "quorum-reads": ys.boolean, "prefix": lambda n: ys.nonempty(ys.text(n)),
    }, log)  # fmt: skip
    w = Workload()
    mix = _mix(sec.get("mix"), log) if sec.get("mix") is not None else dict(w.mix)
    targets = w.nodes
    if sec.get("nodes") is not None:
        targets = _targets(sec.get("nodes"), names, log)
    values = {k: v for k, v in sec.values.items() if k in ("keys", "clients", "rate", "timeout")}
    return replace(
        w, **values, mix=mix, nodes=targets,
        quorum_reads=sec.get("quorum_reads", True), prefix=sec.get("prefix", w.prefix).rstrip("/"),
    )  # fmt: skip


def _positive(node: YNode) -> float:
    if node.kind is not Kind.SCALAR or isinstance(node.value, bool):
        raise ValueError(f"expected a number, got {node.describe()}")
    if not isinstance(node.value, (int, float)) or node.value <= 0:
        raise ValueError(f"expected a number above zero, got {node.describe()}")
    return float(node.value)


def _mix(node: YNode, log: ProblemLog) -> dict[str, float]:
    if node.kind is not Kind.MAP:
        log.error(
            node, f"expected weights like {{read: 2, write: 1, cas: 1}}, got {node.describe()}"
        )
        return {}
    out: dict[str, float] = {}
    for e in node.entries:
        if e.key not in OP_KINDS:
            log.error(e, f"unknown op {e.key!r} (ops: {', '.join(OP_KINDS)})")
            continue
        v = e.node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            log.error(e.node, f"expected a weight (a number, 0 or more), got {e.node.describe()}")
            continue
        out[e.key] = float(v)
    if out and not any(out.values()):
        log.error(node, "every weight is zero: no op would ever be sent")
    return out


def _targets(node: YNode, names: Sequence[str], log: ProblemLog) -> tuple[str, ...]:
    try:
        items = ys.text_list(node) if node.kind is Kind.SEQ else (ys.text(node),)
    except ValueError as exc:
        log.error(getattr(exc, "where", None) or node, str(exc))
        return ("all",)
    out = []
    for item in items:
        for name in (x.strip() for x in item.split(",") if x.strip()):
            if name not in ("all", "random") and names and name not in names:
                log.error(
                    node, f"unknown node {name!r} (nodes: {', '.join(names)}; or all, random)"
                )
            out.append(name)
    return tuple(out) or ("all",)


# --- nemesis ------------------------------------------------------------------------------
def _nemesis(node: YNode | None, names: Sequence[str], log: ProblemLog) -> Nemesis:
    sec = ys.read_section(node, {
        "faults": _PASS, "interval": ys.seconds, "duration": ys.seconds, "first": lambda n: ys.seconds(n, positive=False),
        "pick": ys.choice("cycle", "random"), "at": _PASS,
    }, log)  # fmt: skip
    faults: list[dict[str, Any]] = []
    fnode = sec.get("faults")
    if fnode is not None:
        if fnode.kind is not Kind.SEQ:
            log.error(
                fnode, f"expected a list of faults like [{{kill: leader}}], got {fnode.describe()}"
            )
        else:
            for item in fnode.items:
                mapping = item.to_plain()
                try:
                    parse_fault(mapping, names or None)
                except FaultError as exc:
                    entry = item.get(exc.key) if exc.key and item.kind is Kind.MAP else None
                    log.error(entry or item, exc.message)
                    continue
                faults.append(mapping)
    if faults and sec.get("interval") is None:
        log.error(fnode, "faults given without 'interval' (how often one starts, like 8s)")
    at: list[TimedFault] = []
    anode = sec.get("at")
    if anode is not None:
        entries = read_faults(anode, list(names) or None, log)
        items = anode.items if anode.kind is Kind.SEQ else ()
        plain = [
            {k: v for k, v in i.to_plain().items() if ys.norm(k) not in ("at", "for", "until")}
            for i in items
            if i.kind is Kind.MAP
        ]
        if len(plain) == len(entries):
            at = [
                TimedFault(e.at, p, e.duration, e.line) for e, p in zip(entries, plain, strict=True)
            ]
    return Nemesis(
        faults=tuple(faults), interval=sec.get("interval"), duration=sec.get("duration"),
        first=sec.get("first"), pick=sec.get("pick", "cycle"), at=tuple(at),
    )  # fmt: skip


# --- phases -------------------------------------------------------------------------------
def _steps(node: YNode | None, where: Any, names: Sequence[str], log: ProblemLog) -> list[Step]:
    if node is None or node.is_null:
        log.error(where, "'phases' is required, e.g. [{faults: 20s}, {heal: 5s}, final-reads]")
        return []
    if node.kind is not Kind.SEQ:
        log.error(node, f"expected a list of phases, got {node.describe()}")
        return []
    known = ", ".join(sorted(STEP_KINDS))
    steps = []
    for item in node.items:
        if item.kind is Kind.SCALAR and isinstance(item.value, str):
            kind = STEP_KINDS.get(item.value)
            if kind is None or not kind.bare:
                log.error(item, f"unknown or incomplete phase {item.value!r} (kinds: {known})")
                continue
            steps.append(Step(kind.name, None, item.line, item.value))
            continue
        if item.kind is not Kind.MAP or len(item.entries) != 1:
            log.error(item, f"a phase is one mapping like {{faults: 20s}}, got {item.describe()}")
            continue
        entry = item.entries[0]
        kind = STEP_KINDS.get(entry.key)
        if kind is None:
            log.error(entry, f"unknown phase {entry.key!r} (kinds: {known})")
            continue
        before = len(log.errors)
        params = kind.read(entry.node, log, names)
        if len(log.errors) == before:
            text = f"{entry.key}: {_short(entry.node)}"
            steps.append(Step(kind.name, params, entry.line, text))
    return steps


def _short(node: YNode) -> str:
    if node.kind is Kind.SCALAR:
        return node.raw
    return yaml.safe_dump(node.to_plain(), default_flow_style=True).strip()


__all__ = ["SELECTORS", "load_scenario", "parse_scenario", "with_subnet"]
