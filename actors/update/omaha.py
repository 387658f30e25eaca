"""Omaha v3 XML as CoreOS update_engine and CoreUpdate speak it: build and parse, both directions.

Pure: bytes in, frozen dataclasses out, and back. A client's request carries one ``<app>`` (the
CoreOS app id, ``version``, ``track`` = the update group, ``machineid``, ``bootid``) with any of
``<ping>``, ``<updatecheck>`` and ``<event>``; the server's response answers each: ``<ping
status="ok"/>``, ``<updatecheck status="noupdate"|"ok">`` (with ``<urls>``, ``<manifest
version>``, its ``<package>`` and the ``postinstall`` action) and one ``<event status="ok"/>``
per event. Attribute names are CoreOS's (go-omaha's ``protocol.go``): the package's SHA-256 is
``hash_sha256`` (hex, as Nebraska serves it) and the postinstall action's ``sha256`` (base64, as
update_engine reads it); the download URL is the codebase joined with the package name.

Everything from the network is parsed with defusedxml (no DTDs, no entities, no external
references) and checked; whatever is wrong — hostile, malformed, or just not Omaha — raises
one :class:`OmahaError`, never anything else.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml
from defusedxml.ElementTree import fromstring

from actors.update.codes import ErrorCode, EventResult, EventType

__all__ = [
    "APP_ID",
    "ErrorCode",
    "Event",
    "EventResult",
    "EventType",
    "OmahaError",
    "Package",
    "Request",
    "Response",
    "Update",
    "build_request",
    "build_response",
    "parse_request",
    "parse_response",
]

APP_ID = "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}"  # CoreOS Container Linux
PROTOCOL = "3.0"
UPDATER_VERSION = "CoreOSUpdateEngine-0.1.0.0"
MAX_DOCUMENT_BYTES = 256 * 1024  # a real request or response is well under 4 KiB


class OmahaError(ValueError):
    """The document is not a usable Omaha v3 request or response; the message says why."""


@dataclass(frozen=True)
class Event:
    type: int  # EventType: 13 download started, 14 download finished, 3 update complete
    result: int  # EventResult: 0 error, 1 success, 2 success-reboot
    error_code: int | None = None  # ErrorCode, with result 0
    previous_version: str | None = None  # on event 3 after rebooting into a new version
    next_version: str | None = None  # the version an event is about, when not the running one


@dataclass(frozen=True)
class Request:
    version: str  # the running OS version
    track: str  # the update group (CoreOS: stable, beta, alpha, or a CoreUpdate group id)
    machine_id: str
    boot_id: str
    app_id: str = APP_ID
    update_check: bool = True
    ping: bool = True
    events: tuple[Event, ...] = ()
    install_source: str = "scheduler"  # "ondemandupdate" for update_engine_client -check_for_update
    board: str = "amd64-usr"
    oem: str = ""


@dataclass(frozen=True)
class Package:
    name: str  # e.g. "update.gz"
    size: int  # bytes
    sha256_hex: str  # 64 lowercase hex


@dataclass(frozen=True)
class Update:
    version: str  # the manifest version: what the node will run after the reboot
    urls: tuple[str, ...]  # codebases; the payload is at url + package.name
    package: Package
    postinstall: bool = True

    @property
    def download_url(self) -> str:
        return self.urls[0] + self.package.name


@dataclass(frozen=True)
class Response:
    app_id: str = APP_ID
    app_status: str = "ok"  # or error-unknownApplication, error-internal, ...
    update_status: str | None = None  # "noupdate", "ok", "error-…"; None: no updatecheck asked
    update: Update | None = None  # with update_status "ok"
    ping: bool = False  # answer a <ping>
    event_acks: int = 0  # one <event status="ok"/> per event received


# --- building --------------------------------------------------------------------------------
def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k: v for k, v in attrs.items()})


def _bytes(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def build_request(req: Request) -> bytes:
    root = ET.Element(
        "request",
        {
            "protocol": PROTOCOL,
            "version": UPDATER_VERSION,
            "updaterversion": UPDATER_VERSION,
            "installsource": req.install_source,
            "ismachine": "1",
        },
    )
    _sub(root, "os", version="Chateau", platform="CoreOS", sp=f"{req.version}_x86_64")
    app = _sub(
        root,
        "app",
        appid=req.app_id,
        version=req.version,
        track=req.track,
        bootid="{" + req.boot_id + "}",
        oem=req.oem,
        machineid=req.machine_id,
        lang="en-US",
        board=req.board,
        delta_okay="false",
    )
    if req.ping:
        _sub(app, "ping", active="1", a="-1", r="-1")
    if req.update_check:
        _sub(app, "updatecheck", targetversionprefix="")
    for ev in req.events:
        attrs = {"eventtype": str(int(ev.type)), "eventresult": str(int(ev.result))}
        if ev.error_code is not None:
            attrs["errorcode"] = str(int(ev.error_code))
        if ev.previous_version is not None:
            attrs["previousversion"] = ev.previous_version
        if ev.next_version is not None:
            attrs["nextversion"] = ev.next_version
        _sub(app, "event", **attrs)
    return _bytes(root)


def build_response(resp: Response) -> bytes:
    root = ET.Element("response", {"protocol": PROTOCOL, "server": "coreemu"})
    _sub(root, "daystart", elapsed_seconds="0")
    app = _sub(root, "app", appid=resp.app_id, status=resp.app_status)
    for _ in range(resp.event_acks):
        _sub(app, "event", status="ok")
    if resp.ping:
        _sub(app, "ping", status="ok")
    if resp.update_status is not None:
        uc = _sub(app, "updatecheck", status=resp.update_status)
        up = resp.update
        if resp.update_status == "ok":
            if up is None:
                raise OmahaError("an updatecheck with status ok needs an update")
            urls = _sub(uc, "urls")
            for codebase in up.urls:
                _sub(urls, "url", codebase=codebase)
            manifest = _sub(uc, "manifest", version=up.version)
            pkgs = _sub(manifest, "packages")
            pkg = up.package
            _sub(
                pkgs,
                "package",
                name=pkg.name,
                size=str(pkg.size),
                hash_sha256=pkg.sha256_hex,
                required="true",
            )
            if up.postinstall:
                actions = _sub(manifest, "actions")
                sha_b64 = base64.b64encode(bytes.fromhex(pkg.sha256_hex)).decode()
                _sub(
                    actions,
                    "action",
                    event="postinstall",
                    DisplayVersion=up.version,
                    sha256=sha_b64,
                    needsadmin="false",
                )
    return _bytes(root)


# --- parsing ---------------------------------------------------------------------------------
def _root(data: bytes | str, tag: str) -> ET.Element:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise OmahaError(f"document too large ({len(raw)} bytes, at most {MAX_DOCUMENT_BYTES})")
    if not raw.strip():
        raise OmahaError("empty document")
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise OmahaError(f"refused hostile XML: {type(exc).__name__}") from None
    except ET.ParseError as exc:
        raise OmahaError(f"malformed XML: {exc}") from None
    except Exception as exc:  # expat quirks (bad encodings, recursion): still one clear error
        raise OmahaError(f"unreadable XML: {type(exc).__name__}: {exc}") from None
    if root.tag != tag:
        raise OmahaError(f"expected <{tag}>, got <{root.tag}>")
    protocol = root.get("protocol")
    if protocol != PROTOCOL:
        raise OmahaError(f"<{tag}> protocol is {protocol!r}, only {PROTOCOL!r} is spoken")
    return root


def _app(root: ET.Element) -> ET.Element:
    apps = root.findall("app")
    if len(apps) != 1:
        raise OmahaError(f"expected one <app>, found {len(apps)}")
    if not apps[0].get("appid"):
        raise OmahaError("<app> has no appid")
    return apps[0]


def _int(el: ET.Element, attr: str, *, required: bool = True, minimum: int = 0) -> int | None:
    value = el.get(attr)
    if value is None or value == "":
        if required:
            raise OmahaError(f"<{el.tag}> lacks {attr}")
        return None
    try:
        n = int(value, 10)
    except ValueError:
        raise OmahaError(f"<{el.tag} {attr}={value!r}> is not an integer") from None
    if n < minimum:
        raise OmahaError(f"<{el.tag} {attr}={value!r}> is below {minimum}")
    return n


def _text(el: ET.Element, attr: str, *, required: bool = True) -> str:
    value = el.get(attr)
    if value is None or (required and not value):
        if required:
            raise OmahaError(f"<{el.tag}> lacks {attr}")
        return ""
    return value


def parse_request(data: bytes | str) -> Request:
    root = _root(data, "request")
    app = _app(root)
    events = []
    for ev in app.findall("event"):
        events.append(
            Event(
                type=_int(ev, "eventtype"),  # type: ignore[arg-type]
                result=_int(ev, "eventresult"),  # type: ignore[arg-type]
                error_code=_int(ev, "errorcode", required=False),
                previous_version=ev.get("previousversion"),
                next_version=ev.get("nextversion"),
            )
        )
    return Request(
        version=_text(app, "version"),
        track=app.get("track", ""),
        machine_id=app.get("machineid", ""),
        boot_id=app.get("bootid", "").strip("{}"),
        app_id=app.get("appid", ""),
        update_check=app.find("updatecheck") is not None,
        ping=app.find("ping") is not None,
        events=tuple(events),
        install_source=root.get("installsource", ""),
        board=app.get("board", ""),
        oem=app.get("oem", ""),
    )


def _sha256_hex(pkg: ET.Element, manifest: ET.Element) -> str:
    value = pkg.get("hash_sha256")
    if value:
        if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
            raise OmahaError(f"<package hash_sha256={value!r}> is not 64 hex digits")
        return value.lower()
    for action in manifest.findall("actions/action"):  # update_engine's own place for it
        if action.get("event") == "postinstall" and action.get("sha256"):
            try:
                digest = base64.b64decode(action.get("sha256", ""), validate=True)
            except (binascii.Error, ValueError):
                raise OmahaError("postinstall action sha256 is not base64") from None
            if len(digest) != 32:
                raise OmahaError("postinstall action sha256 is not a SHA-256")
            return digest.hex()
    raise OmahaError("the package has no SHA-256 (hash_sha256 or postinstall sha256)")


def _update(uc: ET.Element) -> Update:
    urls = tuple(_text(u, "codebase") for u in uc.findall("urls/url"))
    if not urls:
        raise OmahaError("updatecheck status ok without <urls>")
    manifest = uc.find("manifest")
    if manifest is None:
        raise OmahaError("updatecheck status ok without <manifest>")
    pkgs = manifest.findall("packages/package")
    if len(pkgs) != 1:
        raise OmahaError(f"expected one <package>, found {len(pkgs)}")
    pkg = pkgs[0]
    package = Package(
        name=_text(pkg, "name"),
        size=_int(pkg, "size", minimum=1),  # type: ignore[arg-type]
        sha256_hex=_sha256_hex(pkg, manifest),
    )
    postinstall = any(a.get("event") == "postinstall" for a in manifest.findall("actions/action"))
    return Update(
        version=_text(manifest, "version"), urls=urls, package=package, postinstall=postinstall
    )


def parse_response(data: bytes | str) -> Response:
    root = _root(data, "response")
    app = _app(root)
    uc = app.find("updatecheck")
    status = None if uc is None else _text(uc, "status")
    update = _update(uc) if uc is not None and status == "ok" else None
    return Response(
        app_id=app.get("appid", ""),
        app_status=app.get("status", "ok"),
        update_status=status,
        update=update,
        ping=app.find("ping") is not None,
        event_acks=len(app.findall("event")),
    )


# Names for logs and status pages.
EVENT_NAMES = {
    EventType.UPDATE_DOWNLOAD_STARTED: "download started",
    EventType.UPDATE_DOWNLOAD_FINISHED: "download finished",
    EventType.UPDATE_COMPLETE: "update complete",
}
RESULT_NAMES = {EventResult.ERROR: "error", EventResult.SUCCESS: "success"}
