"""The cloud-config model: CoreOS key names, defaults, values, and the checks etcd/locksmith make."""

from __future__ import annotations

import base64
import gzip
import textwrap

import pytest

from emulator.config import (
    CloudConfig,
    ConfigErrors,
    ProxyMode,
    RebootStrategy,
    UnitCommand,
    parse_cloud_config,
)
from emulator.config.cloudconfig import go_duration, window_start
from emulator.config.yamlsource import ProblemLog

FULL = """\
#cloud-config
hostname: node-a
ssh_authorized_keys:
  - ssh-ed25519 AAAA key@a
write_files:
  - path: /etc/motd
    permissions: 0600
    owner: core
    content: hi $private_ipv4
coreos:
  etcd2:
    name: a
    discovery: https://discovery.etcd.io/abc
    advertise-client-urls: http://$private_ipv4:2379,http://$public_ipv4:4001
    initial-advertise-peer-urls: [http://$private_ipv4:2380]
    listen-client-urls: http://0.0.0.0:2379
    listen-peer-urls: http://$private_ipv4:2380
    initial-cluster-token: tok
    initial-cluster-state: existing
    heartbeat-interval: 50
    election-timeout: 500
    snapshot-count: 500
    proxy: readonly
    data-dir: /var/lib/etcd2
  fleet:
    public-ip: $private_ipv4
    metadata: "region=us-east, disk=ssd"
    agent-ttl: 45s
    engine-reconcile-interval: 5
    etcd-servers: http://$private_ipv4:2379
    verbosity: 2
  update:
    reboot-strategy: off
    group: beta
    server: http://updates.local/v1/update/
  locksmith:
    window-start: Thu 04:00
    window-length: 1h30m
    group: west
    endpoint: http://127.0.0.1:2379
  units:
    - name: hello.service
      command: reload-or-try-restart
      enable: true
      runtime: true
      mask: false
      content: |
        [Service]
        ExecStart=/bin/echo $private_ipv4
      drop-ins:
        - name: 10-x.conf
          content: "[Service]\\nEnvironment=A=1"
"""

SUBS = {"private_ipv4": "127.0.10.4", "public_ipv4": "127.0.10.4"}


def problems(text: str) -> tuple[list[tuple[int | None, str, str]], list[tuple[int | None, str]]]:
    log = ProblemLog("cc")
    parse_cloud_config(textwrap.dedent(text), substitutions=SUBS, log=log)
    return [(p.line, p.key_path, p.message) for p in log.errors], [
        (p.line, p.key_path) for p in log.warnings
    ]


def test_full_cloud_config_reads_every_field():
    cc = parse_cloud_config(FULL, substitutions=SUBS)
    assert cc.hostname == "node-a"
    assert cc.ssh_authorized_keys == ("ssh-ed25519 AAAA key@a",)
    (wf,) = cc.write_files
    assert (wf.path, wf.permissions, wf.mode, wf.owner) == ("/etc/motd", "0600", 0o600, "core")
    assert wf.content == "hi 127.0.10.4" and wf.data() == b"hi 127.0.10.4"
    e = cc.etcd2
    assert e.name == "a" and e.discovery == "https://discovery.etcd.io/abc"
    assert e.advertise_client_urls == ("http://127.0.10.4:2379", "http://127.0.10.4:4001")
    assert e.initial_advertise_peer_urls == ("http://127.0.10.4:2380",)
    assert e.listen_client_urls == ("http://0.0.0.0:2379",)
    assert (e.initial_cluster_token, e.initial_cluster_state) == ("tok", "existing")
    assert (e.heartbeat_interval, e.election_timeout, e.snapshot_count) == (50, 500, 500)
    assert e.proxy is ProxyMode.READONLY and not e.is_member
    assert e.data_dir == "/var/lib/etcd2"
    f = cc.fleet
    assert f.public_ip == "127.0.10.4"
    assert f.metadata == {"region": "us-east", "disk": "ssd"}
    assert (f.agent_ttl, f.engine_reconcile_interval, f.verbosity) == (45.0, 5.0, 2)
    assert f.etcd_servers == ("http://127.0.10.4:2379",)
    assert cc.update.reboot_strategy is RebootStrategy.OFF  # unquoted YAML `off` still means "off"
    assert (cc.update.group, cc.update.server) == ("beta", "http://updates.local/v1/update/")
    lk = cc.locksmith
    assert (lk.window_start, lk.window_length, lk.group) == ("Thu 04:00", "1h30m", "west")
    assert lk.window_start_parts == (3, 4, 0) and lk.window_length_seconds == 5400.0
    (unit,) = cc.units
    assert unit.command is UnitCommand.RELOAD_OR_TRY_RESTART
    assert (unit.enable, unit.runtime, unit.mask) == (True, True, False)
    assert "ExecStart=/bin/echo 127.0.10.4" in unit.content
    assert unit.drop_ins[0].name == "10-x.conf"
    assert cc.unit("hello.service") is unit and cc.unit("nope.service") is None


def test_defaults_are_coreos_defaults():
    cc = parse_cloud_config("#cloud-config\n")
    assert cc == CloudConfig()
    assert (cc.etcd2.heartbeat_interval, cc.etcd2.election_timeout) == (100, 1000)
    assert cc.etcd2.snapshot_count == 10000 and cc.etcd2.proxy == "off"
    assert cc.fleet.agent_ttl == 30.0 and cc.fleet.engine_reconcile_interval == 2.0
    assert cc.update.reboot_strategy == "best-effort" and cc.update.group == "stable"


def test_hyphen_and_underscore_spellings_are_equal():
    hyphens = "#cloud-config\ncoreos:\n  update: {reboot-strategy: etcd-lock}\n  etcd2: {heartbeat-interval: 60, election-timeout: 600}\n"
    underscores = (
        hyphens.replace("reboot-strategy", "reboot_strategy")
        .replace("-interval", "_interval")
        .replace("election-", "election_")
    )
    assert underscores != hyphens
    assert parse_cloud_config(hyphens) == parse_cloud_config(underscores)
    assert parse_cloud_config("#cloud-config\nssh-authorized-keys: [k]\n").ssh_authorized_keys == (
        "k",
    )


def test_fleet_durations_take_go_durations_too():
    text = "#cloud-config\ncoreos:\n  fleet: {agent-ttl: 1m30s, engine-reconcile-interval: 500ms}\n"
    fleet = parse_cloud_config(text).fleet
    assert (fleet.agent_ttl, fleet.engine_reconcile_interval) == (90.0, 0.5)
    errors, _ = problems("#cloud-config\ncoreos:\n  fleet: {agent-ttl: 0s}\n")
    assert errors == [(3, "coreos.fleet.agent-ttl", "must be more than zero, got 0s")]


def test_header_is_required():
    with pytest.raises(ConfigErrors, match="must start with the line '#cloud-config'"):
        parse_cloud_config("coreos: {}\n")


@pytest.mark.parametrize(
    ("heartbeat", "election", "ok"),
    [
        (100, 500, True),
        (100, 499, False),
        (100, 1000, True),
        (300, 1000, False),
        (10, 50000, True),
        (100, 50001, False),
    ],
)
def test_election_timeout_follows_etcds_rules(heartbeat, election, ok):
    errors, _ = problems(f"""\
        #cloud-config
        coreos:
          etcd2:
            heartbeat-interval: {heartbeat}
            election-timeout: {election}
        """)
    assert (errors == []) == ok
    if not ok:
        assert errors[0][:2] == (5, "coreos.etcd2.election-timeout")


def test_too_small_election_timeout_alone_points_at_it():
    errors, _ = problems("#cloud-config\ncoreos:\n  etcd2:\n    election-timeout: 300\n")
    assert errors == [(4, "coreos.etcd2.election-timeout", errors[0][2])]
    assert "at least 5 times heartbeat-interval (100 ms)" in errors[0][2]


def test_bad_enums_name_the_choices():
    errors, _ = problems("""\
        #cloud-config
        coreos:
          update: {reboot-strategy: sometimes}
          etcd2: {proxy: maybe, initial-cluster-state: old}
          units: [{name: a.service, command: begin}]
        """)
    assert [(line, path) for line, path, _ in errors] == [
        (3, "coreos.update.reboot-strategy"),
        (4, "coreos.etcd2.proxy"),
        (4, "coreos.etcd2.initial-cluster-state"),
        (5, "coreos.units[0].command"),
    ]
    assert "etcd-lock, reboot, off, best-effort" in errors[0][2]


def test_wrong_types_are_errors():
    errors, _ = problems("""\
        #cloud-config
        hostname: [a]
        ssh_authorized_keys: key
        write_files: {path: /x}
        coreos:
          etcd2: [1]
          fleet: {verbosity: loud, agent-ttl: true}
          units: [{name: a.service, enable: "yes"}]
        """)
    assert [line for line, _, _ in errors] == [2, 3, 4, 6, 7, 7, 8]


def test_discovery_and_initial_cluster_together_is_an_error():
    errors, _ = problems("""\
        #cloud-config
        coreos:
          etcd2:
            discovery: https://discovery.etcd.io/x
            initial-cluster: a=http://127.0.0.1:2380
        """)
    assert [(line, path) for line, path, _ in errors] == [(4, "coreos.etcd2.discovery")]


def test_initial_cluster_format():
    errors, _ = problems(
        "#cloud-config\ncoreos:\n  etcd2:\n    initial-cluster: a=http://x:2380,b\n"
    )
    assert (
        errors[0][:2] == (4, "coreos.etcd2.initial-cluster")
        and "'b' is not name=peer-url" in errors[0][2]
    )
    cc = parse_cloud_config(
        "#cloud-config\ncoreos:\n  etcd2:\n    initial-cluster: a=http://x:2380,b=http://y:2380,a=http://z:2380\n"
    )
    assert cc.etcd2.initial_cluster_members() == {"a": "http://x:2380", "b": "http://y:2380"}


def test_locksmith_window_needs_both_halves():
    errors, _ = problems("#cloud-config\ncoreos:\n  locksmith:\n    window-start: '04:00'\n")
    assert errors == [
        (
            4,
            "coreos.locksmith.window-start",
            "locksmith needs window-start and window-length together",
        )
    ]


def test_write_files_encodings_decode_or_complain():
    payload = base64.b64encode(gzip.compress(b"hello")).decode()
    cc = parse_cloud_config(
        f"#cloud-config\nwrite_files:\n  - path: /a\n    encoding: gzip+base64\n    content: {payload}\n"
    )
    assert cc.write_files[0].data() == b"hello"
    errors, _ = problems(
        "#cloud-config\nwrite_files:\n  - path: /a\n    encoding: gz\n    content: plain\n  - content: x\n"
    )
    assert [(line, path) for line, path, _ in errors] == [
        (5, "write_files[0].content"),
        (6, "write_files[1]"),
    ]
    assert "'path' is required" in errors[1][2]


def test_unknown_and_not_emulated_keys_are_warnings():
    errors, warnings = problems("""\
        #cloud-config
        users: [{name: core}]
        coreos:
          etcd2: {cert-file: /x, heartbeat: 5}
          flannel: {interface: eth0}
          update: {group: stable, rebootstrategy: off}
        """)
    assert errors == []
    assert warnings == [
        (2, "users"),
        (4, "coreos.etcd2.cert-file"),
        (4, "coreos.etcd2.heartbeat"),
        (5, "coreos.flannel"),
        (6, "coreos.update.rebootstrategy"),
    ]


def test_errors_name_the_value_as_written_not_as_substituted():
    errors, _ = problems(
        "#cloud-config\ncoreos:\n  etcd2:\n    listen-peer-urls: http://$private_ipv4\n"
    )
    assert errors[0][2] == "'http://$private_ipv4' needs a port to listen on"


def test_duplicate_units_warn_and_drop_ins_want_conf():
    _, warnings = problems("""\
        #cloud-config
        coreos:
          units:
            - {name: a.service, drop-ins: [{name: 10-x, content: ""}]}
            - {name: a.service}
        """)
    assert warnings == [(4, "coreos.units[0].drop-ins[0].name"), (5, "coreos.units[1].name")]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("100ms", 0.1), ("2h0m0s", 7200)],
)
def test_go_duration(text, seconds):
    assert go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["90", "1 h", "h", "", "-1h"])
def test_go_duration_rejects(text):
    with pytest.raises(ValueError):
        go_duration(text)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Thu 04:00", (3, 4, 0)),
        ("04:00", (None, 4, 0)),
        ("sun 23:59", (6, 23, 59)),
        ("7:05", (None, 7, 5)),
    ],
)
def test_window_start(text, parts):
    assert window_start(text) == parts


@pytest.mark.parametrize("text", ["24:00", "Thu", "Thursday 04:00", "04:60"])
def test_window_start_rejects(text):
    with pytest.raises(ValueError):
        window_start(text)
