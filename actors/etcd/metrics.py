"""Prometheus metrics for one member, named as etcd names them where etcd has the metric."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from actors.raft.ready import Role


class MemberMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.has_leader = Gauge(
            "etcd_server_has_leader", "Whether a leader exists (1) or not (0).", registry=r
        )
        self.is_leader = Gauge(
            "etcd_server_is_leader", "Whether this member is the leader.", registry=r
        )
        self.term = Gauge("etcd_server_term", "The current Raft term.", registry=r)
        self.leader_changes = Gauge(
            "etcd_server_leader_changes_seen_total",
            "Leader changes seen by this member.",
            registry=r,
        )
        self.committed = Gauge(
            "etcd_server_proposals_committed_total", "Consensus proposals committed.", registry=r
        )
        self.applied = Gauge(
            "etcd_server_proposals_applied_total", "Consensus proposals applied.", registry=r
        )
        self.pending = Gauge(
            "etcd_server_proposals_pending", "Proposals waiting for commit.", registry=r
        )
        self.failed = Gauge("etcd_server_proposals_failed_total", "Failed proposals.", registry=r)
        self.persisted_aside = Gauge(
            "coreemu_wal_writes_aside_total",
            "Batches of a leader's entries written and fsynced on the WAL thread while the "
            "member went on taking acks and writes.",
            registry=r,
        )
        self.duplicate_proposals = Gauge(
            "coreemu_raft_duplicate_proposals_total",
            "Proposals forwarded by a follower that reached this leader again (a network that "
            "duplicates messages) and were appended once, not twice.",
            registry=r,
        )
        self.apply_lag = Gauge(
            "coreemu_raft_apply_lag", "Committed but not yet applied entries.", registry=r
        )
        self.stage_sum = Gauge(
            "coreemu_write_stage_seconds_sum",
            "Seconds per stage of the client writes answered here: parse (HTTP parse), queue "
            "(client port to member), replicate (propose to commit), apply (apply, render), reply "
            "(answer written); and of this leader's appends: follower (sent to acked).",
            ["stage"],
            registry=r,
        )
        self.stage_count = Gauge(
            "coreemu_write_stage_count",
            "Client writes (or appends, for follower) timed per stage.",
            ["stage"],
            registry=r,
        )
        self.fsync = Histogram(
            "etcd_disk_wal_fsync_duration_seconds",
            "The latency of the WAL's fsync calls (one per batch of records), the fsync alone.",
            buckets=(
                0.0005,
                0.001,
                0.002,
                0.004,
                0.008,
                0.016,
                0.032,
                0.064,
                0.128,
                0.256,
                0.512,
                1.024,
            ),
            registry=r,
        )

    def update(self, view: dict[str, Any]) -> None:
        """Set the gauges from the member's view (``MemberCore.view``) when /metrics is scraped."""
        status, c = view["status"], view["counters"]
        self.has_leader.set(1 if status.leader else 0)
        self.is_leader.set(1 if status.role is Role.LEADER else 0)
        self.term.set(status.term)
        self.leader_changes.set(c.leader_changes)
        self.committed.set(status.commit)
        self.applied.set(status.applied)
        self.pending.set(view["pending_writes"])
        self.failed.set(c.proposals_failed)
        self.persisted_aside.set(c.persisted_aside)
        self.duplicate_proposals.set(view["duplicate_proposals"])
        self.apply_lag.set(max(0, status.commit - status.applied))
        for stage, seconds in view["stage_seconds"].items():
            self.stage_sum.labels(stage).set(seconds)
            self.stage_count.labels(stage).set(view["stage_count"][stage])

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
