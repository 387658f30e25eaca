"""The talk's cloud-config boots as written: configs/seed-talk.yaml wraps it (a token filled in),
discovery.etcd.io is served by the run, and the literal <token> is refused with its line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from cluster_harness import REPO, ClusterRun, unique_subnet

from emulator.config.cluster import load_cluster_config
from emulator.config.problems import ConfigErrors

SEED_TALK = REPO / "configs" / "seed-talk.yaml"
TALK = REPO.parent / "shared" / "talk" / "cloud-config.yaml"
TOKEN = re.compile(r"https://discovery\.etcd\.io/([0-9a-f]+)")


def _talk_file(tmp_path: Path, token: str | None = None) -> Path:
    """seed-talk.yaml on a subnet of this test's own (and the token put back, if asked)."""
    text = SEED_TALK.read_text().replace("127.0.30.0/24", unique_subnet())
    if token is not None:
        text = TOKEN.sub(f"https://discovery.etcd.io/{token}", text)
    path = tmp_path / "seed-talk.yaml"
    path.write_text(text)
    return path


@pytest.mark.skipif(not TALK.is_file(), reason="the talk's files are not next to the repo")
def test_seed_talk_holds_the_talks_cloud_config_with_only_a_token_filled_in():
    embedded = yaml.safe_load(SEED_TALK.read_text())["cloud-config"]
    token = TOKEN.search(embedded).group(1)
    assert embedded == TALK.read_text().replace("<token>", token)


def test_the_literal_token_placeholder_is_refused_with_its_line_and_what_to_write(tmp_path):
    path = _talk_file(tmp_path, token="<token>")
    line = next(
        i
        for i, t in enumerate(path.read_text().splitlines(), 1)
        if "discovery: " in t and "<token>" in t
    )
    with pytest.raises(ConfigErrors) as err:
        load_cluster_config(path)
    text = str(err.value)
    assert f"{path}:{line}:" in text and "put a token there" in text
    proc = ClusterRun(tmp_path, path).cli("up", "-d", str(path), check=False)
    assert proc.returncode == 2 and f"{path}:{line}:" in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_seed_talk_boots_three_healthy_members_through_the_runs_own_discovery(tmp_path):
    run = ClusterRun(tmp_path, _talk_file(tmp_path))
    try:
        run.up()
        status = run.wait_for(
            lambda s: (
                sorted(n.get("role") for n in s["nodes"]).count("leader") == 1
                and all(n.get("role") in ("leader", "follower") for n in s["nodes"])
            ),
            timeout=60,
            what="three members with one leader",
        )
        health = run.cli("etcdctl", "cluster-health")
        assert (
            health.stdout.count(": got healthy result") == 3
            and "cluster is healthy" in health.stdout
        )
        served = json.loads((run.run_dir / "discovery.json").read_text())
        token = TOKEN.search(SEED_TALK.read_text()).group(1)
        assert served["tokens"][token]["size"] == 3
        assert len(served["tokens"][token]["registrations"]) == 3
        logs = run.cli("logs", "--json", "--grep", "listen_client|ssh_keys").stdout
        records = [json.loads(line) for line in logs.splitlines() if line.strip()]
        for node in status["nodes"]:
            listen = next(
                r for r in records
                if r["node"] == node["name"] and r["event"] == "etcd.listen_client"
            )  # fmt: skip
            assert listen["fields"]["configured"] == ["http://0.0.0.0:2379"]
            assert listen["fields"]["bound"] == f"http://{node['address']}:2379"
            keys = run.run_dir / "nodes" / node["name"] / "home/core/.ssh/authorized_keys"
            assert keys.read_text().startswith("ssh-rsa AAAAB3NzaC1yc2E")
            assert keys.stat().st_mode & 0o777 == 0o600
    finally:
        run.down()
