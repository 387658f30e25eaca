"""Starting etcd on a node: a member (Raft + keyspace + client port) or a proxy (client port only).

Who is a member: the config's initial cluster, or what discovery decided when the cloud-config
says ``discovery`` (a :class:`~emulator.discovery_registry.Bootstrap` the node resolved before
starting etcd). A member's client port is open while it is a voter (:class:`MemberPort`): once
removed through ``/v2/members`` it closes, as etcd's does when its process exits on learning it
was removed; added back, it opens again. The node process and its member stay, so an added-back
member catches up from its own log.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from actors.etcd.admin import AdminRoutes, MemberInfo, member_id
from actors.etcd.http import ClientServer
from actors.etcd.member import RAFT_ACTOR, EtcdMember
from actors.etcd.metrics import MemberMetrics
from actors.etcd.proxy import ProxyMembers
from actors.etcd.requests import MemberQuery, MemberSettings, QueryKind
from emulator.discovery_registry import Bootstrap, BootstrapRole
from emulator.nodectx import NodeContext

UNSAFE_READS_ENV = "COREEMU_UNSAFE_READS"  # see MemberSettings.unsafe_reads
QUORUM_READS_ENV = "COREEMU_QUORUM_READS"  # "log": MemberSettings.quorum_reads_via_log
PORT_RETRIES = 10  # reopening a client port: attempts, 0.2 s apart


@dataclass
class EtcdService:
    member: Any  # ActorRef or None on a proxy
    server: Any  # a ClientServer (proxy) or a MemberPort (member)

    def stop(self) -> None:
        self.server.stop()
        if self.member is not None:
            self.member.stop(timeout=5)


class MemberPort:
    """A member's client port, open while the member is a voter (see the module docstring)."""

    def __init__(self, make: Callable[[], ClientServer], name: str, ctx: NodeContext):
        self._make = make
        self._name = name
        self._ctx = ctx
        self._log = ctx.actor_log("etcd-http")
        self._lock = threading.Lock()
        self._server: ClientServer | None = None
        self._want = True
        self._stopped = False

    @property
    def is_open(self) -> bool:
        return self._server is not None

    def set_open(self, want: bool) -> None:
        """Open or close the port now (blocking; raises if it cannot be opened)."""
        with self._lock:
            self._want = want
            self._sync(retries=1)

    def voters_changed(self, voters: tuple[str, ...]) -> None:
        """From the member (on the node's loop): follow the new membership on a thread of its
        own, since opening the port waits on that loop."""
        self._want = self._name in voters
        threading.Thread(target=self._sync_locked, name="etcd-port", daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._server is not None:
                self._server.stop()
                self._server = None

    def _sync_locked(self) -> None:
        with self._lock:
            try:
                self._sync(retries=PORT_RETRIES)
            except RuntimeError as exc:
                self._log.error("member.port_failed", error=str(exc))

    def _sync(self, retries: int) -> None:
        if self._stopped:
            return
        self._ctx.board.publish("membership", {"voter": self._want})
        if self._want == (self._server is not None):
            return
        if not self._want:
            self._server.stop()  # type: ignore[union-attr]
            self._server = None
            self._log("member.port_closed", reason="removed from the cluster")
        else:
            for attempt in range(retries):
                server = self._make()
                try:
                    server.start_and_wait()
                except RuntimeError:
                    if attempt == retries - 1:
                        raise
                    time.sleep(0.2)
                    continue
                self._server = server
                break
            self._log("member.port_opened")


def member_infos(cfg: Any, bootstrap: Bootstrap | None) -> dict[str, MemberInfo]:
    """The nodes that run an etcd member, by node name (their Raft id), each with its etcd
    member name (``etcd2.name``, the node's name unless set): the initial cluster, or
    discovery's pick."""
    if bootstrap is None:
        return {
            n.name: MemberInfo(_etcd_name(n), (n.peer_url,), (n.client_url,))
            for n in cfg.nodes
            if _etcd_name(n) in cfg.initial_cluster
        }
    by_url = {u: n for n in cfg.nodes for u in _peer_urls(n)}
    out = {}
    for peer in bootstrap.members:
        node = next((by_url[u] for u in peer.peer_urls if u in by_url), None)
        if node is None or _etcd_name(node) != peer.name:
            raise RuntimeError(
                f"discovery lists member {peer.name} at {', '.join(peer.peer_urls)}, which is no "
                f"node of this cluster (nodes: {', '.join(n.name for n in cfg.nodes)})"
            )
        out[node.name] = MemberInfo(peer.name, peer.peer_urls, (node.client_url,))
    return out


def _etcd_name(node: Any) -> str:
    return node.cloud_config.etcd2.name or node.name


def _peer_urls(node: Any) -> tuple[str, ...]:
    advertised = node.cloud_config.etcd2.initial_advertise_peer_urls
    return tuple(dict.fromkeys((node.peer_url, *advertised)))


def _current_voters(member: Any, listener: Callable[[tuple[str, ...]], None]) -> tuple[str, ...]:
    answer: queue.Queue = queue.Queue()
    member.tell(MemberQuery(QueryKind.WATCH_VOTERS, answer.put, listener))
    deadline = time.monotonic() + 30
    # A member that failed to start (a corrupt WAL, a full disk) never answers: notice its death
    # at once instead of waiting out the timeout, so the node exits with the member's own error.
    while time.monotonic() < deadline:
        try:
            return answer.get(timeout=0.2)
        except queue.Empty:
            if not member.is_alive():
                raise RuntimeError("etcd member stopped while starting (see its log)") from None
    raise RuntimeError("etcd member did not answer within 30 s of starting")


def _log_listen(ctx: NodeContext, spec: Any) -> None:
    """Say where the client port binds: always the node's own address, which is what
    ``listen-client-urls: http://0.0.0.0:2379`` means on a machine with one interface."""
    urls = spec.cloud_config.etcd2.listen_client_urls
    wildcard = [u for u in urls if urlsplit(u).hostname in ("0.0.0.0", "::", "[::]")]
    ctx.actor_log("etcd-http")(
        "etcd.listen_client",
        configured=list(urls),
        bound=spec.client_url,
        **({"note": f"{wildcard[0]} binds the node's own address"} if wildcard else {}),
    )


def start_etcd(
    ctx: NodeContext, cfg: Any, spec: Any, transport: Any, bootstrap: Bootstrap | None = None
) -> EtcdService:
    etcd2 = spec.cloud_config.etcd2
    _log_listen(ctx, spec)
    members = member_infos(cfg, bootstrap)
    is_member = etcd2.is_member if bootstrap is None else bootstrap.role is BootstrapRole.MEMBER
    if not is_member:
        urls = ProxyMembers(
            [m.client_urls[0] for m in members.values()],
            etcd2.proxy_refresh_interval / 1000.0,
            lambda now: ctx.board.publish("proxy", {"members": now}),
        )
        server = ClientServer(
            host=spec.address,
            port=spec.client_port,
            member=None,
            admin=None,
            log=ctx.actor_log("etcd-proxy"),
            proxy_to=urls,
        )
        server.start_and_wait()
        ctx.board.publish("top", {"role": "proxy", "client_url": spec.client_url})
        ctx.board.publish("proxy", {"members": urls()})
        return EtcdService(None, server)
    metrics = MemberMetrics()
    settings = MemberSettings(
        voters=tuple(sorted(members)),
        heartbeat_ms=etcd2.heartbeat_interval,
        election_ms=etcd2.election_timeout,
        snapshot_count=etcd2.snapshot_count,
        token=etcd2.initial_cluster_token or cfg.token,
        unsafe_reads=os.environ.get(UNSAFE_READS_ENV) == "1",
        quorum_reads_via_log=os.environ.get(QUORUM_READS_ENV) == "log",
    )
    if settings.unsafe_reads:
        ctx.actor_log("raft")("member.unsafe_reads", level="warning",
                              note="quorum reads skip ReadIndex (COREEMU_UNSAFE_READS=1)")  # fmt: skip
    # the member and its client port run on the transport's loop (the node's): a write's
    # path inside the node then crosses no thread
    loop = transport.loop
    member = EtcdMember.start(ctx, settings, metrics, loop)
    transport.register(RAFT_ACTOR, member)
    nodes = {u: n.name for n in cfg.nodes for u in _peer_urls(n)}
    admin = AdminRoutes(
        name=_etcd_name(spec),
        node=spec.name,
        token=settings.token,
        members=members,
        metrics=metrics,
        nodes=nodes,
    )
    port = MemberPort(
        lambda: ClientServer(
            host=spec.address,
            port=spec.client_port,
            member=member,
            admin=admin,
            log=ctx.actor_log("etcd-http"),
            cluster_id=member_id(settings.token, settings.token),
            loop=loop,
        ),
        ctx.name,
        ctx,
    )
    port.set_open(ctx.name in _current_voters(member, port.voters_changed))
    return EtcdService(member, port)
