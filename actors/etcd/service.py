"""Starting etcd on a node: a member (Raft + keyspace + client port) or a proxy (client port only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.etcd.admin import AdminRoutes, MemberInfo, member_id
from actors.etcd.http import ClientServer
from actors.etcd.member import RAFT_ACTOR, EtcdMember, MemberSettings
from actors.etcd.metrics import MemberMetrics
from emulator.nodectx import NodeContext


@dataclass
class EtcdService:
    member: Any  # ActorRef or None on a proxy
    server: ClientServer

    def stop(self) -> None:
        self.server.stop()
        if self.member is not None:
            self.member.stop(timeout=5)


def start_etcd(ctx: NodeContext, cfg: Any, spec: Any, transport: Any) -> EtcdService:
    etcd2 = spec.cloud_config.etcd2
    members = {
        n.name: MemberInfo(n.name, (n.peer_url,), (n.client_url,))
        for n in cfg.nodes
        if n.name in cfg.initial_cluster
    }
    if not etcd2.is_member:
        urls = [m.client_urls[0] for m in members.values()]
        server = ClientServer(
            host=spec.address,
            port=spec.client_port,
            member=None,
            admin=None,
            log=ctx.actor_log("etcd-proxy"),
            proxy_to=lambda: urls,
        )
        server.start_and_wait()
        ctx.board.publish("top", {"role": "proxy", "client_url": spec.client_url})
        return EtcdService(None, server)
    metrics = MemberMetrics()
    settings = MemberSettings(
        voters=tuple(sorted(cfg.initial_cluster)),
        heartbeat_ms=etcd2.heartbeat_interval,
        election_ms=etcd2.election_timeout,
        snapshot_count=etcd2.snapshot_count,
        token=etcd2.initial_cluster_token or cfg.token,
    )
    member = EtcdMember.start(ctx, settings, metrics)
    transport.register(RAFT_ACTOR, member)
    admin = AdminRoutes(name=spec.name, token=settings.token, members=members, metrics=metrics)
    server = ClientServer(
        host=spec.address,
        port=spec.client_port,
        member=member,
        admin=admin,
        log=ctx.actor_log("etcd-http"),
        cluster_id=member_id(settings.token, settings.token),
    )
    server.start_and_wait()
    return EtcdService(member, server)
