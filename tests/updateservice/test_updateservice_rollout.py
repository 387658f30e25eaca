import pytest

from actors.update.codes import ErrorCode, EventResult, EventType
from actors.update.omaha import APP_ID, Event, Package, Request
from actors.updateservice import rollout
from actors.updateservice.state import InstanceStatus, ServiceState, StateError, newer
from emulator.config.updateservice import GroupPolicy, GroupSpec, UpdateServiceConfig

PKG = Package("update.gz", 100, "ab" * 32)


def package_for(release):
    return f"http://svc/packages/{release.id}/", PKG


def state(**policy) -> ServiceState:
    groups = (GroupSpec("stable", "stable", GroupPolicy(**policy)), GroupSpec("beta", "beta"))
    return ServiceState.from_config(UpdateServiceConfig(groups))


def ask(st, mid, version="1.0.0", now=100.0, boot="b1", events=(), track="stable", check=True):
    req = Request(version, track, mid, boot, update_check=check, events=tuple(events))
    return rollout.handle_request(st, req, now, package_for)


def test_nothing_published_means_noupdate():
    st = state()
    resp, decision = ask(st, "m1")
    assert resp.update_status == "noupdate" and resp.update is None and resp.ping
    assert st.instances["m1"].version == "1.0.0" and st.instances["m1"].last_check == 100.0


def test_a_newer_release_is_granted_with_its_package_url():
    st = state()
    rollout.publish(st, "stable", "1.1.0", 50.0)
    resp, decision = ask(st, "m1")
    assert resp.update_status == "ok"
    assert resp.update.version == "1.1.0"
    assert resp.update.download_url == "http://svc/packages/stable-1.1.0/update.gz"
    assert decision.offered == "1.1.0" and decision.new_grant
    inst = st.instances["m1"]
    assert inst.status is InstanceStatus.GRANTED and inst.target_version == "1.1.0"


def test_up_to_date_and_newer_instances_get_noupdate():
    st = state()
    rollout.publish(st, "stable", "1.1.0", 50.0)
    assert ask(st, "m1", version="1.1.0")[0].update_status == "noupdate"
    assert ask(st, "m2", version="1.2.0")[0].update_status == "noupdate"


def test_the_group_follows_its_channel_only():
    st = state()
    rollout.publish(st, "beta", "1.2.0", 50.0)
    assert ask(st, "m1")[0].update_status == "noupdate"
    assert ask(st, "m2", track="beta")[0].update.version == "1.2.0"


def test_unknown_group_gets_noupdate_and_is_still_listed():
    st = state()
    rollout.publish(st, "stable", "1.1.0", 50.0)
    resp, decision = ask(st, "m1", track="nightly")
    assert resp.update_status == "noupdate" and "unknown group" in decision.reason
    assert st.instances["m1"].group == "nightly"


def test_unknown_application_is_an_omaha_error():
    st = state()
    req = Request("1.0.0", "stable", "m1", "b1", app_id="{00000000-0000-0000-0000-000000000000}")
    resp, _ = rollout.handle_request(st, req, 1.0, package_for)
    assert resp.app_status == "error-unknownApplication"
    assert not st.instances


def test_max_updates_per_period_holds_the_rest_back_until_the_period_passes():
    st = state(max_updates_per_period=1, period_s=60.0, safe_mode=False)
    rollout.publish(st, "stable", "1.1.0", 0.0)
    assert ask(st, "m1", now=10.0)[0].update_status == "ok"
    resp, decision = ask(st, "m2", now=20.0)
    assert resp.update_status == "noupdate" and "max 1" in decision.reason
    assert st.instances["m2"].status is InstanceStatus.ON_HOLD
    assert ask(st, "m1", now=30.0)[0].update_status == "ok"  # the same grant, asked again
    assert len(st.grants) == 1
    assert ask(st, "m2", now=71.0)[0].update_status == "ok"


def test_updates_disabled_holds_everyone():
    st = state(updates_enabled=False)
    rollout.publish(st, "stable", "1.1.0", 0.0)
    resp, decision = ask(st, "m1")
    assert resp.update_status == "noupdate" and "disabled" in decision.reason
    rollout.set_policy(st, "stable", 1.0, updates_enabled=True)
    assert ask(st, "m1")[0].update_status == "ok"


def test_events_move_the_instance_to_complete():
    st = state()
    rollout.publish(st, "stable", "1.1.0", 0.0)
    ask(st, "m1", now=1.0)
    ask(st, "m1", now=2.0, check=False, events=[Event(EventType.UPDATE_DOWNLOAD_STARTED, 1)])
    assert st.instances["m1"].status is InstanceStatus.DOWNLOADING
    ask(st, "m1", now=3.0, check=False, events=[Event(EventType.UPDATE_DOWNLOAD_FINISHED, 1)])
    assert st.instances["m1"].status is InstanceStatus.DOWNLOADED
    ask(st, "m1", now=4.0, check=False, events=[Event(EventType.UPDATE_COMPLETE, 1)])
    assert st.instances["m1"].status is InstanceStatus.INSTALLED
    resp, _ = ask(st, "m1", version="1.1.0", boot="b2", now=5.0,
                  events=[Event(EventType.UPDATE_COMPLETE, 2, previous_version="1.0.0")])  # fmt: skip
    inst = st.instances["m1"]
    assert inst.status is InstanceStatus.COMPLETE and inst.updates == 1
    assert resp.update_status == "noupdate" and resp.event_acks == 1


def test_running_the_granted_version_is_not_complete_until_event_3_says_so():
    st = state()
    rollout.publish(st, "stable", "1.1.0", 0.0)
    ask(st, "m1")
    ask(st, "m1", check=False, events=[Event(3, 1)])
    ask(st, "m1", version="1.1.0", boot="b2")  # rebooted into it, boot not yet marked good
    assert st.instances["m1"].status is InstanceStatus.INSTALLED
    assert ask(st, "m2")[0].update_status == "noupdate"  # safe mode: m1 still updating
    ask(st, "m1", version="1.1.0", boot="b2", events=[Event(3, 2, previous_version="1.0.0")])
    ask(st, "m1", version="1.1.0", boot="b2", events=[Event(3, 2, previous_version="1.0.0")])
    assert st.instances["m1"].status is InstanceStatus.COMPLETE
    assert st.instances["m1"].updates == 1  # a repeated report counts once
    assert [e["event"] for e in st.events].count("instance.complete") == 1


def test_error_event_with_safe_mode_stops_the_rollout():
    st = state(safe_mode=True)
    rollout.publish(st, "stable", "1.2.0", 0.0, broken_boot=True)
    ask(st, "m1")
    err = Event(
        EventType.UPDATE_COMPLETE, EventResult.ERROR, ErrorCode.NEW_ROOTFS_VERIFICATION_ERROR
    )
    ask(st, "m1", boot="b2", events=[err], check=False)
    inst = st.instances["m1"]
    assert inst.status is InstanceStatus.ERROR and inst.error_code == 15
    assert inst.failed_version == "1.2.0"
    assert st.groups["stable"].stopped and "m1" in st.groups["stable"].stopped
    resp, decision = ask(st, "m2")
    assert resp.update_status == "noupdate" and "safe mode" in decision.reason
    assert ask(st, "m1")[0].update_status == "noupdate"  # never offered its failed version again
    assert {e["event"] for e in st.events} >= {"instance.error", "group.stopped"}


def test_error_without_safe_mode_lets_the_others_go_on():
    st = state(safe_mode=False)
    rollout.publish(st, "stable", "1.2.0", 0.0)
    ask(st, "m1")
    ask(st, "m1", events=[Event(EventType.UPDATE_DOWNLOAD_FINISHED, 0, 10)], check=False)
    assert st.groups["stable"].stopped is None
    assert ask(st, "m2")[0].update_status == "ok"
    assert ask(st, "m1")[0].update_status == "noupdate"


def test_resume_after_a_safe_mode_stop():
    st = state()
    rollout.publish(st, "stable", "1.2.0", 0.0)
    ask(st, "m1")
    ask(st, "m1", events=[Event(3, 0, 1)], check=False)
    rollout.set_policy(st, "stable", 1.0, resume=True)
    assert ask(st, "m2")[0].update_status == "ok"


def test_a_silent_rollback_is_an_error():
    st = state()
    rollout.publish(st, "stable", "1.2.0", 0.0)
    ask(st, "m1", boot="b1")
    ask(st, "m1", boot="b1", events=[Event(3, 1)], check=False)
    assert st.instances["m1"].status is InstanceStatus.INSTALLED
    ask(st, "m1", boot="b1")  # same boot: still waiting for its reboot
    assert st.instances["m1"].status is InstanceStatus.INSTALLED
    ask(st, "m1", boot="b2")  # rebooted, still 1.0.0
    assert st.instances["m1"].status is InstanceStatus.ERROR
    assert st.groups["stable"].stopped


def test_update_timeout_frees_the_slot_for_a_new_grant():
    st = state(max_updates_per_period=5, update_timeout_s=30.0)
    rollout.publish(st, "stable", "1.1.0", 0.0)
    ask(st, "m1", now=1.0)
    ask(st, "m1", now=20.0)
    assert len(st.grants) == 1
    ask(st, "m1", now=40.0)  # timed out: granted afresh
    assert len(st.grants) == 2


def test_a_newer_release_after_completion_is_granted_again():
    st = state()
    rollout.publish(st, "stable", "1.1.0", 0.0)
    ask(st, "m1")
    ask(st, "m1", version="1.1.0", boot="b2", events=[Event(3, 2)])
    rollout.publish(st, "stable", "1.2.0", 10.0)
    assert ask(st, "m1", version="1.1.0", boot="b2")[0].update.version == "1.2.0"


@pytest.mark.parametrize(
    "channel, version, flags, message",
    [
        ("nightly", "1.1.0", {}, "unknown channel"),
        ("stable", "one", {}, "not a version"),
        ("stable", "1.1.0", {"corrupt": True, "broken_boot": True}, "at most one"),
    ],
)
def test_bad_publish_changes_nothing(channel, version, flags, message):
    st = state()
    before = st.to_json()
    with pytest.raises(StateError, match=message):
        rollout.publish(st, channel, version, 0.0, **flags)
    assert st.to_json() == before


def test_publish_must_move_forward():
    st = state()
    rollout.publish(st, "stable", "1.1.0", 0.0)
    with pytest.raises(StateError, match="newer"):
        rollout.publish(st, "stable", "1.1.0", 1.0)
    with pytest.raises(StateError, match="newer"):
        rollout.publish(st, "stable", "1.0.9", 1.0)


def test_promote_beta_to_stable():
    st = state()
    with pytest.raises(StateError, match="no release"):
        rollout.promote(st, "beta", "stable", 0.0)
    rollout.publish(st, "beta", "1.3.0", 0.0, broken_boot=True)
    release = rollout.promote(st, "beta", "stable", 1.0)
    assert st.release_of("stable") is release and release.broken_boot
    with pytest.raises(StateError, match="not older"):
        rollout.promote(st, "beta", "stable", 2.0)
    with pytest.raises(StateError, match="unknown channel"):
        rollout.promote(st, "beta", "lts", 2.0)


def test_set_policy_checks_every_field_before_changing_any():
    st = state()
    with pytest.raises(StateError, match="unknown group"):
        rollout.set_policy(st, "nope", 0.0, safe_mode=False)
    with pytest.raises(StateError, match="bad value"):
        rollout.set_policy(st, "stable", 0.0, safe_mode=False, max_updates_per_period=-1)
    assert st.groups["stable"].safe_mode is True
    with pytest.raises(StateError, match="unknown policy field"):
        rollout.set_policy(st, "stable", 0.0, speed=3)


def test_state_round_trips_through_json():
    st = state(max_updates_per_period=2)
    rollout.publish(st, "stable", "1.1.0", 0.0)
    ask(st, "m1")
    ask(st, "m2", events=[Event(3, 0, 12)])
    again = ServiceState.from_json(st.to_json())
    assert again.to_json() == st.to_json()


@pytest.mark.parametrize("doc", [{}, {"format": 2}, {"format": 1, "channels": []}])
def test_foreign_state_documents_are_refused(doc):
    with pytest.raises(StateError):
        ServiceState.from_json(doc)


@pytest.mark.parametrize(
    "a, b", [("1.10.0", "1.9.9"), ("2.0.0", "1.99.0"), ("1.2.0", "1.2.0-rc1"), ("1.2", "1.1.9")]
)
def test_version_order(a, b):
    assert newer(a, b) and not newer(b, a)


def test_app_id_case_does_not_matter():
    st = state()
    req = Request("1.0.0", "stable", "m1", "b1", app_id=APP_ID.upper())
    assert rollout.handle_request(st, req, 1.0, package_for)[0].app_status == "ok"


def test_safe_mode_updates_one_machine_at_a_time():
    st = state(safe_mode=True)
    rollout.publish(st, "stable", "1.1.0", 0.0)
    assert ask(st, "m1", now=1.0)[0].update_status == "ok"
    resp, decision = ask(st, "m2", now=2.0)
    assert resp.update_status == "noupdate" and "one update at a time" in decision.reason
    ask(st, "m1", now=3.0, check=False, events=[Event(3, 1)])  # installed: still updating
    assert ask(st, "m2", now=4.0)[0].update_status == "noupdate"
    ask(st, "m1", version="1.1.0", boot="b2", now=5.0, events=[Event(3, 2)])  # proven: done
    assert ask(st, "m2", now=6.0)[0].update_status == "ok"


def test_safe_mode_does_not_wait_for_a_timed_out_grant():
    st = state(safe_mode=True, update_timeout_s=10.0)
    rollout.publish(st, "stable", "1.1.0", 0.0)
    ask(st, "m1", now=1.0)
    assert ask(st, "m2", now=5.0)[0].update_status == "noupdate"
    assert ask(st, "m2", now=12.0)[0].update_status == "ok"
