"""The update_engine actor: feeds :class:`EngineCore` ticks and results, carries out its effects.

Network work (Omaha posts, the payload download) runs on one helper thread, in order, so event 13
goes out before the download starts; each result comes back to the actor as a message. Disk work
(install into the passive slot, mark good) runs on the actor's thread through :class:`GptDisk`,
which fsyncs. The actor never waits on another actor.
"""

from __future__ import annotations

import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.update import gptprio, omaha
from actors.update.codes import ErrorCode
from actors.update.disk import DiskError, GptDisk
from actors.update.engine import (
    Download,
    EngineCore,
    Entered,
    Install,
    MarkGood,
    Note,
    Op,
    PostOmaha,
    RevertInstall,
    UpdateStatus,
)
from actors.update.payload import PayloadError
from emulator.nodectx import NodeActor, NodeContext
from emulator.ticker import Tick

TICK_S = 0.5
HTTP_TIMEOUT_S = 10.0
CHUNK = 64 * 1024


# --- messages to the actor (local only) --------------------------------------------------------
@dataclass(frozen=True)
class CheckNow:
    interactive: bool = True


@dataclass(frozen=True)
class ResetStatus:
    pass


@dataclass(frozen=True)
class OmahaAnswered:
    check: bool
    response: omaha.Response | None
    error: ErrorCode | None


@dataclass(frozen=True)
class DownloadProgress:
    received: int


@dataclass(frozen=True)
class DownloadDone:
    data: bytes | None
    error: str | None


class NetWorker(threading.Thread):
    """One daemon thread doing the blocking HTTP calls in order; results are told to ``ref``."""

    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                job()
            except Exception:  # a job reports its own failures; never kill the worker
                pass

    def stop(self) -> None:
        self.jobs.put(None)


# Plain urllib here, not the project's http_request (which reads a whole body): the Omaha answer
# is read up to a bound, the payload in chunks that report progress.
def post_omaha(url: str, request: omaha.Request) -> tuple[omaha.Response | None, ErrorCode | None]:
    req = urllib.request.Request(
        url, data=omaha.build_request(request), headers={"Content-Type": "text/xml"}
    )
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
            body = resp.read(omaha.MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError:
        return None, ErrorCode.OMAHA_ERROR_IN_HTTP_RESPONSE
    except (OSError, ValueError):  # refused, timed out, reset, a bad URL
        return None, ErrorCode.OMAHA_REQUEST_ERROR
    try:
        return omaha.parse_response(body), None
    except omaha.OmahaError:
        return None, ErrorCode.OMAHA_REQUEST_XML_PARSE_ERROR


def download(url: str, size: int, progress: Callable[[int], None]) -> tuple[bytes | None, str]:
    """At most ``size + 1`` bytes (one more shows the payload is too long)."""
    buf = bytearray()
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp:
            while len(buf) <= size:
                chunk = resp.read(min(CHUNK, size + 1 - len(buf)))
                if not chunk:
                    break
                buf += chunk
                progress(len(buf))
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return bytes(buf), ""


class UpdateEngineActor(NodeActor):
    actor_name = "update_engine"

    def __init__(
        self,
        ctx: NodeContext,
        core: EngineCore,
        disk: GptDisk,
        server_url: str,
        on_status: Callable[[UpdateStatus], None],
    ):
        super().__init__(ctx)
        self.core = core
        self.disk = disk
        self.server_url = server_url
        self.on_status = on_status  # the handle's: keep a snapshot, tell subscribers
        self.worker = NetWorker(f"update-net-{ctx.name}")

    # --- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.worker.start()
        self.ctx.ticker.subscribe(self.actor_ref, TICK_S)
        self.log("update_engine.start", server=self.server_url, **self._brief())
        self._status_changed()

    def on_stop(self) -> None:
        self.worker.stop()

    def _brief(self) -> dict[str, Any]:
        cfg = self.core.cfg
        return {"version": cfg.version, "partition": cfg.partition, "track": cfg.track}

    # --- inputs -----------------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> None:
        self._run(self.core.tick(time.monotonic(), self.ctx.clock.time()))

    def on_local(self, message: Any) -> Any:
        now = time.monotonic()
        if isinstance(message, CheckNow):
            effects = self.core.check_now(now, self.ctx.clock.time(), message.interactive)
            self._run(effects)
            return self.core.status()
        if isinstance(message, ResetStatus):
            self._run(self.core.reset_status())
            return self.core.status()
        if isinstance(message, OmahaAnswered):
            if message.check:
                self._run(self.core.check_answered(now, message.response, message.error))
            else:
                self._run(self.core.event_posted(now, message.response is not None))
        elif isinstance(message, DownloadProgress):
            self._run(self.core.download_progress(message.received))
        elif isinstance(message, DownloadDone):
            self._run(self.core.download_finished(now, message.data, message.error))
        elif message == "status":
            return self.core.status()
        else:
            return super().on_local(message)
        return None

    # --- effects ----------------------------------------------------------------------------
    def _run(self, effects: list[Any]) -> None:
        before = self.core.status()
        pending = list(effects)
        while pending:
            effect = pending.pop(0)
            pending[:0] = self._do(effect) or []
        if self.core.status() != before:
            self._status_changed()

    def _do(self, effect: Any) -> list[Any] | None:
        if isinstance(effect, Entered):
            # a periodic check that finds nothing is routine: debug, not info
            routine = effect.op in (Op.CHECKING_FOR_UPDATE, Op.IDLE)
            level = "debug" if routine else "info"
            self.log("update.status", level=level, status=effect.op.value, **self._brief())
            self._status_changed()
        elif isinstance(effect, Note):
            level = "debug" if effect.event == "check.noupdate" else "info"
            self.log(effect.event, level=level, **effect.fields)
        elif isinstance(effect, PostOmaha):
            self._post(effect)
        elif isinstance(effect, Download):
            self._download(effect)
        elif isinstance(effect, Install):
            return self.core.install_finished(time.monotonic(), self._install(effect))
        elif isinstance(effect, MarkGood):
            return self.core.mark_good_finished(time.monotonic(), self._mark_good(effect))
        elif isinstance(effect, RevertInstall):
            self._disk_op(lambda: self.disk.set_usr({effect.target: gptprio.unbootable()}))
        return None

    def _post(self, effect: PostOmaha) -> None:
        ref, url = self.actor_ref, self.server_url

        def job() -> None:
            response, error = post_omaha(url, effect.request)
            ref.tell(OmahaAnswered(effect.check, response, error))

        self.worker.jobs.put(job)

    def _download(self, effect: Download) -> None:
        ref = self.actor_ref
        self.log("update.download", url=effect.url, size=effect.size)

        def job() -> None:
            data, error = download(effect.url, effect.size, lambda n: ref.tell(DownloadProgress(n)))
            ref.tell(DownloadDone(data, error or None))

        self.worker.jobs.put(job)

    def _disk_op(self, op: Callable[[], Any]) -> str | None:
        try:
            op()
        except (DiskError, OSError, PayloadError) as exc:
            self.log.error("update.disk_failed", error=str(exc))
            return str(exc)
        return None

    def _install(self, effect: Install) -> str | None:
        """Passive slot: unbootable, image written, read back, then postinstall's attributes."""

        def install() -> None:
            self.disk.set_usr({effect.target: gptprio.unbootable()})
            self.disk.write_image(effect.target, effect.image)
            if self.disk.read_image(effect.target) != effect.image:
                raise DiskError(f"{effect.target}: the image read back differs from the written")
            slots = self.disk.usr_slots()
            self.disk.set_usr(gptprio.postinstall(slots, self.core.cfg.partition, effect.target))

        return self._disk_op(install)

    def _mark_good(self, effect: MarkGood) -> bool:
        def mark() -> None:
            self.disk.set_usr(gptprio.mark_good(self.disk.usr_slots(), effect.partition))

        return self._disk_op(mark) is None

    def _status_changed(self) -> None:
        self.on_status(self.core.status())
