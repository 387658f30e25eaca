"""The payloads the service serves: one signed package per release, built on first use.

Deterministic: a release's image is :func:`actors.update.payload.build_payload` of its version,
channel and build id, and Ed25519 signatures are deterministic, so a restarted service serves the
very bytes it announced before. The update faults live here:

* ``--bad-signature``: signed with the rogue key; size and SHA-256 announced truthfully, so only
  the signature check fails on the node;
* ``--corrupt``: size and SHA-256 of the genuine package are announced, but the bytes served have
  a stretch flipped in the middle (same length): the node's hash check fails;
* ``--broken-boot``: a genuine, well-signed package whose image header says it does not boot.
"""

from __future__ import annotations

import threading

from actors.update.omaha import Package
from actors.update.payload import (
    build_payload,
    release_key,
    rogue_key,
    sha256_hex,
    signed_package,
)
from actors.updateservice.state import Release

PACKAGE_NAME = "update.gz"  # CoreOS's name for the payload
CORRUPT_SPAN = 64


class PackageStore:
    def __init__(self, token: str, payload_size: int):
        self.token = token
        self.payload_size = payload_size
        self._cache: dict[str, tuple[bytes, Package]] = {}
        self._lock = threading.Lock()

    def _build(self, release: Release) -> tuple[bytes, Package]:
        image = build_payload(
            release.version,
            release.channel,
            release.build_id,
            self.payload_size,
            broken_boot=release.broken_boot,
        )
        key = rogue_key(self.token) if release.bad_signature else release_key(self.token)
        genuine = signed_package(image, key)
        package = Package(PACKAGE_NAME, len(genuine), sha256_hex(genuine))
        served = genuine
        if release.corrupt:
            mid = len(genuine) // 2
            flipped = bytes(b ^ 0xFF for b in genuine[mid : mid + CORRUPT_SPAN])
            served = genuine[:mid] + flipped + genuine[mid + CORRUPT_SPAN :]
        return served, package

    def get(self, release: Release) -> tuple[bytes, Package]:
        """(bytes served, package announced) for ``release``."""
        with self._lock:
            if release.id not in self._cache:
                self._cache[release.id] = self._build(release)
            return self._cache[release.id]

    def package(self, release: Release) -> Package:
        return self.get(release)[1]
