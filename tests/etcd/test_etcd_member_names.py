"""``etcd2.name`` different from the node name: Raft ids stay node names, while /v2/members,
member ids and stats use the etcd member name, from a static initial cluster or discovery."""

from __future__ import annotations

import asyncio
import json

import pytest

from actors.etcd.admin import AdminRoutes, member_id
from actors.etcd.service import member_infos
from emulator.config.cluster import load_cluster_config
from emulator.discovery_registry import Bootstrap, BootstrapRole, Peer

CONFIG = """cluster: named
network:
  subnet: 127.0.66.0/24
nodes:
  - name: core-01
    cloud-config: |
      #cloud-config
      coreos:
        etcd2:
          name: alpha
  - name: core-02
  - name: core-03
"""


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    return load_cluster_config(path)


def test_members_are_keyed_by_node_and_named_by_etcd_name(cfg):
    infos = member_infos(cfg, None)
    assert sorted(infos) == ["core-01", "core-02", "core-03"]
    assert infos["core-01"].name == "alpha" and infos["core-02"].name == "core-02"
    assert infos["core-01"].client_urls == ("http://127.0.66.1:2379",)


def test_discovery_registrations_by_etcd_name_map_to_their_nodes(cfg):
    peers = (
        Peer("alpha", ("http://127.0.66.1:2380",), member_id("alpha", "t")),
        Peer("core-03", ("http://127.0.66.3:2380",), member_id("core-03", "t")),
    )
    infos = member_infos(cfg, Bootstrap(BootstrapRole.MEMBER, peers, "http://d/t"))
    assert {n: i.name for n, i in infos.items()} == {"core-01": "alpha", "core-03": "core-03"}
    wrong = (Peer("core-01", ("http://127.0.66.1:2380",), "x"),)  # the node's etcd name is alpha
    with pytest.raises(RuntimeError, match="no node of this cluster"):
        member_infos(cfg, Bootstrap(BootstrapRole.MEMBER, wrong, "http://d/t"))


class _Status:
    voters = ("core-01", "core-02", "core-03")
    leader = "core-01"


def test_the_member_list_and_ids_use_the_etcd_name(cfg):
    infos = member_infos(cfg, None)
    admin = AdminRoutes(name="alpha", node="core-01", token="t", members=infos, metrics=None)

    async def ask(make):
        return {"status": _Status()}

    admin.install(ask)
    response = asyncio.run(admin.list_members(None))
    members = json.loads(response.body)["members"]
    assert [(m["name"], m["id"]) for m in members] == [
        ("alpha", member_id("alpha", "t")),
        ("core-02", member_id("core-02", "t")),
        ("core-03", member_id("core-03", "t")),
    ]
    leader = json.loads(asyncio.run(admin.leader(None)).body)
    assert leader["name"] == "alpha"
    assert admin.changes._member_of(member_id("alpha", "t")) == "core-01"
