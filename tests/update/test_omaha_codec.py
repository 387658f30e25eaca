"""Omaha v3 XML: round trips, CoreOS attribute names, and hostile or malformed input."""

from __future__ import annotations

import pytest

from actors.update import omaha
from actors.update.omaha import (
    APP_ID,
    Event,
    EventResult,
    EventType,
    OmahaError,
    Package,
    Request,
    Response,
    Update,
)

SHA = "ab" * 32


def _request(**kw) -> Request:
    base = dict(version="1.0.0", track="stable", machine_id="1f" * 16, boot_id="2e" * 16)
    base.update(kw)
    return Request(**base)


def _update(**kw) -> Update:
    base = dict(
        version="1.1.0",
        urls=("http://127.0.63.200:8000/packages/",),
        package=Package("update.gz", 4096, SHA),
    )
    base.update(kw)
    return Update(**base)


def test_request_round_trip_with_every_event():
    req = _request(
        events=(
            Event(EventType.UPDATE_DOWNLOAD_STARTED, EventResult.SUCCESS),
            Event(EventType.UPDATE_DOWNLOAD_FINISHED, EventResult.ERROR, error_code=12),
            Event(EventType.UPDATE_COMPLETE, EventResult.SUCCESS_REBOOT, previous_version="0.9"),
        ),
        install_source="ondemandupdate",
    )
    assert omaha.parse_request(omaha.build_request(req)) == req


def test_request_uses_coreos_attribute_names():
    xml = omaha.build_request(_request(events=(Event(3, 1, previous_version="1.0.0"),))).decode()
    for attr in (
        f'appid="{APP_ID}"',
        'version="1.0.0"',
        'track="stable"',
        f'machineid="{"1f" * 16}"',
        f'bootid="{{{"2e" * 16}}}"',
        'eventtype="3"',
        'eventresult="1"',
        'previousversion="1.0.0"',
        'protocol="3.0"',
    ):
        assert attr in xml
    assert "<updatecheck" in xml and "<ping" in xml


def test_request_without_updatecheck_or_ping():
    req = _request(update_check=False, ping=False, events=(Event(13, 1),))
    xml = omaha.build_request(req).decode()
    assert "<updatecheck" not in xml and "<ping" not in xml
    assert omaha.parse_request(xml) == req


def test_parses_update_engine_style_request():
    # as CoreOS update_engine writes it (attribute order, extra attributes, a braced boot id)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<request protocol="3.0" version="CoreOSUpdateEngine-0.1.0.0" installsource="scheduler" ismachine="1">
<os version="Chateau" platform="CoreOS" sp="1.0.0_x86_64"></os>
<app appid="{APP_ID}" version="1.0.0" track="beta" bootid="{{abc}}" oem="" oemversion=""
 alephversion="1.0.0" machineid="m1" lang="en-US" board="amd64-usr" hardware_class="" delta_okay="false">
<event eventtype="3" eventresult="0" errorcode="10"></event>
</app></request>"""
    req = omaha.parse_request(xml)
    assert (req.track, req.boot_id, req.machine_id) == ("beta", "abc", "m1")
    assert req.events == (Event(3, 0, error_code=10),)
    assert not req.update_check and not req.ping


def test_response_noupdate_and_acks():
    resp = Response(update_status="noupdate", ping=True, event_acks=2)
    xml = omaha.build_response(resp).decode()
    assert xml.count('<event status="ok"') == 2 and 'status="noupdate"' in xml
    assert omaha.parse_response(xml) == resp


def test_response_with_update_round_trip():
    resp = Response(update_status="ok", update=_update())
    back = omaha.parse_response(omaha.build_response(resp))
    assert back == resp
    assert back.update.download_url == "http://127.0.63.200:8000/packages/update.gz"


def test_response_event_acks_only():
    resp = Response(event_acks=1)
    back = omaha.parse_response(omaha.build_response(resp))
    assert back.update_status is None and back.event_acks == 1


def test_sha256_from_postinstall_action_when_no_hash_sha256():
    xml = omaha.build_response(Response(update_status="ok", update=_update())).decode()
    xml = xml.replace(f' hash_sha256="{SHA}"', "")
    assert omaha.parse_response(xml).update.package.sha256_hex == SHA


def test_build_ok_without_update_is_refused():
    with pytest.raises(OmahaError):
        omaha.build_response(Response(update_status="ok"))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<response protocol="3.0"><app appid="x">&lol3;</app></response>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<request protocol="3.0"><app appid="x" version="&xxe;"/></request>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd">
<request protocol="3.0"><app appid="x" version="1"/></request>"""


@pytest.mark.parametrize(
    "doc",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        EXTERNAL_DTD,
        b"",
        b"   ",
        b"garbage \x00\xff\xfe",
        b"<response",
        b"<response protocol='3.0'><app appid='x'></response>",
        b"<html><body>502 Bad Gateway</body></html>",
        b"<response protocol='2.0'><app appid='x'/></response>",
        b"<response protocol='3.0'></response>",
        b"<response protocol='3.0'><app/></response>",
        b"<response protocol='3.0'><app appid='a'/><app appid='b'/></response>",
        b"<response protocol='3.0'><app appid='x'><updatecheck status='ok'/></app></response>",
        b"<response protocol='3.0'><app appid='x'><updatecheck/></app></response>",
        b"<?xml version='1.0' encoding='klingon'?><response protocol='3.0'/>",
        b"<" * 100_000,
        b"<a>" * 300_000,
    ],
)
def test_bad_responses_raise_omaha_error_only(doc):
    with pytest.raises(OmahaError):
        omaha.parse_response(doc)


@pytest.mark.parametrize(
    "doc",
    [
        BILLION_LAUGHS.replace(b"response", b"request"),
        EXTERNAL_ENTITY,
        EXTERNAL_DTD,
        b"<request protocol='3.0'><app appid='x'/></request>",  # no version
        b"<request protocol='3.0'><app appid='x' version='1'><event eventtype='x' eventresult='1'/></app></request>",
        b"<request protocol='3.0'><app appid='x' version='1'><event eventresult='1'/></app></request>",
        b"<request protocol='3.0'><app appid='x' version='1'><event eventtype='-3' eventresult='1'/></app></request>",
        b"<response protocol='3.0'><app appid='x'/></response>",
    ],
)
def test_bad_requests_raise_omaha_error_only(doc):
    with pytest.raises(OmahaError):
        omaha.parse_request(doc)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda x: x.replace('size="4096"', 'size="-1"'),
        lambda x: x.replace('size="4096"', 'size="lots"'),
        lambda x: x.replace(f'hash_sha256="{SHA}"', 'hash_sha256="zz"'),
        lambda x: x.replace("<urls>", "<nourls>").replace("</urls>", "</nourls>"),
        lambda x: x.replace("<manifest", "<m").replace("</manifest>", "</m>"),
        lambda x: x.replace(' name="update.gz"', ""),
    ],
)
def test_broken_update_responses(mutate):
    xml = omaha.build_response(Response(update_status="ok", update=_update())).decode()
    with pytest.raises(OmahaError):
        omaha.parse_response(mutate(xml))


def test_random_mutations_never_raise_anything_else():
    import random

    rng = random.Random(7)
    good = omaha.build_response(Response(update_status="ok", update=_update(), ping=True))
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(data))
            op = rng.random()
            if op < 0.4:
                data[i] = rng.randrange(256)
            elif op < 0.7:
                del data[i : i + rng.randint(1, 20)]
            else:
                data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 5)))
        try:
            omaha.parse_response(bytes(data))
        except OmahaError:
            pass
