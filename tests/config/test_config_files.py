"""The shipped configs load as documented; each broken fixture reports exactly its marked lines."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from emulator.config import ConfigErrors, RebootStrategy, load_cluster_config

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(error|warning)\b")


def test_default_cluster_config():
    c = load_cluster_config(ROOT / "configs" / "cluster.yaml")
    assert c.warnings == ()
    assert (c.name, c.mode, c.subnet, c.faults) == ("coreemu", "subnet", "127.0.10.0/24", ())
    assert c.node_names == ("core-01", "core-02", "core-03")
    assert [n.address for n in c.nodes] == ["127.0.10.1", "127.0.10.2", "127.0.10.3"]
    for n in c.nodes:
        cc = n.cloud_config
        assert (cc.etcd2.heartbeat_interval, cc.etcd2.election_timeout) == (100, 1000)
        assert cc.etcd2.advertise_client_urls == (n.client_url,)
        assert cc.fleet.metadata and cc.fleet.public_ip == n.address
        assert cc.update.group == "stable"
        assert cc.update.reboot_strategy is RebootStrategy.ETCD_LOCK
    assert list(c.initial_cluster) == ["core-01", "core-02", "core-03"]
    assert c.raw_text == (ROOT / "configs" / "cluster.yaml").read_text()


def test_five_node_config():
    c = load_cluster_config(ROOT / "configs" / "five-node.yaml")
    assert c.warnings == ()
    assert len(c.nodes) == 5 and c.subnet == "127.0.11.0/24"
    assert c.node("core-05").address == "127.0.11.5"
    assert c.node("core-04").cloud_config.fleet.metadata == {"region": "local", "disk": "ssd"}
    assert c.node("core-01").cloud_config.fleet.metadata == {"region": "local"}
    assert len(c.initial_cluster) == 5


def test_the_two_ready_clusters_can_run_side_by_side():
    one = load_cluster_config(ROOT / "configs" / "cluster.yaml")
    five = load_cluster_config(ROOT / "configs" / "five-node.yaml")
    assert not {n.peer_endpoint for n in one.nodes} & {n.peer_endpoint for n in five.nodes}


def test_annotated_example_uses_every_section_and_loads_clean():
    c = load_cluster_config(ROOT / "configs" / "examples" / "annotated.yaml")
    assert c.warnings == ()
    assert (c.name, c.token, c.seed) == ("demo", "demo-token", 7)
    assert not c.node("core-03").is_member and set(c.initial_cluster) == {"core-01", "core-02"}
    cc = c.node("core-01").cloud_config
    assert cc.ssh_authorized_keys and cc.write_files and cc.units[2].drop_ins
    assert cc.locksmith.window_start == "Thu 04:00"
    assert c.node("core-02").cloud_config.update.group == "beta"
    assert len(c.faults) == 7
    assert [f.spec.kind.value for f in c.faults] == [
        "partition", "delay", "drop", "pause", "kill", "restart", "clear",
    ]  # fmt: skip


def expected_marks(path: Path) -> Counter[tuple[int, str]]:
    marks: Counter[tuple[int, str]] = Counter()
    for n, line in enumerate(path.read_text().splitlines(), 1):
        m = EXPECT.search(line)
        if m and not line.lstrip().startswith("#"):  # a mark follows content, not a comment line
            marks[(n, m.group(1))] += 1
    return marks


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_broken_fixture_reports_exactly_its_marked_lines(path: Path):
    with pytest.raises(ConfigErrors) as info:
        load_cluster_config(path)
    found = Counter((p.line, p.severity.value) for p in info.value.problems + info.value.warnings)
    assert found == expected_marks(path), "\n".join(
        map(str, info.value.problems + info.value.warnings)
    )
    assert all(str(p).startswith(f"{path}:{p.line}: ") for p in info.value.problems)


def test_three_mistakes_fixture_has_exactly_three_errors():
    with pytest.raises(ConfigErrors) as info:
        load_cluster_config(FIXTURES / "three-mistakes.yaml")
    assert len(info.value.problems) == 3
    assert len(str(info.value).splitlines()) == 3
    assert [p.key_path for p in info.value.problems] == [
        "network.port-offset",
        "cloud-config.coreos.update.reboot-strategy",
        "faults[0].kill",
    ]
