"""The update service's state behind one lock: Omaha answers, payloads, admin changes, persistence.

Between the HTTP shell (:mod:`actors.updateservice.server`) and the pure rules
(:mod:`actors.updateservice.rollout`): it parses and builds Omaha XML with the node side's codec
(defusedxml; anything unusable gets an Omaha error answer), stamps requests with the service's
clock, writes the state to ``update-service-state.json`` in the run dir after every change (write
to a temporary file, then rename: a crash leaves the old state or the new, never half), and
copies what happened — grants, completions, errors, stopped rollouts, published releases — into
the run's ``history.jsonl``. A release published with a fault flag is a fault there too.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.update.omaha import (
    OmahaError,
    Package,
    Response,
    build_response,
    parse_request,
)
from actors.updateservice import rollout
from actors.updateservice.packages import PackageStore
from actors.updateservice.state import Release, ServiceState, StateError
from emulator.config.updateservice import UpdateServiceConfig
from emulator.history import History

STATE_FILE = "update-service-state.json"


class UpdateService:
    def __init__(
        self,
        cfg: UpdateServiceConfig,
        token: str,
        base_url: str,
        run_dir: Path | None,
        log: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self.run_dir = run_dir
        self.log = log or (lambda *a, **k: None)
        self.clock = clock
        self.packages = PackageStore(token, cfg.payload_size)
        self._lock = threading.RLock()
        self.history = History(run_dir / "history.jsonl") if run_dir else None
        self.state = self._load(cfg)
        self._seen = self.state.last_seq  # events up to here are in the history already

    # --- persistence -------------------------------------------------------------------------
    def _load(self, cfg: UpdateServiceConfig) -> ServiceState:
        path = self.run_dir / STATE_FILE if self.run_dir else None
        if path is not None and path.exists():
            try:
                state = ServiceState.from_json(json.loads(path.read_text()))
                state.apply_config(cfg)
                self.log("state.loaded", path=str(path), instances=len(state.instances))
                return state
            except (OSError, ValueError, StateError) as exc:
                self.log("state.unreadable", level="error", path=str(path), error=str(exc))
                path.replace(path.with_suffix(".bad"))  # keep it for a look; start afresh
        return ServiceState.from_config(cfg)

    def _save(self) -> None:
        if self.run_dir is None:
            return
        path = self.run_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.state.to_json(), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _changed(self) -> None:
        """Persist, and pass the rules' new events on to the log and the run's history."""
        self._save()
        for entry in self.state.events:
            if entry["seq"] <= self._seen:
                continue
            self._seen = entry["seq"]
            fields = {k: v for k, v in entry.items() if k not in ("seq", "at", "event")}
            self.log(entry["event"], **fields)
            if self.history is not None:
                self.history.record("update", event=entry["event"], **fields)

    # --- Omaha -------------------------------------------------------------------------------
    def _package_for(self, release: Release) -> tuple[str, Package]:
        return f"{self.base_url}/packages/{release.id}/", self.packages.package(release)

    def omaha(self, body: bytes) -> tuple[int, bytes]:
        """(HTTP status, XML) for an Omaha request body; never raises for bad input."""
        try:
            req = parse_request(body)
        except OmahaError as exc:
            self.log("omaha.bad_request", level="warning", error=str(exc))
            return 400, build_response(Response(app_id="", app_status="error-invalidRequest"))
        with self._lock:
            response, decision = rollout.handle_request(
                self.state, req, self.clock(), self._package_for
            )
            if decision.offered is None and decision.reason:
                self.log("omaha.noupdate", machine_id=decision.machine_id, reason=decision.reason,
                         level="debug")  # fmt: skip
            self._changed()
        return 200, build_response(response)

    def payload(self, release_id: str) -> bytes | None:
        with self._lock:
            release = self.state.releases.get(release_id)
        return None if release is None else self.packages.get(release)[0]

    # --- admin -------------------------------------------------------------------------------
    def publish(self, channel: str, version: str, origin: str = "admin API", **flags: bool) -> dict:
        with self._lock:
            before = self._faulty_on_channels()
            release = rollout.publish(self.state, channel, version, self.clock(), **flags)
            self.packages.get(release)  # build (and check) now, not on the first download
            self._changed()
            self._fault_history(before, origin)
        return self.release_json(release)

    def promote(self, source: str, target: str) -> dict:
        with self._lock:
            before = self._faulty_on_channels()
            release = rollout.promote(self.state, source, target, self.clock())
            self._changed()
            self._fault_history(before, "admin API")
        return self.release_json(release)

    def _faulty_on_channels(self) -> set[str]:
        return {
            rid for rid in self.state.channels.values() if rid and self.state.releases[rid].faults
        }

    def _fault_history(self, before: set[str], origin: str) -> None:
        """A faulty release is a fault from its publication until no channel serves it."""
        if self.history is None:
            return
        after = self._faulty_on_channels()
        for rid, phase in [(r, "start") for r in sorted(after - before)] + [
            (r, "end") for r in sorted(before - after)
        ]:
            rel = self.state.releases[rid]
            text = f"release {rel.channel} {rel.version} {' '.join(rel.faults)}"
            extra = {"duration_s": None, "origin": origin} if phase == "start" else {
                "reason": "replaced on its channel"}  # fmt: skip
            self.history.record("fault", phase=phase, id=f"release:{rid}", kind="release",
                                fault=text, nodes=[], **extra)  # fmt: skip

    def set_policy(self, group: str, changes: dict[str, Any]) -> dict:
        with self._lock:
            rollout.set_policy(self.state, group, self.clock(), **changes)
            self._changed()
            return self.state.to_json()["groups"][group]

    def release_json(self, release: Release) -> dict[str, Any]:
        _, package = self.packages.get(release)
        data = self.state.to_json()["releases"][release.id]
        data.update(faults=release.faults, size=package.size, sha256=package.sha256_hex,
                    url=self._package_for(release)[0] + package.name)  # fmt: skip
        return data

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-ready data (channels name their release's version)."""
        with self._lock:
            data = self.state.to_json()
        data["url"] = self.base_url
        data["channel_versions"] = {
            c: (data["releases"][rid]["version"] if rid else None)
            for c, rid in data["channels"].items()
        }
        return data
