"""update_engine's logic as a sans-IO state machine: inputs in, effects out, time passed in.

Theory of operation. The engine walks CoreOS update_engine's statuses::

    IDLE -> CHECKING_FOR_UPDATE -> UPDATE_AVAILABLE -> DOWNLOADING -> VERIFYING -> FINALIZING
         -> UPDATED_NEED_REBOOT
    any failure after an update was offered -> REPORTING_ERROR_EVENT -> IDLE

Checks are periodic (``check_interval`` with ±12.5 % fuzz from the RNG passed in) or asked for
(:meth:`EngineCore.check_now`). A check posts an Omaha request with ``updatecheck`` and ``ping``
plus any events not yet delivered. An offered update is downloaded (event 13 when it starts, 14
when it ends) and then checked whole — size, SHA-256, Ed25519 signature, image header, by
:func:`payload.check_download` — *before* the :class:`Install` effect lets the shell touch the
passive slot; a bad payload therefore never changes the disk. The shell's postinstall writes the
gptprio attributes (new slot above, tries 1, unsuccessful), and the engine reports event 3
(result 1: installed) and waits in UPDATED_NEED_REBOOT for locksmith.

After ``healthy_after`` seconds of uptime the booted slot is marked good (:class:`MarkGood`).
Then, if this boot was the first of a new image, event 3 with result 2 and ``previousversion``
goes out; if GRUB fell back from a slot that failed to boot, event 3 with result 0, errorcode 15
and ``nextversion`` the image that failed. Undelivered events stay queued and ride on the next
check (a check fails → they are sent again).

The engine never blocks and owns no I/O: every method returns effects for the shell to perform
and later report back (``*_finished`` / ``*_answered`` inputs). Inputs that do not fit the
current status (a late download, a duplicate answer) are ignored, state unchanged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from actors.update import omaha
from actors.update.codes import ErrorCode, EventResult, EventType
from actors.update.payload import PayloadError, check_download


class Op(str, Enum):
    IDLE = "UPDATE_STATUS_IDLE"
    CHECKING_FOR_UPDATE = "UPDATE_STATUS_CHECKING_FOR_UPDATE"
    UPDATE_AVAILABLE = "UPDATE_STATUS_UPDATE_AVAILABLE"
    DOWNLOADING = "UPDATE_STATUS_DOWNLOADING"
    VERIFYING = "UPDATE_STATUS_VERIFYING"
    FINALIZING = "UPDATE_STATUS_FINALIZING"
    UPDATED_NEED_REBOOT = "UPDATE_STATUS_UPDATED_NEED_REBOOT"
    REPORTING_ERROR_EVENT = "UPDATE_STATUS_REPORTING_ERROR_EVENT"


NO_VERSION = "0.0.0.0"  # what update_engine_client prints when no update is known


@dataclass(frozen=True)
class UpdateStatus:
    current_operation: Op
    last_checked: float  # wall-clock seconds of the last check started (0: never)
    progress: float  # 0.0 .. 1.0 of the download
    new_version: str
    new_size: int
    current_version: str
    partition: str  # the booted USR partition
    last_error: int | None = None  # ErrorCode of the last failure
    boot_marked_good: bool = False  # the booted slot is successful (setgoodroot done)


@dataclass(frozen=True)
class EngineConfig:
    version: str  # booted image's version
    partition: str  # booted slot, "USR-A" | "USR-B"
    track: str  # coreos.update.group
    machine_id: str
    boot_id: str
    public_key: object  # Ed25519PublicKey
    check_interval: float = 45.0
    healthy_after: float = 10.0
    needs_mark_good: bool = False  # booted slot not yet successful, or a failed slot above it
    previous_version: str | None = None  # first boot of a new image: the version before it
    rolled_back_from: str | None = None  # GRUB fell back from this version

    @property
    def passive(self) -> str:
        return "USR-B" if self.partition == "USR-A" else "USR-A"


# --- effects ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PostOmaha:
    request: omaha.Request
    check: bool  # True: answer with :meth:`EngineCore.check_answered`; else event_posted


@dataclass(frozen=True)
class Download:
    url: str
    size: int


@dataclass(frozen=True)
class Install:
    target: str  # the passive slot
    image: bytes  # verified image
    version: str


@dataclass(frozen=True)
class RevertInstall:
    target: str  # make it unbootable again (-reset_status after an install)


@dataclass(frozen=True)
class MarkGood:
    partition: str


@dataclass(frozen=True)
class Entered:
    op: Op  # every status change, in order, for subscribers and logs


@dataclass(frozen=True)
class Note:
    event: str
    fields: dict


Effect = PostOmaha | Download | Install | RevertInstall | MarkGood | Entered | Note


@dataclass(frozen=True)
class _Offer:
    update: omaha.Update


class EngineCore:
    """One node's update_engine; see the module docstring for the rules."""

    FUZZ = 0.125  # ± fraction of the check interval

    def __init__(self, cfg: EngineConfig, rng: random.Random, now: float):
        self.cfg = cfg
        self.rng = rng
        self.op = Op.IDLE
        self.last_checked = 0.0
        self.progress = 0.0
        self.offer: _Offer | None = None
        self.last_error: int | None = None
        self.booted_at = now
        self.marked_good = not cfg.needs_mark_good
        self.marking = False
        self.pending: list[omaha.Event] = []  # to deliver with the next request
        self.in_flight: list[omaha.Event] = []  # delivered with the request now posted
        self.next_check = now + rng.uniform(0.2, 1.0) * cfg.check_interval
        self.report_soon = bool(cfg.rolled_back_from)  # new events: check at the next tick
        if cfg.rolled_back_from:
            self.pending.append(
                omaha.Event(
                    EventType.UPDATE_COMPLETE,
                    EventResult.ERROR,
                    error_code=ErrorCode.NEW_ROOTFS_VERIFICATION_ERROR,
                    next_version=cfg.rolled_back_from,
                )
            )

    # --- reading ----------------------------------------------------------------------------
    def status(self) -> UpdateStatus:
        up = self.offer.update if self.offer else None
        return UpdateStatus(
            current_operation=self.op,
            last_checked=self.last_checked,
            progress=self.progress,
            new_version=up.version if up else NO_VERSION,
            new_size=up.package.size if up else 0,
            current_version=self.cfg.version,
            partition=self.cfg.partition,
            last_error=self.last_error,
            boot_marked_good=self.marked_good,
        )

    # --- helpers ----------------------------------------------------------------------------
    def _enter(self, op: Op, out: list[Effect]) -> None:
        if op is not self.op:
            self.op = op
            out.append(Entered(op))

    def _request(self, *, check: bool, events: tuple[omaha.Event, ...], interactive=False):
        return omaha.Request(
            version=self.cfg.version,
            track=self.cfg.track,
            machine_id=self.cfg.machine_id,
            boot_id=self.cfg.boot_id,
            update_check=check,
            ping=check,
            events=events,
            install_source="ondemandupdate" if interactive else "scheduler",
        )

    def _event(self, type_: EventType, result: EventResult, **kw) -> PostOmaha:
        ev = omaha.Event(type_, result, **kw)
        return PostOmaha(self._request(check=False, events=(ev,)), check=False)

    def _schedule(self, now: float) -> None:
        spread = self.cfg.check_interval * self.FUZZ
        self.next_check = now + self.cfg.check_interval + self.rng.uniform(-spread, spread)

    def _fail(self, code: ErrorCode, why: str, out: list[Effect]) -> None:
        self.last_error = int(code)
        out.append(Note("update.failed", {"error_code": int(code), "reason": why}))
        self._enter(Op.REPORTING_ERROR_EVENT, out)
        out.append(self._event(EventType.UPDATE_COMPLETE, EventResult.ERROR, error_code=code))

    # --- inputs -----------------------------------------------------------------------------
    def tick(self, now: float, wall: float) -> list[Effect]:
        out: list[Effect] = []
        if (
            not self.marked_good
            and not self.marking
            and now - self.booted_at >= self.cfg.healthy_after
        ):
            self.marking = True
            out.append(MarkGood(self.cfg.partition))
        if self.op is Op.IDLE and (now >= self.next_check or self.report_soon):
            out += self.check_now(now, wall, interactive=False)
        return out

    def check_now(self, now: float, wall: float, interactive: bool = True) -> list[Effect]:
        """Start a check (``update_engine_client -check_for_update``); only from IDLE."""
        if self.op is not Op.IDLE:
            return [Note("check.ignored", {"status": self.op.value})]
        out: list[Effect] = []
        self.last_checked = wall
        self.report_soon = False
        self._schedule(now)
        self.in_flight, self.pending = self.pending, []
        self._enter(Op.CHECKING_FOR_UPDATE, out)
        req = self._request(check=True, events=tuple(self.in_flight), interactive=interactive)
        out.append(PostOmaha(req, check=True))
        return out

    def check_answered(
        self, now: float, response: omaha.Response | None, error: ErrorCode | None = None
    ) -> list[Effect]:
        """The update service answered the check (or ``error``: it could not be reached/read)."""
        if self.op is not Op.CHECKING_FOR_UPDATE:
            return []
        out: list[Effect] = []
        if response is None or error is not None:
            self.pending = self.in_flight + self.pending  # deliver them next time
            self.in_flight = []
            self.last_error = int(error or ErrorCode.OMAHA_REQUEST_ERROR)
            out.append(Note("check.failed", {"error_code": self.last_error}))
            self._enter(Op.IDLE, out)
            return out
        self.in_flight = []
        up = response.update
        if (
            response.app_status != "ok"
            or response.update_status != "ok"
            or up is None
            or up.version == self.cfg.version
        ):
            out.append(Note("check.noupdate", {"status": response.update_status}))
            self._enter(Op.IDLE, out)
            return out
        self.offer = _Offer(up)
        self.progress = 0.0
        out.append(Note("update.available", {"version": up.version, "size": up.package.size}))
        self._enter(Op.UPDATE_AVAILABLE, out)
        self._enter(Op.DOWNLOADING, out)
        out.append(self._event(EventType.UPDATE_DOWNLOAD_STARTED, EventResult.SUCCESS))
        out.append(Download(up.download_url, up.package.size))
        return out

    def download_progress(self, received: int) -> list[Effect]:
        if self.op is not Op.DOWNLOADING or self.offer is None:
            return []
        size = self.offer.update.package.size
        self.progress = min(1.0, received / size) if size else 1.0
        return []

    def download_finished(
        self, now: float, data: bytes | None, error: str | None = None
    ) -> list[Effect]:
        if self.op is not Op.DOWNLOADING or self.offer is None:
            return []
        out: list[Effect] = []
        if data is None:
            self._fail(ErrorCode.DOWNLOAD_TRANSFER_ERROR, error or "download failed", out)
            return out
        self.progress = 1.0
        self._enter(Op.VERIFYING, out)
        pkg = self.offer.update.package
        try:
            header, image = check_download(data, pkg.size, pkg.sha256_hex, self.cfg.public_key)
        except PayloadError as exc:
            self._fail(exc.code, str(exc), out)
            return out
        if header.version != self.offer.update.version:
            self._fail(
                ErrorCode.OMAHA_RESPONSE_HANDLER_ERROR,
                f"image is {header.version}, the manifest said {self.offer.update.version}",
                out,
            )
            return out
        out.append(self._event(EventType.UPDATE_DOWNLOAD_FINISHED, EventResult.SUCCESS))
        self._enter(Op.FINALIZING, out)
        out.append(Install(self.cfg.passive, image, header.version))
        return out

    def install_finished(self, now: float, error: str | None = None) -> list[Effect]:
        if self.op is not Op.FINALIZING:
            return []
        out: list[Effect] = []
        if error is not None:
            self._fail(ErrorCode.DOWNLOAD_WRITE_ERROR, error, out)
            return out
        version = self.offer.update.version if self.offer else NO_VERSION
        out.append(Note("update.installed", {"version": version, "slot": self.cfg.passive}))
        out.append(self._event(EventType.UPDATE_COMPLETE, EventResult.SUCCESS))
        self._enter(Op.UPDATED_NEED_REBOOT, out)
        return out

    def event_posted(self, now: float, ok: bool) -> list[Effect]:
        """An event-only request was answered (or failed): the error report ends here."""
        out: list[Effect] = []
        if self.op is Op.REPORTING_ERROR_EVENT:
            self.offer = None
            self.progress = 0.0
            self._enter(Op.IDLE, out)
        return out

    def mark_good_finished(self, now: float, ok: bool) -> list[Effect]:
        self.marking = False
        if not ok:
            self.booted_at = now  # try again after another healthy period
            return [Note("boot.mark_good_failed", {})]
        self.marked_good = True
        out: list[Effect] = [Note("boot.marked_good", {"partition": self.cfg.partition})]
        if self.cfg.previous_version is not None:
            self.pending.append(
                omaha.Event(
                    EventType.UPDATE_COMPLETE,
                    EventResult.SUCCESS_REBOOT,
                    previous_version=self.cfg.previous_version,
                )
            )
            self.report_soon = True
        return out

    def reset_status(self) -> list[Effect]:
        """``update_engine_client -reset_status``: back to IDLE, undoing a finished install."""
        out: list[Effect] = []
        if self.op is Op.UPDATED_NEED_REBOOT:
            out.append(RevertInstall(self.cfg.passive))
        elif self.op not in (Op.IDLE, Op.REPORTING_ERROR_EVENT):
            return [Note("reset.ignored", {"status": self.op.value})]
        self.offer = None
        self.progress = 0.0
        self._enter(Op.IDLE, out)
        return out
