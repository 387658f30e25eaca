"""A release: the OS image a USR partition holds, and the signed package the update service serves.

Image (what ``USR-A``/``USR-B`` hold at their start)::

    header, 128 bytes, big-endian
      0  magic      8s   b"CEMUIMG1"
      8  format     H    1
     10  flags      H    bit 0: broken-boot (the image fails to boot: a fault)
     12  length     Q    bytes of payload after the header
     20  channel    16s  "stable", NUL-padded
     36  version    32s  "1.1.0", NUL-padded
     68  build id   32s  NUL-padded
    100  reserved   24s  zeros
    124  crc32      I    of bytes 0..123: a torn slot write shows as a bad header
    payload, ``length`` bytes (deterministic filler: the emulator ships no real /usr)

Package (the download) = image, then ``b"CEMUSIG1"`` and the 64-byte Ed25519 signature of the
image. The Omaha response announces the package's size and SHA-256; :func:`check_download`
checks size, then SHA-256, then signature, then the header — all before anyone touches a slot.

The signing key is derived from the cluster token (:func:`release_key`), so the run's update
service and every node agree on it without shipping key files. A ``--bad-signature`` release is
signed with :func:`rogue_key`; a ``--corrupt`` one is served with bytes that differ from the
announced SHA-256.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from actors.update.codes import ErrorCode

MAGIC = b"CEMUIMG1"
SIG_MAGIC = b"CEMUSIG1"
FORMAT = 1
HEADER_SIZE = 128
SIGNATURE_SIZE = 64
FLAG_BROKEN_BOOT = 0x1
_HEAD = struct.Struct(">8sHHQ16s32s32s24s")  # 124 bytes, then the CRC
_CRC = struct.Struct(">I")


class PayloadError(ValueError):
    """A package or image failed a check; ``code`` is update_engine's error code for it."""

    def __init__(self, message: str, code: ErrorCode):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ImageHeader:
    version: str
    channel: str
    build_id: str
    payload_length: int
    flags: int = 0

    @property
    def broken_boot(self) -> bool:
        return bool(self.flags & FLAG_BROKEN_BOOT)

    @property
    def image_size(self) -> int:
        return HEADER_SIZE + self.payload_length


def _field(text: str, size: int, what: str) -> bytes:
    raw = text.encode("utf-8")
    if not raw or len(raw) > size or b"\0" in raw:
        raise ValueError(f"{what} {text!r} must be 1..{size} bytes of UTF-8 without NUL")
    return raw


def encode_header(h: ImageHeader) -> bytes:
    head = _HEAD.pack(
        MAGIC,
        FORMAT,
        h.flags,
        h.payload_length,
        _field(h.channel, 16, "channel"),
        _field(h.version, 32, "version"),
        _field(h.build_id, 32, "build id"),
        b"",
    )
    return head + _CRC.pack(zlib.crc32(head))


def read_header(data: bytes) -> ImageHeader:
    """The header at the start of ``data``; :class:`PayloadError` if it is not one."""
    if len(data) < HEADER_SIZE:
        raise PayloadError(
            f"image too short for a header ({len(data)} < {HEADER_SIZE} bytes)",
            ErrorCode.DOWNLOAD_INVALID_METADATA_MAGIC,
        )
    head = bytes(data[: _HEAD.size])
    magic, fmt, flags, length, channel, version, build, _ = _HEAD.unpack(head)
    if magic != MAGIC:
        raise PayloadError(
            f"bad image magic {magic!r} (expected {MAGIC!r})",
            ErrorCode.DOWNLOAD_INVALID_METADATA_MAGIC,
        )
    (crc,) = _CRC.unpack_from(data, _HEAD.size)
    if crc != zlib.crc32(head):
        raise PayloadError("image header CRC mismatch", ErrorCode.NEW_ROOTFS_VERIFICATION_ERROR)
    if fmt != FORMAT:
        raise PayloadError(
            f"image format {fmt} not supported", ErrorCode.DOWNLOAD_INVALID_METADATA_MAGIC
        )
    try:
        return ImageHeader(
            version=version.rstrip(b"\0").decode("utf-8"),
            channel=channel.rstrip(b"\0").decode("utf-8"),
            build_id=build.rstrip(b"\0").decode("utf-8"),
            payload_length=length,
            flags=flags,
        )
    except UnicodeDecodeError:
        raise PayloadError(
            "image header text is not UTF-8", ErrorCode.NEW_ROOTFS_VERIFICATION_ERROR
        ) from None


def _filler(h: ImageHeader) -> bytes:
    seed = f"{h.channel}/{h.version}/{h.build_id}".encode()
    return hashlib.shake_256(seed).digest(h.payload_length) if h.payload_length else b""


def build_payload(
    version: str, channel: str, build_id: str, size: int, broken_boot: bool = False
) -> bytes:
    """An image: header + ``size`` bytes of deterministic payload (what a USR slot holds)."""
    if size < 0:
        raise ValueError(f"payload size {size} must be >= 0")
    h = ImageHeader(version, channel, build_id, size, FLAG_BROKEN_BOOT if broken_boot else 0)
    return encode_header(h) + _filler(h)


# --- signing ---------------------------------------------------------------------------------
def _derive(label: bytes, token: str) -> Ed25519PrivateKey:
    seed = hashlib.sha256(label + b"\0" + token.encode("utf-8")).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def release_key(token: str) -> Ed25519PrivateKey:
    """The run's release signing key, the same wherever the cluster token is known."""
    return _derive(b"coreemu release signing key v1", token)


def rogue_key(token: str) -> Ed25519PrivateKey:
    """Another key, for ``--bad-signature`` releases: nodes must refuse what it signs."""
    return _derive(b"coreemu rogue key (bad-signature fault)", token)


def release_public_key(token: str) -> Ed25519PublicKey:
    return release_key(token).public_key()


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    return key.sign(bytes(data))


def verify(data: bytes, signature: bytes, public_key: Ed25519PublicKey) -> None:
    """Return if ``signature`` is ``public_key``'s over ``data``; raise :class:`PayloadError`."""
    try:
        public_key.verify(bytes(signature), bytes(data))
    except InvalidSignature:
        raise PayloadError(
            "payload signature does not verify with the release key",
            ErrorCode.DOWNLOAD_PAYLOAD_VERIFICATION_ERROR,
        ) from None


def signed_package(image: bytes, key: Ed25519PrivateKey) -> bytes:
    """The download: image + signature block."""
    return bytes(image) + SIG_MAGIC + sign(image, key)


def split_package(data: bytes) -> tuple[bytes, bytes]:
    """(image, signature) of a package; :class:`PayloadError` if it carries no signature block."""
    tail = SIGNATURE_SIZE + len(SIG_MAGIC)
    if len(data) < HEADER_SIZE + tail or data[-tail:-SIGNATURE_SIZE] != SIG_MAGIC:
        raise PayloadError(
            "package has no signature block", ErrorCode.DOWNLOAD_PAYLOAD_VERIFICATION_ERROR
        )
    return bytes(data[:-tail]), bytes(data[-SIGNATURE_SIZE:])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_download(
    data: bytes, size: int, sha256: str, public_key: Ed25519PublicKey
) -> tuple[ImageHeader, bytes]:
    """Every check of a downloaded package, in update_engine's order; (header, image) if all pass.

    Size and hash against what the Omaha response announced, then the signature, then the image
    header and its length. Nothing here writes anywhere: the caller touches the passive slot
    only with what this returns.
    """
    if len(data) != size:
        raise PayloadError(
            f"payload size {len(data)} differs from the announced {size}",
            ErrorCode.PAYLOAD_SIZE_MISMATCH,
        )
    got = sha256_hex(data)
    if got != sha256.lower():
        raise PayloadError(
            f"payload SHA-256 {got} differs from the announced {sha256.lower()}",
            ErrorCode.PAYLOAD_HASH_MISMATCH,
        )
    image, signature = split_package(data)
    verify(image, signature, public_key)
    header = read_header(image)
    if header.image_size != len(image):
        raise PayloadError(
            f"image is {len(image)} bytes, its header says {header.image_size}",
            ErrorCode.PAYLOAD_SIZE_MISMATCH,
        )
    return header, image
