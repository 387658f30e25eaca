"""The systemd part at boot: coreos.units from a real cluster config applied to a stand-in node."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest
from proc_waits import procs_under, wait_until
from unit_journal import unit_output

from actors.systemd.part import start_systemd
from emulator.config import parse_cluster_config
from emulator.nodeclock import NodeClock
from emulator.nodectx import StatusBoard


class _Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, event: str, level: str = "info", **fields) -> None:
        self.events.append((level, event))

    def warning(self, event: str, **fields) -> None:
        self(event, "warning")

    def error(self, event: str, **fields) -> None:
        self(event, "error")


UNITS = """
cloud-config: |
  #cloud-config
  coreos:
    units:
      - name: etcd2.service
        command: start
      - name: greeter.service
        command: start
        content: |
          [Service]
          Type=oneshot
          RemainAfterExit=yes
          ExecStart=/bin/sh -c 'echo "$GREETING from %n"'
        drop-ins:
          - name: 10-env.conf
            content: |
              [Service]
              Environment=GREETING=hello
      - name: enabled.service
        enable: true
        content: |
          [Service]
          ExecStart=/bin/sleep 60
          [Install]
          WantedBy=multi-user.target
      - name: idle.service
        content: |
          [Service]
          ExecStart=/bin/sleep 60
      - name: hidden.service
        mask: true
      - name: broken.service
        command: start
        content: |
          [Service]
          ExecStart=/bin/true
          TimeoutStartSec=soon
"""


@pytest.fixture
def booted(tmp_path):
    cfg = parse_cluster_config(
        "network:\n  subnet: 127.0.62.0/24\nnodes: 1\n" + textwrap.dedent(UNITS)
    )
    log = _Log()
    ctx = SimpleNamespace(
        actor_log=lambda actor: log, clock=NodeClock(), board=StatusBoard(), ticker=None
    )
    node = SimpleNamespace(
        cfg=cfg, spec=cfg.node("core-01"), ctx=ctx, data_dir=tmp_path / "core-01",
        etcd=object(), parts=[],
    )  # fmt: skip
    part = start_systemd(node)
    yield node, part, log
    part.stop()
    wait_until(lambda: not procs_under(tmp_path), what="no unit process left")


def active(node, name: str) -> tuple[str, str]:
    st = node.systemd.status(name)
    return st.active_state, st.sub_state


def test_builtin_units_reflect_the_node(booted):
    node, _, _ = booted
    wait_until(lambda: active(node, "docker.service") == ("active", "running"))
    assert active(node, "etcd2.service") == ("active", "running")
    assert active(node, "fleet.service") == ("inactive", "dead")  # no fleet part here


def test_content_with_drop_in_starts_with_its_environment(booted):
    node, _, _ = booted
    wait_until(lambda: active(node, "greeter.service") == ("active", "exited"))
    said = wait_until(lambda: unit_output(node.systemd, "greeter.service"), what="its output")
    assert said == ["hello from greeter.service"]
    assert (node.data_dir / "units/greeter.service.d/10-env.conf").exists()


def test_enable_starts_an_installable_unit_and_plain_content_only_loads(booted):
    node, _, _ = booted
    wait_until(lambda: active(node, "enabled.service") == ("active", "running"))
    assert active(node, "idle.service") == ("inactive", "dead")
    assert node.systemd.status("idle.service").load_state == "loaded"


def test_mask_and_bad_file(booted):
    node, _, log = booted
    assert node.systemd.status("hidden.service").load_state == "masked"
    node.systemd.start("hidden.service")
    broken = node.systemd.status("broken.service")
    assert broken.load_state == "error" and "soon" in broken.error and ":3:" in broken.error
    assert ("error", "unit.load_failed") in log.events
    assert any("masked" in line for line in node.systemd.journal("hidden.service"))


def test_status_board_counts_units(booted):
    node, _, _ = booted
    wait_until(lambda: node.ctx.board.snapshot().get("systemd", {}).get("units", 0) >= 7)
