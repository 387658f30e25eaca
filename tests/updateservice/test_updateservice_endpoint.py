"""The Omaha endpoint and the payloads, without sockets: bytes in, bytes out."""

import pytest

from actors.update.codes import ErrorCode
from actors.update.omaha import Request, build_request, parse_response
from actors.update.payload import PayloadError, check_download, read_header, release_public_key
from actors.updateservice.service import STATE_FILE, UpdateService
from emulator.config.updateservice import UpdateServiceConfig

TOKEN = "tok"


def service(tmp_path=None, now=1000.0) -> UpdateService:
    cfg = UpdateServiceConfig(payload_size=1024)
    return UpdateService(cfg, TOKEN, "http://svc:8000", tmp_path, clock=lambda: now)


def check(svc, mid="m" * 32, version="1.0.0"):
    status, body = svc.omaha(build_request(Request(version, "stable", mid, "b1")))
    assert status == 200
    return parse_response(body)


HOSTILE = [
    b"",
    b"   ",
    b"not xml at all",
    b"<request protocol='3.0'><app appid='x'>",  # truncated
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b'<request protocol="3.0">&b;</request>',  # entity expansion
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<request protocol="3.0">&x;</request>',  # external entity
    b'<request protocol="2.0"><app appid="x" version="1"/></request>',
    b'<response protocol="3.0"/>',
    b'<request protocol="3.0"></request>',
    b'<request protocol="3.0"><app appid="x" version="1"><event eventtype="x"/></app></request>',
    b"<request>" * 10000,
    b"\xff\xfe\x00<",
    b"<a>" + b"x" * (300 * 1024) + b"</a>",
]


@pytest.mark.parametrize("body", HOSTILE)
def test_bad_or_hostile_xml_gets_an_omaha_error_and_changes_nothing(body):
    svc = service()
    before = svc.snapshot()
    status, xml = svc.omaha(body)
    assert status == 400
    assert b'status="error-invalidRequest"' in xml
    assert svc.snapshot()["instances"] == before["instances"]


def test_a_granted_payload_passes_every_node_side_check():
    svc = service()
    svc.publish("stable", "1.1.0")
    resp = check(svc)
    update = resp.update
    assert update.download_url == "http://svc:8000/packages/stable-1.1.0/update.gz"
    data = svc.payload("stable-1.1.0")
    header, _ = check_download(
        data, update.package.size, update.package.sha256_hex, release_public_key(TOKEN)
    )
    assert (header.version, header.channel, header.broken_boot) == ("1.1.0", "stable", False)


@pytest.mark.parametrize(
    "flag, code",
    [
        ("bad_signature", ErrorCode.DOWNLOAD_PAYLOAD_VERIFICATION_ERROR),
        ("corrupt", ErrorCode.PAYLOAD_HASH_MISMATCH),
    ],
)
def test_faulty_releases_fail_the_node_side_checks(flag, code):
    svc = service()
    svc.publish("stable", "1.1.0", **{flag: True})
    update = check(svc).update
    with pytest.raises(PayloadError) as info:
        check_download(
            svc.payload("stable-1.1.0"),
            update.package.size,
            update.package.sha256_hex,
            release_public_key(TOKEN),
        )
    assert info.value.code == code


def test_broken_boot_release_is_genuine_but_marked_broken():
    svc = service()
    svc.publish("stable", "1.2.0", broken_boot=True)
    update = check(svc).update
    header, image = check_download(
        svc.payload("stable-1.2.0"),
        update.package.size,
        update.package.sha256_hex,
        release_public_key(TOKEN),
    )
    assert header.broken_boot and read_header(image).version == "1.2.0"


def test_unknown_package_is_none():
    assert service().payload("stable-9.9.9") is None


def test_state_survives_a_restart_and_history_gets_faulty_releases(tmp_path):
    svc = service(tmp_path)
    svc.publish("stable", "1.1.0", corrupt=True, origin="run.py release")
    check(svc, mid="a" * 32)
    again = service(tmp_path, now=2000.0)
    snap = again.snapshot()
    assert snap["channel_versions"]["stable"] == "1.1.0"
    assert snap["instances"]["a" * 32]["status"] == "update-granted"
    assert (tmp_path / STATE_FILE).exists() and not (tmp_path / (STATE_FILE + ".tmp")).exists()
    history = (tmp_path / "history.jsonl").read_text()
    assert '"type":"fault"' in history and "release stable 1.1.0 corrupt" in history
    assert '"event":"instance.granted"' in history
    # a restarted service does not copy the old events into the history again
    check(again, mid="b" * 32)
    assert (tmp_path / "history.jsonl").read_text().count('"event":"release.published"') == 1


def test_unreadable_state_is_set_aside_not_fatal(tmp_path):
    (tmp_path / STATE_FILE).write_text("{broken")
    svc = service(tmp_path)
    assert svc.snapshot()["instances"] == {}
    assert (tmp_path / "update-service-state.bad").exists()


def test_policy_changes_answer_the_group_and_bad_ones_change_nothing():
    svc = service()
    group = svc.set_policy("stable", {"max_updates_per_period": 2, "safe_mode": False})
    assert group["max_updates_per_period"] == 2 and group["safe_mode"] is False
    with pytest.raises(ValueError):
        svc.set_policy("stable", {"max_updates_per_period": "many"})
    assert svc.snapshot()["groups"]["stable"]["max_updates_per_period"] == 2


def test_a_faulty_release_is_a_fault_until_a_good_one_replaces_it(tmp_path):
    svc = service(tmp_path)
    svc.publish("stable", "1.1.0", broken_boot=True)
    svc.publish("stable", "1.2.0")
    lines = [
        line for line in (tmp_path / "history.jsonl").read_text().splitlines() if '"fault"' in line
    ]
    assert len(lines) == 2
    assert '"phase":"start"' in lines[0] and '"phase":"end"' in lines[1]
    assert all('"id":"release:stable-1.1.0"' in line for line in lines)
