"""``report.html``: one self-contained page — verdicts, counterexample, timeline, latency."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from emulator.checkers.ops import history_origin, read_history
from emulator.checkers.rundata import STATUS_JSONL, read_jsonl
from emulator.report.timeline import (
    fault_periods,
    lock_spans,
    node_events,
    node_segments,
    phases,
    run_span,
    throughput,
)

REPORT_HTML = "report.html"
_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 6px}
.valid{color:#38761d}.invalid{color:#cc0000}.unknown{color:#b45f06}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top} th{background:#f3f3f3}
tr.hot td{background:#f4cccc;font-weight:bold} .meta{color:#555;font-size:13px}
pre{background:#f7f7f7;padding:8px;font-size:12px;overflow-x:auto} svg{max-width:100%;height:auto}
"""


def _word(valid: Any) -> str:
    cls = {True: "valid", False: "invalid"}.get(valid, "unknown")
    return f'<span class="{cls}">{ {True: "valid", False: "INVALID"}.get(valid, "unknown") }</span>'


def latency_points(history: list[dict[str, Any]], origin: float) -> tuple[list, list]:
    """(invoke, latency ms, outcome) per answered op, and (complete time, outcome) pairs."""
    invokes = {}
    points, completes = [], []
    for e in history:
        if e.get("type") != "op":
            continue
        if e.get("phase") == "invoke":
            invokes[e["op"]] = float(e["mono"])
        elif e.get("phase") == "complete" and e["op"] in invokes:
            t0, t1 = invokes[e["op"]], float(e["mono"])
            points.append((t0 - origin, (t1 - t0) * 1000, e.get("outcome", "info")))
            completes.append((t1 - origin, e.get("outcome", "info")))
    return points, completes


def render(run: Path, results: dict[str, Any]) -> str:
    from emulator.report import plots  # matplotlib takes a second to import: only when drawing

    history = read_history(run / "history.jsonl") if (run / "history.jsonl").exists() else []
    origin = history_origin(history)
    end = run_span(history, origin)
    samples = read_jsonl(run / STATUS_JSONL)
    faults = fault_periods(history, origin, end)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(str(results.get('scenario')))}"
             f" — coreemu</title><style>{_CSS}</style></head><body>"]  # fmt: skip
    ops = results.get("ops", {})
    parts.append(
        f"<h1>{html.escape(str(results.get('scenario')))}: {_word(results['valid'])}</h1>"
        f"<div class='meta'>seed {results.get('seed')}"
        f"{' · <b>unsafe reads</b>' if results.get('unsafe_reads') else ''} · run {html.escape(str(run))}"
        f" · {ops.get('total', 0)} ops: {ops.get('ok', 0)} ok, {ops.get('fail', 0)} fail, "
        f"{ops.get('info', 0)} info · {end:.1f}s</div>"
    )
    parts.append(
        "<h2>Verdicts</h2><table><tr><th>checker</th><th>verdict</th><th>summary</th></tr>"
    )
    for name, v in results.get("checkers", {}).items():
        parts.append(f"<tr><td>{html.escape(name)}</td><td>{_word(v.get('valid'))}</td>"
                     f"<td>{html.escape(str(v.get('summary', '')))}</td></tr>")  # fmt: skip
    parts.append("</table>")
    for name, v in results.get("checkers", {}).items():
        if v.get("valid") is False:
            parts.append(_failure(name, v))
    parts.append("<h2>Timeline</h2><div class='meta'>Per node: state (background), Raft role "
                 "and term (inner bar), OS version (blue, where it changes), faults shaded (a red band on the nodes each touched), the reboot lock (a dark bar under the holder), process events marked (X killed, "
                 "^ restarted, o rebooting, | paused/resumed), phases dashed.</div>")  # fmt: skip
    if samples:
        parts.append(plots.timeline_svg(node_segments(samples, origin, end), faults,
                                        node_events(history, origin), phases(history, origin), end,
                                        lock_spans(history, origin, end)))  # fmt: skip
    else:
        parts.append("<p>no status samples recorded</p>")
    points, completes = latency_points(history, origin)
    if points:
        parts.append("<h2>Client latency</h2>" + plots.latency_svg(points, faults, end))
        parts.append(
            "<h2>Throughput</h2>" + plots.throughput_svg(throughput(completes, end), faults, end)
        )
    parts.append(
        "<h2>Faults</h2><table><tr><th>from (s)</th><th>to (s)</th><th>fault</th><th>nodes</th></tr>"
    )
    for f in faults:
        parts.append(f"<tr><td>{f.start:.2f}</td><td>{f.end:.2f}</td><td>{html.escape(f.text)}</td>"
                     f"<td>{html.escape(', '.join(f.nodes))}</td></tr>")  # fmt: skip
    parts.append("</table>")
    parts.append(
        "<h2>results.json</h2><pre>" + html.escape(json.dumps(_brief(results), indent=1)) + "</pre>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _failure(name: str, v: dict[str, Any]) -> str:
    from emulator.report import plots

    out = [f"<h2 class='invalid'>{html.escape(name)}: counterexample</h2>"]
    out.append(f"<p>{html.escape(str(v.get('summary', '')))}</p>")
    if v.get("counterexample"):
        out.append("<pre>" + html.escape("\n".join(v["counterexample"])) + "</pre>")
    around = v.get("around_ops") or []
    hot = {o["id"] for o in v.get("counterexample_ops", [])}
    if around:
        out.append(f"<div class='meta'>The ops of {html.escape(str(v.get('failed_key')))} around "
                   "the violation (the counterexample in red):</div>")  # fmt: skip
        out.append(plots.ops_svg(around, hot))
        out.append("<table><tr><th>op</th><th>client</th><th>f</th><th>value</th><th>outcome</th>"
                   "<th>invoke (s)</th><th>complete (s)</th><th>node</th></tr>")  # fmt: skip
        for o in around:
            done = "—" if o["complete"] is None else f"{o['complete']:.4f}"
            out.append(f"<tr class='{'hot' if o['id'] in hot else ''}'><td>#{o['id']}</td>"
                       f"<td>{o['process']}</td><td>{o['f']}</td><td>{html.escape(json.dumps(o['value']))}</td>"
                       f"<td>{o['outcome']}</td><td>{o['invoke']:.4f}</td><td>{done}</td>"
                       f"<td>{html.escape(o['node'])}</td></tr>")  # fmt: skip
        out.append("</table>")
    return "\n".join(out)


def _brief(results: dict[str, Any]) -> dict[str, Any]:
    """results.json without the long op lists (they are drawn above)."""
    out = dict(results)
    out["checkers"] = {
        k: {kk: vv for kk, vv in v.items() if kk not in ("around_ops", "counterexample_ops")}
        for k, v in results.get("checkers", {}).items()
    }
    return out


def write_report(run: Path, results: dict[str, Any]) -> Path:
    path = run / REPORT_HTML
    tmp = run / (REPORT_HTML + ".tmp")
    tmp.write_text(render(run, results), encoding="utf-8")
    tmp.replace(path)
    return path
