"""update_engine's core, driven by hand: statuses, events, verification and marking good."""

from __future__ import annotations

import random

import pytest

from actors.update import omaha
from actors.update.codes import ErrorCode, EventResult, EventType
from actors.update.engine import (
    Download,
    EngineConfig,
    EngineCore,
    Entered,
    Install,
    MarkGood,
    Op,
    PostOmaha,
    RevertInstall,
)
from actors.update.payload import (
    build_payload,
    release_key,
    release_public_key,
    rogue_key,
    sha256_hex,
    signed_package,
)

TOKEN = "t"
PKG = signed_package(build_payload("1.1.0", "stable", "b", 2048), release_key(TOKEN))


def make(**kw) -> EngineCore:
    base = dict(
        version="1.0.0",
        partition="USR-A",
        track="stable",
        machine_id="m" * 32,
        boot_id="b" * 32,
        public_key=release_public_key(TOKEN),
        check_interval=60.0,
        healthy_after=10.0,
    )
    base.update(kw)
    return EngineCore(EngineConfig(**base), random.Random(1), now=0.0)


def offer(package: bytes = PKG, version: str = "1.1.0", sha: str | None = None):
    up = omaha.Update(
        version,
        ("http://u/p/",),
        omaha.Package("update.gz", len(package), sha or sha256_hex(package)),
    )
    return omaha.Response(update_status="ok", update=up, ping=True)


def of(effects, kind):
    return [e for e in effects if isinstance(e, kind)]


def events(effects) -> list[omaha.Event]:
    return [ev for p in of(effects, PostOmaha) for ev in p.request.events]


def entered(effects) -> list[Op]:
    return [e.op for e in of(effects, Entered)]


def to_downloading(core: EngineCore, resp=None):
    core.check_now(1.0, 1000.0)
    return core.check_answered(1.1, resp or offer())


def test_starts_idle_with_no_update():
    st = make().status()
    assert st.current_operation is Op.IDLE and st.new_version == "0.0.0.0" and st.last_checked == 0


def test_check_request_carries_identity_and_track():
    core = make(track="beta")
    eff = core.check_now(1.0, 1234.5)
    (post,) = of(eff, PostOmaha)
    req = post.request
    assert post.check and req.update_check and req.ping and req.track == "beta"
    assert (req.version, req.machine_id, req.boot_id) == ("1.0.0", "m" * 32, "b" * 32)
    assert req.install_source == "ondemandupdate"
    assert entered(eff) == [Op.CHECKING_FOR_UPDATE] and core.status().last_checked == 1234.5


def test_noupdate_returns_to_idle():
    core = make()
    core.check_now(1.0, 1.0)
    eff = core.check_answered(1.1, omaha.Response(update_status="noupdate"))
    assert entered(eff) == [Op.IDLE] and not of(eff, Download)


def test_same_version_offer_is_no_update():
    core = make(version="1.1.0")
    core.check_now(1.0, 1.0)
    assert entered(core.check_answered(1.1, offer())) == [Op.IDLE]


@pytest.mark.parametrize(
    "err", [ErrorCode.OMAHA_REQUEST_ERROR, ErrorCode.OMAHA_REQUEST_XML_PARSE_ERROR]
)
def test_failed_check_goes_idle_without_error_event(err):
    core = make()
    core.check_now(1.0, 1.0)
    eff = core.check_answered(1.1, None, err)
    assert entered(eff) == [Op.IDLE] and not of(eff, PostOmaha)
    assert core.status().last_error == err


def test_offer_goes_available_then_downloading_with_event_13():
    core = make()
    eff = to_downloading(core)
    assert entered(eff) == [Op.UPDATE_AVAILABLE, Op.DOWNLOADING]
    assert events(eff) == [omaha.Event(EventType.UPDATE_DOWNLOAD_STARTED, EventResult.SUCCESS)]
    (dl,) = of(eff, Download)
    assert dl == Download("http://u/p/update.gz", len(PKG))
    st = core.status()
    assert (st.new_version, st.new_size) == ("1.1.0", len(PKG))


def test_progress():
    core = make()
    to_downloading(core)
    core.download_progress(len(PKG) // 2)
    assert core.status().progress == pytest.approx(0.5, abs=0.01)
    core.download_progress(len(PKG) * 3)
    assert core.status().progress == 1.0


def test_good_payload_verifies_and_installs_into_the_passive_slot():
    core = make()
    to_downloading(core)
    eff = core.download_finished(2.0, PKG)
    assert entered(eff) == [Op.VERIFYING, Op.FINALIZING]
    assert events(eff) == [omaha.Event(EventType.UPDATE_DOWNLOAD_FINISHED, EventResult.SUCCESS)]
    (inst,) = of(eff, Install)
    assert inst.target == "USR-B" and inst.version == "1.1.0" and PKG.startswith(inst.image)
    eff = core.install_finished(2.1)
    assert entered(eff) == [Op.UPDATED_NEED_REBOOT]
    assert events(eff) == [omaha.Event(EventType.UPDATE_COMPLETE, EventResult.SUCCESS)]


def test_booted_from_usr_b_installs_into_usr_a():
    core = make(partition="USR-B")
    to_downloading(core)
    assert of(core.download_finished(2.0, PKG), Install)[0].target == "USR-A"


BAD = signed_package(build_payload("1.1.0", "stable", "b", 2048), rogue_key(TOKEN))


@pytest.mark.parametrize(
    "served, announced, code",
    [
        (BAD, BAD, ErrorCode.DOWNLOAD_PAYLOAD_VERIFICATION_ERROR),
        (PKG[:-1] + b"\x00", PKG, ErrorCode.PAYLOAD_HASH_MISMATCH),
        (PKG[:100], PKG, ErrorCode.PAYLOAD_SIZE_MISMATCH),
        (PKG + b"x", PKG, ErrorCode.PAYLOAD_SIZE_MISMATCH),
    ],
)
def test_bad_payload_reports_error_and_never_installs(served, announced, code):
    core = make()
    to_downloading(core, offer(announced))
    eff = core.download_finished(2.0, served)
    assert not of(eff, Install)
    assert entered(eff) == [Op.VERIFYING, Op.REPORTING_ERROR_EVENT]
    assert events(eff) == [
        omaha.Event(EventType.UPDATE_COMPLETE, EventResult.ERROR, error_code=code)
    ]
    assert entered(core.event_posted(2.1, ok=True)) == [Op.IDLE]
    st = core.status()
    assert st.last_error == code and st.new_version == "0.0.0.0" and st.progress == 0


def test_manifest_version_must_match_the_image():
    core = make()
    to_downloading(core, offer(version="9.9.9"))
    eff = core.download_finished(2.0, PKG)
    assert not of(eff, Install) and core.op is Op.REPORTING_ERROR_EVENT


def test_download_failure_is_an_error_event():
    core = make()
    to_downloading(core)
    eff = core.download_finished(2.0, None, "connection reset")
    assert events(eff)[0].error_code == ErrorCode.DOWNLOAD_TRANSFER_ERROR
    core.event_posted(2.1, ok=False)  # even a lost error report ends in IDLE
    assert core.op is Op.IDLE


def test_install_failure_is_an_error_event():
    core = make()
    to_downloading(core)
    core.download_finished(2.0, PKG)
    eff = core.install_finished(2.1, "ENOSPC")
    assert events(eff)[0].error_code == ErrorCode.DOWNLOAD_WRITE_ERROR
    assert core.op is Op.REPORTING_ERROR_EVENT


def test_inputs_out_of_turn_are_ignored():
    core = make()
    assert core.download_finished(1.0, PKG) == [] and core.install_finished(1.0) == []
    assert core.check_answered(1.0, offer()) == [] and core.op is Op.IDLE
    to_downloading(core)
    assert core.check_answered(1.2, offer()) == []
    assert core.check_now(1.3, 1.3)[0].event == "check.ignored" and core.op is Op.DOWNLOADING


def test_periodic_checks_with_fuzz():
    core = make(check_interval=60.0)
    first = core.next_check
    assert 12.0 <= first <= 60.0
    assert core.tick(first - 0.01, 0) == []
    eff = core.tick(first, 5.0)
    assert entered(eff) == [Op.CHECKING_FOR_UPDATE]
    core.check_answered(first, omaha.Response(update_status="noupdate"))
    gap = core.next_check - first
    assert 60 * 0.875 <= gap <= 60 * 1.125
    gaps = set()
    for _ in range(20):
        t = core.next_check
        core.tick(t, t)
        core.check_answered(t, omaha.Response(update_status="noupdate"))
        gaps.add(round(core.next_check - t, 3))
    assert len(gaps) > 10  # fuzzed, not a fixed period


def test_no_periodic_check_while_waiting_for_reboot():
    core = make()
    to_downloading(core)
    core.download_finished(2.0, PKG)
    core.install_finished(2.1)
    assert not of(core.tick(10_000.0, 0), PostOmaha)


def test_mark_good_after_the_healthy_period_then_event_3_with_previous_version():
    core = make(version="1.1.0", partition="USR-B", needs_mark_good=True, previous_version="1.0.0")
    assert not core.status().boot_marked_good
    assert not of(core.tick(9.9, 0), MarkGood)
    eff = core.tick(10.0, 0)
    assert of(eff, MarkGood) == [MarkGood("USR-B")]
    assert not of(core.tick(10.5, 0), MarkGood)  # once, while it is being written
    core.mark_good_finished(10.6, ok=True)
    assert core.status().boot_marked_good
    eff = core.tick(10.7, 99.0)  # reported at once, not at the next periodic check
    (post,) = of(eff, PostOmaha)
    assert post.check and post.request.events == (
        omaha.Event(
            EventType.UPDATE_COMPLETE, EventResult.SUCCESS_REBOOT, previous_version="1.0.0"
        ),
    )
    core.check_answered(10.8, omaha.Response(update_status="noupdate", event_acks=1))
    t = core.next_check
    core.tick(t, t)
    assert core.in_flight == []  # delivered once only


def test_mark_good_failure_retries_after_another_period():
    core = make(needs_mark_good=True)
    core.tick(10.0, 0)
    core.mark_good_finished(10.1, ok=False)
    assert not of(core.tick(15.0, 0), MarkGood)
    assert of(core.tick(20.2, 0), MarkGood)


def test_events_survive_a_failed_check():
    core = make(needs_mark_good=True, previous_version="1.0.0")
    core.tick(10.0, 0)
    core.mark_good_finished(10.0, ok=True)
    core.tick(10.1, 0)
    core.check_answered(10.2, None, ErrorCode.OMAHA_REQUEST_ERROR)
    assert not of(core.tick(10.3, 0), PostOmaha)  # no hammering a dead server
    t = core.next_check
    (post,) = of(core.tick(t, t), PostOmaha)
    assert post.request.events[0].previous_version == "1.0.0"


def test_rollback_is_reported_on_the_first_check():
    core = make(rolled_back_from="1.2.0", needs_mark_good=True)
    (post,) = of(core.tick(0.5, 0), PostOmaha)
    (ev,) = post.request.events
    assert (ev.type, ev.result, ev.error_code, ev.next_version) == (
        EventType.UPDATE_COMPLETE,
        EventResult.ERROR,
        ErrorCode.NEW_ROOTFS_VERIFICATION_ERROR,
        "1.2.0",
    )


def test_no_mark_good_needed_on_a_good_boot():
    core = make()
    assert core.status().boot_marked_good
    assert not of(core.tick(1000.0, 0), MarkGood)


def test_reset_status_after_install_reverts_the_slot():
    core = make()
    to_downloading(core)
    core.download_finished(2.0, PKG)
    core.install_finished(2.1)
    eff = core.reset_status()
    assert of(eff, RevertInstall) == [RevertInstall("USR-B")] and core.op is Op.IDLE
    assert core.status().new_version == "0.0.0.0"


def test_reset_status_mid_download_is_refused():
    core = make()
    to_downloading(core)
    assert core.reset_status()[0].event == "reset.ignored" and core.op is Op.DOWNLOADING


def test_whole_cycle_status_sequence():
    core = make()
    seen = []
    seen += entered(core.check_now(1, 1))
    seen += entered(core.check_answered(1, offer()))
    seen += entered(core.download_finished(2, PKG))
    seen += entered(core.install_finished(3))
    assert seen == [
        Op.CHECKING_FOR_UPDATE,
        Op.UPDATE_AVAILABLE,
        Op.DOWNLOADING,
        Op.VERIFYING,
        Op.FINALIZING,
        Op.UPDATED_NEED_REBOOT,
    ]
