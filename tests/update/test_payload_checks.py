"""Release images and signed packages: headers, keys, and every check a download must pass."""

from __future__ import annotations

import pytest

from actors.update import payload as P
from actors.update.codes import ErrorCode

TOKEN = "test-token"


def _package(**kw) -> bytes:
    image = P.build_payload("1.1.0", "stable", "b1", 4096, **kw)
    return P.signed_package(image, P.release_key(TOKEN))


def _check(data: bytes, size: int | None = None, sha: str | None = None):
    return P.check_download(
        data,
        len(data) if size is None else size,
        P.sha256_hex(data) if sha is None else sha,
        P.release_public_key(TOKEN),
    )


def test_image_header_round_trip():
    image = P.build_payload("1.1.0", "beta", "2026-12-02", 1000, broken_boot=True)
    h = P.read_header(image)
    assert (h.version, h.channel, h.build_id, h.payload_length) == (
        "1.1.0",
        "beta",
        "2026-12-02",
        1000,
    )
    assert h.broken_boot and h.image_size == len(image) == P.HEADER_SIZE + 1000


def test_payload_bytes_are_deterministic_and_differ_by_version():
    a = P.build_payload("1.1.0", "stable", "b", 64)
    assert a == P.build_payload("1.1.0", "stable", "b", 64)
    assert a[P.HEADER_SIZE :] != P.build_payload("1.2.0", "stable", "b", 64)[P.HEADER_SIZE :]


def test_keys_derive_from_the_token():
    pub = P.release_public_key(TOKEN).public_bytes_raw()
    assert pub == P.release_key(TOKEN).public_key().public_bytes_raw()
    assert pub != P.release_public_key("other").public_bytes_raw()
    assert pub != P.rogue_key(TOKEN).public_key().public_bytes_raw()


def test_good_package_passes():
    h, image = _check(_package())
    assert h.version == "1.1.0" and P.read_header(image) == h


def test_sign_and_verify():
    sig = P.sign(b"data", P.release_key(TOKEN))
    P.verify(b"data", sig, P.release_public_key(TOKEN))
    with pytest.raises(P.PayloadError) as exc:
        P.verify(b"datA", sig, P.release_public_key(TOKEN))
    assert exc.value.code == ErrorCode.DOWNLOAD_PAYLOAD_VERIFICATION_ERROR


def test_bad_signature_is_refused():
    image = P.build_payload("1.1.0", "stable", "b", 100)
    data = P.signed_package(image, P.rogue_key(TOKEN))
    with pytest.raises(P.PayloadError) as exc:
        _check(data)
    assert exc.value.code == ErrorCode.DOWNLOAD_PAYLOAD_VERIFICATION_ERROR


def test_corrupt_bytes_fail_the_hash():
    data = _package()
    announced = P.sha256_hex(data)
    corrupt = bytearray(data)
    corrupt[500] ^= 0xFF
    with pytest.raises(P.PayloadError) as exc:
        _check(bytes(corrupt), sha=announced)
    assert exc.value.code == ErrorCode.PAYLOAD_HASH_MISMATCH


@pytest.mark.parametrize("cut", [1, 64, 4000, len(_package()) - 1])
def test_short_download_fails_the_size(cut):
    data = _package()
    with pytest.raises(P.PayloadError) as exc:
        _check(data[:cut], size=len(data), sha=P.sha256_hex(data))
    assert exc.value.code == ErrorCode.PAYLOAD_SIZE_MISMATCH


def test_signed_but_wrong_header_length():
    image = P.build_payload("1.1.0", "stable", "b", 100)[:-10]  # header says 100 bytes
    data = P.signed_package(image, P.release_key(TOKEN))
    with pytest.raises(P.PayloadError) as exc:
        _check(data)
    assert exc.value.code == ErrorCode.PAYLOAD_SIZE_MISMATCH


def test_unsigned_package_is_refused():
    image = P.build_payload("1.1.0", "stable", "b", 100)
    with pytest.raises(P.PayloadError):
        _check(image)


@pytest.mark.parametrize("offset", range(0, P.HEADER_SIZE, 7))
def test_any_header_byte_flip_is_detected(offset):
    image = bytearray(P.build_payload("1.1.0", "stable", "b", 10))
    image[offset] ^= 0x01
    with pytest.raises(P.PayloadError):
        P.read_header(bytes(image))


def test_bad_header_fields_are_refused_when_building():
    with pytest.raises(ValueError):
        P.build_payload("", "stable", "b", 1)
    with pytest.raises(ValueError):
        P.build_payload("1.0.0", "x" * 17, "b", 1)
    with pytest.raises(ValueError):
        P.build_payload("1.0.0", "stable", "b", -1)
