"""Real nodes against a real Omaha server: download, verify, install, reboot into the new slot."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from omaha_server import OmahaTestServer

from actors.update.codes import ErrorCode, EventResult, EventType
from actors.update.disk import GptDisk
from actors.update.gpt import UsrAttrs

pytestmark = pytest.mark.cluster


def _config(url: str) -> str:
    return (
        "cloud-config: |\n  #cloud-config\n  coreos:\n    update:\n      group: stable\n"
        f'      reboot-strategy: "off"\n      server: {url}\n'
        "      check-interval: 1s\n      healthy-after: 1s\n"
    )


def _nodes(status: dict) -> dict[str, dict]:
    return {n["name"]: n for n in status["nodes"]}


def _disk(run, name: str) -> GptDisk:
    return GptDisk(run.run_dir / "nodes" / name / "disk.img")


def test_nodes_download_verify_and_install_then_boot_the_new_slot(tmp_path, cluster_factory):
    with OmahaTestServer("127.0.0.1", "test-token", "1.1.0") as server:
        run = cluster_factory(3, _config(server.url))
        run.up()
        status = run.wait_for(
            lambda s: all(
                n.get("update_status") == "UPDATE_STATUS_UPDATED_NEED_REBOOT" for n in s["nodes"]
            ),
            timeout=60,
            what="every node in UPDATED_NEED_REBOOT",
        )
        for name, node in _nodes(status).items():
            assert (node["partition"], node["version"], node["new_version"]) == (
                "USR-A", "1.0.0", "1.1.0",
            )  # fmt: skip
            disk = _disk(run, name)
            assert disk.read_header("USR-B").version == "1.1.0"
            assert dict(disk.usr_slots()) == {
                "USR-A": UsrAttrs(1, 0, True),
                "USR-B": UsrAttrs(2, 1, False),
            }
            assert node["disk"] == str(disk.path)
        machines = {m for m, _ in server.events()}
        assert len(machines) == 3
        for machine in machines:
            seen = [(e.type, e.result) for m, e in server.events() if m == machine]
            assert seen[:3] == [
                (EventType.UPDATE_DOWNLOAD_STARTED, EventResult.SUCCESS),
                (EventType.UPDATE_DOWNLOAD_FINISHED, EventResult.SUCCESS),
                (EventType.UPDATE_COMPLETE, EventResult.SUCCESS),
            ]

        out = run.cli("update-engine", "--node", "core-02", "-status").stdout
        assert "CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT" in out
        assert "NEW_VERSION=1.1.0" in out and "PROGRESS=1.000000" in out
        assert f"NEW_SIZE={len(server.package)}" in out

        # the reboot locksmith would do: GRUB picks USR-B, its one try spent, then marked good
        run.cli("fault", "restart", "core-01")
        run.wait_for(
            lambda s: (
                _nodes(s)["core-01"].get("version") == "1.1.0"
                and _nodes(s)["core-01"].get("state") == "up"
            ),
            timeout=60,
            what="core-01 booted 1.1.0",
        )
        assert _nodes(run.status())["core-01"]["partition"] == "USR-B"
        run.wait_for(
            lambda s: dict(_disk(run, "core-01").usr_slots())["USR-B"] == UsrAttrs(2, 0, True),
            timeout=30,
            what="USR-B marked good",
        )
        reboot_event = (EventType.UPDATE_COMPLETE, EventResult.SUCCESS_REBOOT, "1.0.0")
        run.wait_for(
            lambda s: (
                reboot_event in [(e.type, e.result, e.previous_version) for _, e in server.events()]
            ),
            timeout=30,
            what="event 3 with previousversion",
        )
        if shutil.which("sgdisk"):
            info = subprocess.run(
                ["sgdisk", "-i", "4", str(_disk(run, "core-01").path)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert "Attribute flags: 0102000000000000" in info  # successful, priority 2
        run.down()


def test_bad_signature_never_touches_the_slot(tmp_path, cluster_factory):
    with OmahaTestServer("127.0.0.1", "test-token", "1.1.0", bad_signature=True) as server:
        run = cluster_factory(1, _config(server.url))
        run.up()
        bad = (
            EventType.UPDATE_COMPLETE,
            EventResult.ERROR,
            ErrorCode.DOWNLOAD_PAYLOAD_VERIFICATION_ERROR,
        )
        run.wait_for(
            lambda s: bad in [(e.type, e.result, e.error_code) for _, e in server.events()],
            timeout=60,
            what="the error event",
        )
        disk = _disk(run, "core-01")
        assert disk.version_of("USR-B") is None
        assert dict(disk.usr_slots())["USR-B"] == UsrAttrs(0, 0, False)
        server.offering = False
        run.wait_for(
            lambda s: s["nodes"][0].get("update_status") == "UPDATE_STATUS_IDLE", timeout=30
        )
        out = run.cli("update-engine", "-check_for_update").stdout
        assert "Initiating update check" in out
        node = run.status()["nodes"][0]
        assert (node["state"], node["version"], node["partition"]) == ("up", "1.0.0", "USR-A")
        run.down()


def test_broken_boot_release_falls_back_and_reports_the_rollback(tmp_path, cluster_factory):
    with OmahaTestServer("127.0.0.1", "test-token", "1.1.0", broken_boot=True) as server:
        run = cluster_factory(1, _config(server.url))
        run.up()
        run.wait_for(
            lambda s: s["nodes"][0].get("update_status") == "UPDATE_STATUS_UPDATED_NEED_REBOOT",
            timeout=60,
            what="the broken release installed",
        )
        server.offering = False
        run.cli("fault", "restart", "core-01")  # the reboot locksmith would do
        rollback = (EventType.UPDATE_COMPLETE, EventResult.ERROR, 15, "1.1.0")
        run.wait_for(
            lambda s: (
                rollback
                in [(e.type, e.result, e.error_code, e.next_version) for _, e in server.events()]
            ),
            timeout=60,
            what="the rollback event",
        )
        node = run.status()["nodes"][0]
        assert (node["state"], node["partition"], node["version"]) == ("up", "USR-A", "1.0.0")
        history = [json.loads(x) for x in (run.run_dir / "history.jsonl").read_text().splitlines()]
        assert any(h.get("event") == "rebooting" and h.get("node") == "core-01" for h in history)
        disk = _disk(run, "core-01")
        # USR-B spent its one try on the failed boot, then mark-good dropped its priority
        run.wait_for(
            lambda s: dict(disk.usr_slots())["USR-B"] == UsrAttrs(0, 0, False),
            timeout=30,
            what="the failed slot retired",
        )
        assert dict(disk.usr_slots())["USR-A"] == UsrAttrs(1, 0, True)
        log = (run.run_dir / "nodes" / "core-01" / "node.log").read_text()
        assert "boot.failed" in log and "broken-boot" in log
        run.down()
