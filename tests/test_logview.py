"""run.py logs: merging, filtering, rendering and following synthetic run logs."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import logview
from emulator.logview import (
    LogFile,
    LogFilter,
    LogRecord,
    LogTail,
    Renderer,
    merge,
    parse_duration,
    parse_record,
    parse_when,
)

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.fixture
def utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def rec(ts, node="core-01", actor="raft", level="info", event="tick", **fields) -> dict:
    return {
        "ts": ts,
        "mono": ts - T0,
        "node": node,
        "actor": actor,
        "level": level,
        "event": event,
        "fields": fields,
    }


def line(record: dict) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


def write_log(run: Path, node: str, records: list[dict], tail: str = "") -> Path:
    path = run / "supervisor.log" if node == "launcher" else run / "nodes" / node / "node.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line(r) for r in records) + tail)
    return path


def make_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    write_log(
        run,
        "launcher",
        [rec(T0 + 0.0, "launcher", "supervisor", event="node.spawn", node_name="core-01")],
    )
    write_log(
        run,
        "core-01",
        [
            rec(T0 + 1.0, "core-01", "raft", "info", "raft.leader", term=2),
            rec(T0 + 3.0, "core-01", "transport", "warning", "link.drop", peer="core-02"),
        ],
        tail='{"ts": 1700000004.0, "node": "core-01", "ev',  # torn last line
    )
    write_log(
        run,
        "core-02",
        [
            rec(T0 + 2.0, "core-02", "raft", "debug", "raft.vote", to="core-01"),
            rec(T0 + 4.0, "core-02", "etcd", "error", "etcd.apply_failed", reason="disk full"),
        ],
    )
    return run


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    logview.configure(parser)
    return parser.parse_args(argv)


def logs(run: Path, *argv: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = logview.run(parse([str(run), *argv]), out=out)
    return code, out.getvalue().splitlines()


# --- records -------------------------------------------------------------------------------


def test_parse_record_reads_every_field_and_keeps_the_raw_text():
    text = line(rec(T0, "core-03", "fleet", "warning", "agent.lost", machine="m1"))
    r = parse_record(text, "fallback")
    assert r == LogRecord(
        T0,
        "core-03",
        "fleet",
        "warning",
        "agent.lost",
        {"machine": "m1"},
        text.strip(),
        true_time=pytest.approx(logview._MONO_TO_EPOCH),  # mono 0.0
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        '{"ts": 1.0, "node": "a", "ev',
        "not json",
        "[1, 2]",
        '{"node": "a"}',
        '{"ts": true}',
    ],
)
def test_parse_record_skips_what_is_not_a_record(text):
    assert parse_record(text, "n") is None


def test_parse_record_fills_defaults_from_the_file():
    r = parse_record('{"ts": 5}', "core-09")
    assert (r.node, r.actor, r.level, r.event, r.fields) == ("core-09", "-", "info", "", {})


def test_a_torn_fragment_followed_by_a_record_on_the_same_line_gives_the_record():
    good = line(rec(T0, event="after.restart", k={"nested": 1})).strip()
    r = parse_record('{"ts": 1.0, "node": "core-01", "ac' + good, "core-01")
    assert r is not None and r.event == "after.restart" and r.raw == good


# --- merging --------------------------------------------------------------------------------


@given(st.lists(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=20), max_size=6))
def test_merge_yields_every_record_in_time_order(series):
    streams = [
        iter([LogRecord(ts, f"n{i}", "a", "info", "e", {}, "") for ts in sorted(times)])
        for i, times in enumerate(series)
    ]
    merged = [r.ts for r in merge(streams)]
    assert merged == sorted(t for times in series for t in times)


def test_logs_are_ordered_by_true_time_not_by_a_skewed_node_clock(tmp_path):
    run = tmp_path / "run"
    # core-02's clock runs 35 s ahead (clock-skew): its ts says "later" for what happened between
    # core-01's two records; mono (the machine's clock) says when it really happened.
    skewed = {**rec(T0 + 1), "node": "core-02", "ts": T0 + 36, "event": "skewed"}
    write_log(run, "core-01", [rec(T0, event="first"), rec(T0 + 2, event="third")])
    write_log(run, "core-02", [skewed])
    code, out = logs(run, "--json")
    assert code == 0
    assert [json.loads(line)["event"] for line in out] == ["first", "skewed", "third"]
    assert json.loads(out[1])["ts"] == T0 + 36  # shown as the node stamped it


def test_merge_streams_instead_of_reading_whole_files(tmp_path):
    run = tmp_path / "run"
    big = write_log(run, "core-01", [rec(T0 + i, pad="x" * 200) for i in range(5000)])
    small = write_log(run, "core-02", [rec(T0 + 0.5, "core-02")])
    files = [LogFile(big, "core-01"), LogFile(small, "core-02")]
    merged = merge(f.read_available() for f in files)
    first_two = [next(merged).node, next(merged).node]
    assert first_two == ["core-01", "core-02"]
    assert files[0]._fh.tell() < big.stat().st_size / 10  # only one chunk read so far
    for f in files:
        f.close()


def test_logs_merges_supervisor_and_node_logs_by_time_and_skips_the_torn_line(tmp_path, utc):
    code, lines = logs(make_run(tmp_path))
    assert code == 0
    events = [ln.split()[4] for ln in lines]
    assert events == ["node.spawn", "raft.leader", "raft.vote", "link.drop", "etcd.apply_failed"]


# --- rendering ------------------------------------------------------------------------------


def test_a_line_is_time_node_actor_level_event_and_fields(utc):
    r = parse_record(
        line(rec(T0 + 0.25, "core-01", "transport", "info", "frame.sent", to="core-02", n=3)), "x"
    )
    text = Renderer(["core-01"]).plain(r)
    assert text == "22:13:20.250 core-01 transport  info    frame.sent to=core-02 n=3"


def test_field_values_are_quoted_only_when_needed():
    assert logview.format_value("plain") == "plain"
    assert logview.format_value("disk full") == '"disk full"'
    assert logview.format_value("") == '""'
    assert logview.format_value(True) == "true"
    assert logview.format_value({"a": [1, None]}) == '{"a":[1,null]}'


def test_node_column_is_as_wide_as_the_longest_node_name(utc):
    renderer = Renderer(["core-01", "edge-node-12"])
    r = parse_record(line(rec(T0, "core-01", "raft", "error", "x")), "")
    assert renderer.plain(r).startswith("22:13:20.000 core-01      raft       error   x")


def test_colours_mark_level_and_node_and_strip_to_the_plain_line():
    renderer = Renderer(["core-01", "core-02"], color=True)
    r = parse_record(line(rec(T0, "core-02", "etcd", "error", "boom")), "")
    coloured = renderer.colored(r)
    assert "\x1b[1;31m" in coloured  # error in bold red
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == renderer.plain(r)
    other = Renderer(["core-01", "core-02"], color=True).colored(
        parse_record(line(rec(T0, "core-01", "etcd", "error", "boom")), "")
    )
    assert other.split(" ")[1] != coloured.split(" ")[1]  # nodes get different colours


def test_no_colour_when_not_a_tty_or_asked_not_to(tmp_path, monkeypatch):
    run = make_run(tmp_path)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    assert logview.run(parse([str(run)]), out=out) == 0
    assert "\x1b[" in out.getvalue()
    for argv, env in ((["--no-color"], None), ([], "1"), (["--json"], None)):
        if env:
            monkeypatch.setenv("NO_COLOR", env)
        out = Tty()
        logview.run(parse([str(run), *argv]), out=out)
        assert "\x1b[" not in out.getvalue()
    _, plain = logs(run)
    assert not any("\x1b[" in ln for ln in plain)


# --- filters --------------------------------------------------------------------------------


def test_filter_by_node_and_actor_repeatable(tmp_path):
    run = make_run(tmp_path)
    _, lines = logs(run, "--node", "core-02", "--node", "launcher")
    assert [ln.split()[1] for ln in lines] == ["launcher", "core-02", "core-02"]
    _, lines = logs(run, "--actor", "raft")
    assert [ln.split()[4] for ln in lines] == ["raft.leader", "raft.vote"]
    _, lines = logs(run, "--node", "core-01", "--actor", "transport")
    assert [ln.split()[4] for ln in lines] == ["link.drop"]


def test_unknown_node_is_reported_on_stderr(tmp_path, capsys):
    code, lines = logs(make_run(tmp_path), "--node", "core-99")
    assert code == 0 and lines == []
    assert "no log for node 'core-99'" in capsys.readouterr().err


def test_filter_by_level_keeps_that_level_and_above(tmp_path):
    run = make_run(tmp_path)
    _, lines = logs(run, "--level", "warning")
    assert [ln.split()[3] for ln in lines] == ["warning", "error"]
    _, lines = logs(run, "--level", "info")
    assert "debug" not in [ln.split()[3] for ln in lines] and len(lines) == 4


def test_grep_matches_event_and_fields_of_the_rendered_line(tmp_path):
    run = make_run(tmp_path)
    _, lines = logs(run, "--grep", "disk full")
    assert [ln.split()[4] for ln in lines] == ["etcd.apply_failed"]
    _, lines = logs(run, "--grep", r"^\S+ core-01 .*term=\d")
    assert [ln.split()[4] for ln in lines] == ["raft.leader"]


def test_since_and_until_bound_the_window(tmp_path):
    run = make_run(tmp_path)
    start = datetime.fromtimestamp(T0 + 1.0).isoformat()
    end = datetime.fromtimestamp(T0 + 3.0).isoformat()
    _, lines = logs(run, "--since", start, "--until", end)
    assert [ln.split()[4] for ln in lines] == ["raft.leader", "raft.vote", "link.drop"]


def test_relative_since_counts_back_from_now(tmp_path):
    run = tmp_path / "run"
    now = time.time()
    write_log(run, "core-01", [rec(now - 600, event="old"), rec(now - 5, event="recent")])
    _, lines = logs(run, "--since", "1m")
    assert [ln.split()[4] for ln in lines] == ["recent"]


def test_json_prints_the_raw_records_merged_and_filtered(tmp_path):
    _, lines = logs(make_run(tmp_path), "--json", "--level", "warning")
    records = [json.loads(ln) for ln in lines]
    assert [r["event"] for r in records] == ["link.drop", "etcd.apply_failed"]
    assert records[0] == rec(
        T0 + 3.0, "core-01", "transport", "warning", "link.drop", peer="core-02"
    )


def test_bad_arguments_are_errors_not_tracebacks(tmp_path, capsys):
    run = make_run(tmp_path)
    assert logview.run(parse([str(run), "--grep", "("]), out=io.StringIO()) == 2
    assert logview.run(parse([str(run), "--since", "yesterday-ish"]), out=io.StringIO()) == 2
    assert "can't read the time 'yesterday-ish'" in capsys.readouterr().err
    assert logview.run(parse([str(tmp_path / "nope")]), out=io.StringIO()) == 1
    assert "no run at" in capsys.readouterr().err


def test_a_run_without_logs_says_so(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert logview.run(parse([str(tmp_path / "empty")]), out=io.StringIO()) == 1
    assert "no log files" in capsys.readouterr().err


# --- times ----------------------------------------------------------------------------------


def test_parse_duration():
    assert parse_duration("30s") == 30
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    assert parse_duration("2d") == 172800
    for text in ("", "5", "5x", "m5", "20:00"):
        assert parse_duration(text) is None


def test_parse_when_forms():
    now = datetime(2026, 11, 25, 20, 30, 0).timestamp()
    assert parse_when("30s", now) == now - 30
    assert parse_when("20:00:05", now) == datetime(2026, 11, 25, 20, 0, 5).timestamp()
    assert parse_when("9:15", now) == datetime(2026, 11, 25, 9, 15).timestamp()
    assert parse_when("2026-11-24T20:00:00", now) == datetime(2026, 11, 24, 20).timestamp()
    assert parse_when("2026-11-24 20:00:00.5", now) == datetime(2026, 11, 24, 20).timestamp() + 0.5
    utc_8pm = datetime(2026, 11, 24, 20, tzinfo=timezone.utc).timestamp()
    assert parse_when("2026-11-24T20:00:00Z", now) == utc_8pm
    with pytest.raises(ValueError, match="how long ago"):
        parse_when("soon", now)


def test_filter_rejects_before_rendering():
    f = LogFilter(nodes=frozenset({"a"}), min_level="warning", since=10.0, until=20.0)
    mk = lambda ts, node="a", level="error": LogRecord(ts, node, "x", level, "e", {}, "")  # noqa: E731
    assert f.accepts_fields(mk(15))
    assert not f.accepts_fields(mk(15, node="b"))
    assert not f.accepts_fields(mk(15, level="info"))
    assert not f.accepts_fields(mk(9.9)) and not f.accepts_fields(mk(20.1))
    assert LogFilter(min_level="info").accepts_fields(mk(1, level="custom"))  # unknown ~ info


# --- follow ---------------------------------------------------------------------------------


def test_tail_returns_only_new_complete_lines_and_new_node_logs(tmp_path):
    run = tmp_path / "run"
    write_log(run, "core-01", [rec(T0, event="a")])
    tail = LogTail(run)
    assert [r.event for r in tail.initial()] == ["a"]
    assert tail.poll() == []
    half = line(rec(T0 + 2, event="c"))
    write_log(run, "core-01", [rec(T0 + 3, event="d")], tail=half[:20])
    write_log(run, "core-02", [rec(T0 + 1, "core-02", event="b")])  # a node that came up later
    assert [r.event for r in tail.poll()] == ["b", "d"]  # sorted; the half line waits
    with open(run / "nodes/core-01/node.log", "a") as f:
        f.write(half[20:])
    assert [r.event for r in tail.poll()] == ["c"]
    tail.close()


def test_tail_starts_over_when_a_log_is_truncated(tmp_path):
    run = tmp_path / "run"
    path = write_log(run, "core-01", [rec(T0, event="a"), rec(T0 + 1, event="b")])
    tail = LogTail(run)
    assert len(list(tail.initial())) == 2
    path.write_text(line(rec(T0 + 5, event="fresh")))
    assert [r.event for r in tail.poll()] == ["fresh"]
    tail.close()


def test_follow_prints_what_exists_then_what_arrives_until_ctrl_c(tmp_path, utc):
    run = make_run(tmp_path)
    calls = []

    def sleep(seconds):
        calls.append(seconds)
        if len(calls) == 1:
            write_log(run, "core-03", [rec(T0 + 9, "core-03", "raft", "info", "late.node")])
            write_log(run, "core-01", [rec(T0 + 8, "core-01", "raft", "debug", "quiet")])
            return
        raise KeyboardInterrupt

    out = io.StringIO()
    filt = LogFilter(min_level="info")
    assert logview.show(run, filt, out, follow=True, sleep=sleep) == 0
    events = [ln.split()[4] for ln in out.getvalue().splitlines()]
    assert events == ["node.spawn", "raft.leader", "link.drop", "etcd.apply_failed", "late.node"]
    assert calls == [logview.POLL_INTERVAL, logview.POLL_INTERVAL]


def test_configure_leaves_an_existing_run_argument_alone():
    parser = argparse.ArgumentParser()
    parser.add_argument("run", nargs="?")
    logview.configure(parser)
    args = parser.parse_args(["myrun", "--node", "a", "--node", "b", "-f"])
    assert (args.run, args.node, args.follow) == ("myrun", ["a", "b"], True)
    assert parser.parse_args([]).level == "debug"
