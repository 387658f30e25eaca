"""Cluster files: nodes and addresses, per-node cloud-config, faults, and how problems are reported."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from emulator.config import (
    ConfigErrors,
    NetworkMode,
    RebootStrategy,
    load_cluster_config,
    parse_cluster_config,
)
from emulator.faults import FaultKind


def cfg(text: str, **kw):
    return parse_cluster_config(textwrap.dedent(text), source="c.yaml", **kw)


def errors(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(ConfigErrors) as info:
        cfg(text)
    return [(p.line, p.key_path) for p in info.value.problems]


def messages(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        cfg(text)
    return [p.message for p in info.value.problems]


def test_an_empty_file_is_the_default_cluster():
    c = cfg("")
    assert (c.name, c.token, c.seed, c.mode) == ("coreemu", "coreemu-token", 1, "subnet")
    assert c.subnet == "127.0.10.0/24" and c.port_base is None
    assert [n.name for n in c.nodes] == ["core-01", "core-02", "core-03"]
    n = c.node("core-02")
    assert (n.index, n.address, n.client_port, n.peer_port) == (2, "127.0.10.2", 2379, 2380)
    assert n.client_url == "http://127.0.10.2:2379"
    assert n.peer_url == "http://127.0.10.2:2380"
    assert n.peer_endpoint == "tcp://127.0.10.2:2380"
    assert c.faults == () and c.warnings == ()


def test_node_defaults_come_from_the_node():
    n = cfg("cluster: demo\n").node("core-03")
    cc = n.cloud_config
    assert cc.hostname == "core-03"
    assert cc.etcd2.name == "core-03" and cc.etcd2.initial_cluster_token == "demo-token"
    assert cc.etcd2.advertise_client_urls == (n.client_url,)
    assert cc.etcd2.listen_peer_urls == (n.peer_url,)
    assert cc.etcd2.initial_cluster == (
        "core-01=http://127.0.10.1:2380,core-02=http://127.0.10.2:2380,core-03=http://127.0.10.3:2380"
    )
    assert cc.fleet.public_ip == "127.0.10.3" and cc.fleet.etcd_servers == (n.client_url,)
    assert cc.locksmith.endpoint == n.client_url


def test_name_token_seed_and_seed_override():
    text = "cluster: demo\ntoken: t-1\nseed: 7\n"
    assert (cfg(text).name, cfg(text).token, cfg(text).seed) == ("demo", "t-1", 7)
    assert cfg(text, seed=99).seed == 99
    assert cfg("cluster: demo\n").token == "demo-token"


def test_nodes_as_count_names_or_entries():
    assert cfg("nodes: 1\n").node_names == ("core-01",)
    assert cfg("nodes: 100\n").node_names[-1] == "core-100"
    assert cfg("nodes: 100\n").node_names[0] == "core-001"
    c = cfg("nodes: [alpha, beta]\n")
    assert c.node_names == ("alpha", "beta") and c.node("beta").address == "127.0.10.2"
    c = cfg("""\
        nodes:
          - alpha
          - name: beta
            cloud-config: {coreos: {update: {group: beta}}}
        """)
    assert c.node("alpha").cloud_config.update.group == "stable"
    assert c.node("beta").cloud_config.update.group == "beta"


HYPHENS = """\
cluster: spelled
network: {port-offset: 23000}
nodes:
  - name: a
    cloud-config: {coreos: {fleet: {agent-ttl: 5s}}}
  - b
cloud-config: |
  #cloud-config
  ssh-authorized-keys: [k]
  write-files: [{path: /x, content: y}]
  coreos:
    etcd2: {heartbeat-interval: 50, election-timeout: 500, snapshot-count: 7}
    fleet: {public-ip: $private_ipv4, engine-reconcile-interval: 3}
    update: {reboot-strategy: reboot}
    locksmith: {window-start: "04:00", window-length: 1h}
    units: [{name: u.service, drop-ins: [{name: 1.conf}]}]
overrides:
  b:
    cloud-config: {coreos: {update: {reboot-strategy: "off"}}}
"""
HYPHENATED_KEYS = (
    "port-offset", "cloud-config", "agent-ttl", "ssh-authorized-keys", "write-files",
    "heartbeat-interval", "election-timeout", "snapshot-count", "public-ip",
    "engine-reconcile-interval", "reboot-strategy", "window-start", "window-length", "drop-ins",
)  # fmt: skip


def test_hyphen_and_underscore_spellings_give_the_same_cluster():
    underscores = HYPHENS
    for key in HYPHENATED_KEYS:
        underscores = underscores.replace(f"{key}:", f"{key.replace('-', '_')}:")
    assert "-" not in "".join(re.findall(r"([a-z_-]+):", underscores)).replace("#cloud-config", "")
    one, two = cfg(HYPHENS), cfg(underscores)
    assert one.warnings == two.warnings == ()
    assert one.nodes == two.nodes and one.node("b").cloud_config.update.reboot_strategy == "off"
    assert one.node("a").cloud_config.fleet.agent_ttl == 5.0


def test_node_lookup_error_is_clear():
    with pytest.raises(
        KeyError,
        match=r"no node 'core-09' in cluster 'coreemu' \(nodes: core-01, core-02, core-03\)",
    ):
        cfg("").node("core-09")


def test_port_offset_mode_ports():
    c = cfg(
        "network:\n  port-offset: 22379\nnodes: 3\ncloud-config: {coreos: {fleet: {public-ip: $private_ipv4}}}\n"
    )
    assert c.mode is NetworkMode.PORT_OFFSET and c.subnet is None and c.port_base == 22379
    got = [(n.address, n.client_port, n.peer_port) for n in c.nodes]
    assert got == [
        ("127.0.0.1", 22379, 22380),
        ("127.0.0.1", 22389, 22390),
        ("127.0.0.1", 22399, 22400),
    ]
    assert c.node("core-02").client_url == "http://127.0.0.1:22389"
    assert c.node("core-02").cloud_config.fleet.public_ip == "127.0.0.1"
    assert c.initial_cluster["core-03"] == "http://127.0.0.1:22400"
    assert cfg("network: {port_offset: 30000}\n").port_base == 30000  # underscore spelling


def test_subnet_addresses_and_substitution():
    c = cfg("""\
        network: {subnet: 127.0.42.0/28}
        nodes: 3
        cloud-config: |
          #cloud-config
          coreos:
            etcd2:
              advertise-client-urls: http://$private_ipv4:2379
            fleet: {public-ip: $public_ipv4, metadata: "ip=$private_ipv4"}
        """)
    for n in c.nodes:
        assert n.address == f"127.0.42.{n.index}"
        assert n.cloud_config.etcd2.advertise_client_urls == (f"http://{n.address}:2379",)
        assert n.cloud_config.fleet.public_ip == n.address
        assert n.cloud_config.fleet.metadata == {"ip": n.address}
    assert c.warnings == ()


@pytest.mark.parametrize(
    ("subnet", "message"),
    [
        ("10.0.0.0/24", "not inside 127.0.0.0/8"),
        ("127.0.10.5/24", "is not a subnet like"),
        ("nonsense", "is not a subnet like"),
        ("::1/128", "not inside 127.0.0.0/8"),
        ("127.0.10.0/30", "has room for 2 nodes, the cluster has 3"),
    ],
)
def test_bad_subnets(subnet, message):
    text = f"network:\n  subnet: {subnet}\nnodes: 3\n"
    assert errors(text) == [(2, "network.subnet")]
    assert message in messages(text)[0]


def test_too_many_nodes_for_the_default_subnet_points_at_nodes():
    assert errors("nodes: 300\n") == [(1, "nodes")]


def test_network_mode_errors():
    assert errors("network:\n  subnet: 127.0.10.0/24\n  port-offset: 22379\n") == [
        (3, "network.port-offset")
    ]
    assert errors("network: {port-offset: 65530}\nnodes: 3\n") == [(1, "network.port-offset")]
    assert errors("network: {port-offset: 80}\n") == [(1, "network.port-offset")]


def test_node_name_errors():
    text = """\
        nodes:
          - core-01
          - core_02
          - leader
          - core-01
          - {cloud-config: {}}
        """
    assert errors(text) == [(3, "nodes[1]"), (4, "nodes[2]"), (5, "nodes[3]"), (6, "nodes[4]")]
    got = messages(text)
    assert "not a valid node name" in got[0] and "reserved for fault targets" in got[1]
    assert "listed twice (first at line 2)" in got[2] and "'name' is required" in got[3]
    assert errors("nodes: 0\n") == [(1, "nodes")]
    assert errors("nodes: []\n") == [(1, "nodes")]


def test_overrides_merge_deeply_and_replace_lists():
    c = cfg("""\
        nodes: 2
        cloud-config:
          coreos:
            fleet: {metadata: "region=us-east", agent-ttl: 10s}
            update: {reboot-strategy: etcd-lock, group: stable}
            units: [{name: a.service}, {name: b.service}]
        overrides:
          core-02:
            cloud-config: |
              #cloud-config
              coreos:
                fleet: {metadata: "disk=ssd"}
                update: {reboot_strategy: reboot}
                units: [{name: c.service}]
        """)
    one, two = c.node("core-01").cloud_config, c.node("core-02").cloud_config
    assert one.fleet.metadata == {"region": "us-east"} and two.fleet.metadata == {"disk": "ssd"}
    assert one.fleet.agent_ttl == two.fleet.agent_ttl == 10.0  # untouched keys stay
    assert one.update.reboot_strategy is RebootStrategy.ETCD_LOCK
    assert two.update.reboot_strategy is RebootStrategy.REBOOT  # other spelling, same key
    assert two.update.group == "stable"
    assert [u.name for u in one.units] == ["a.service", "b.service"]
    assert [u.name for u in two.units] == ["c.service"]


def test_override_for_unknown_node_and_errors_inside_overrides():
    text = """\
        nodes: 2
        overrides:
          core-03:
            cloud-config: {}
          core-02:
            cloud-config: |
              #cloud-config
              coreos:
                update:
                  reboot-strategy: sometimes
        """
    assert errors(text) == [
        (3, "overrides.core-03"),
        (10, "overrides.core-02.cloud-config.coreos.update.reboot-strategy"),
    ]


def test_a_problem_in_the_shared_cloud_config_is_reported_once():
    text = "nodes: 5\ncloud-config:\n  coreos:\n    update: {reboot-strategy: sometimes}\n"
    assert errors(text) == [(4, "cloud-config.coreos.update.reboot-strategy")]
    # even when the value holds $private_ipv4, which differs from node to node
    text = "nodes: 5\ncloud-config:\n  coreos:\n    fleet: {metadata: 'ip:$private_ipv4'}\n"
    assert errors(text) == [(4, "cloud-config.coreos.fleet.metadata")]
    assert messages(text) == ["metadata 'ip:$private_ipv4' is not key=value"]


def test_problems_come_in_file_order():
    text = """\
        faults:
          - {at: soon, kill: core-01}
        cloud-config:
          coreos: {update: {reboot-strategy: sometimes}}
        seed: many
        """
    assert [line for line, _ in errors(text)] == [2, 4, 5]


def test_three_mistakes_give_exactly_three_errors():
    text = """\
        network: {subnet: 127.0.10.0/33}
        cloud-config:
          coreos:
            etcd2: {heartbeat-interval: 100, election-timeout: 200}
        faults:
          - {at: 5s, for: 10s, partition: [core-01, core-09]}
        """
    assert errors(text) == [
        (1, "network.subnet"),
        (4, "cloud-config.coreos.etcd2.election-timeout"),
        (6, "faults[0].partition"),
    ]


def test_faults_are_parsed_with_times():
    c = cfg("""\
        faults:
          - {at: 5s, for: 10s, partition: [core-01, "core-02,core-03"]}
          - {at: 20, kill: core-02}
          - {at: 1m, until: 90s, delay: 200ms, jitter: 50ms}
        """)
    part, kill, delay = c.faults
    assert (part.at, part.duration, part.end, part.line) == (5.0, 10.0, 15.0, 2)
    assert part.spec.sides == (("core-01",), ("core-02", "core-03"))
    assert (kill.at, kill.duration, kill.end, kill.spec.kind) == (20.0, None, None, FaultKind.KILL)
    assert (delay.at, delay.duration, delay.spec.delay_ms) == (60.0, 30.0, 200.0)


def test_fault_errors_point_at_their_key():
    text = """\
        faults:
          - {for: 10s, kill: core-02}
          - {at: 5s, for: 1s, until: 9s, kill: core-02}
          - {at: 5s, until: 5s, kill: core-02}
          - {at: 5s, for: forever, kill: core-02}
          - at: 5s
            kill: core-07
          - {at: 5s, kill: core-01, stop: core-02}
          - {at: 5s, drop: 30%, jitter: 5ms}
          - kill core-01
        """
    assert errors(text) == [
        (2, "faults[0]"),
        (3, "faults[1].until"),
        (4, "faults[2].until"),
        (5, "faults[3].for"),
        (7, "faults[4].kill"),
        (8, "faults[5]"),
        (9, "faults[6].jitter"),
        (10, "faults[7]"),
    ]
    got = messages(text)
    assert "'at' is required" in got[0] and "not both" in got[1] and "must be after at" in got[2]
    assert "unknown node 'core-07'" in got[4] and "exactly one kind" in got[5]


def test_faults_section_must_be_a_list():
    assert errors("faults: {at: 5s, kill: core-01}\n") == [(1, "faults")]


def test_unknown_keys_are_warnings_on_a_good_config():
    c = cfg("""\
        cluster: demo
        colour: blue
        network: {subnet: 127.0.10.0/24, mtu: 1500}
        overrides:
          core-01:
            cloud-config: {}
            extra: 1
        """)
    assert [(p.line, p.key_path, p.severity) for p in c.warnings] == [
        (2, "colour", "warning"),
        (3, "network.mtu", "warning"),
        (7, "overrides.core-01.extra", "warning"),
    ]


def test_initial_cluster_leaves_out_proxies():
    c = cfg(
        "nodes:\n  - a\n  - b\n  - name: c\n    cloud-config: {coreos: {etcd2: {proxy: 'on'}}}\n"
    )
    assert c.initial_cluster == {"a": "http://127.0.10.1:2380", "b": "http://127.0.10.2:2380"}
    assert not c.node("c").is_member and c.node("a").is_member
    assert (
        c.node("c").cloud_config.etcd2.initial_cluster
        == "a=http://127.0.10.1:2380,b=http://127.0.10.2:2380"
    )


def test_explicit_initial_cluster_is_kept_and_checked():
    ic = "core-01=http://127.0.10.1:2380,core-02=http://127.0.10.2:2380"
    c = cfg(f"nodes: 2\ncloud-config: {{coreos: {{etcd2: {{initial-cluster: '{ic}'}}}}}}\n")
    assert c.initial_cluster == {
        "core-01": "http://127.0.10.1:2380",
        "core-02": "http://127.0.10.2:2380",
    }
    text = f"nodes: 3\ncloud-config:\n  coreos:\n    etcd2:\n      initial-cluster: '{ic}'\n"
    assert errors(text) == [(5, "cloud-config.coreos.etcd2.initial-cluster")]
    assert "member 'core-03' (core-03) is not in initial-cluster" in messages(text)[0]


def test_initial_cluster_must_agree_between_members():
    text = """\
        nodes: 2
        cloud-config: {coreos: {etcd2: {initial-cluster: "core-01=http://127.0.10.1:2380,core-02=http://127.0.10.2:2380"}}}
        overrides:
          core-02:
            cloud-config:
              coreos: {etcd2: {initial-cluster: "core-01=http://127.0.10.1:2380,core-02=http://127.0.10.2:2390"}}
        """
    assert errors(text) == [(6, "overrides.core-02.cloud-config.coreos.etcd2.initial-cluster")]


def test_etcd_needs_a_member_and_unique_names():
    assert errors("cloud-config:\n  coreos:\n    etcd2: {proxy: 'on'}\n") == [
        (3, "cloud-config.coreos.etcd2.proxy")
    ]
    text = "cloud-config:\n  coreos:\n    etcd2:\n      name: same\n"
    assert errors(text) == [(4, "cloud-config.coreos.etcd2.name")]
    assert "given to core-01, core-02, core-03" in messages(text)[0]


def test_advertised_urls_that_miss_the_node_are_warned_about_once():
    c = cfg(
        "nodes: 2\ncloud-config:\n  coreos:\n    etcd2: {advertise-client-urls: 'http://localhost:2379'}\n"
    )
    (w,) = c.warnings
    assert (w.line, w.key_path) == (4, "cloud-config.coreos.etcd2.advertise-client-urls")
    assert "the emulator uses http://127.0.10.1:2379, http://127.0.10.2:2379" in w.message


def test_bad_top_level_shapes():
    assert errors("- a\n- b\n") == [(1, "")]
    assert errors("cloud-config: 42\n") == [(1, "cloud-config")]
    assert errors("a: [1\n") == [(2, "")]


def test_describe_summarises():
    c = cfg("cluster: demo\nseed: 3\nfaults:\n  - {at: 5s, for: 10s, kill: core-01}\n")
    text = c.describe()
    assert (
        text.splitlines()[0]
        == "cluster demo (token demo-token, seed 3): 3 nodes, subnet 127.0.10.0/24"
    )
    assert "core-02" in text and "http://127.0.10.2:2379" in text and "stable/best-effort" in text
    assert "at 5s for 10s: kill core-01" in text


def test_load_from_a_file(tmp_path: Path):
    path = tmp_path / "c.yaml"
    text = "cluster: filed\nnodes: 2\nseed: 4\n"
    path.write_text(text)
    c = load_cluster_config(path, seed=5)
    assert (c.name, c.seed, c.source, c.raw_text) == ("filed", 5, path, text)
    with pytest.raises(ConfigErrors) as info:
        load_cluster_config(tmp_path / "missing.yaml")
    assert "cannot read the file" in str(info.value)
    path.write_text("seed: x\n")
    with pytest.raises(ConfigErrors) as info:
        load_cluster_config(path)
    assert str(info.value) == f"{path}:1: seed: expected a whole number, got 'x'"
