"""Messages on the wire: frozen dataclasses registered by name, encoded by one msgpack codec.

Every message that crosses a process boundary (peer port, supervisor control) is a frozen
dataclass decorated with :func:`message`. It is encoded as an array: a tag (a msgpack ext holding
the type name) followed by its fields in order, so a payload may hold lists of entries, snapshots
and so on. Decoding returns tuples for arrays, which keeps frozen dataclasses hashable.

Decoding never trusts its input: an unknown type name, a wrong field count or a broken msgpack
stream raises :class:`WireError`, which callers count and drop.
"""

from __future__ import annotations

import dataclasses
import inspect
import operator
import threading
from typing import Any, TypeVar

import msgpack

_TAG_EXT = 2
_REGISTRY: dict[str, type] = {}
T = TypeVar("T")


class WireError(ValueError):
    """The bytes are not a valid encoding of a registered message."""


def message(name: str):
    """Class decorator: make ``cls`` a frozen dataclass that can travel under ``name``."""

    def register(cls: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(cls):
            cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
            _speed_up_init(cls)
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"wire name {name!r} registered twice")
        cls.WIRE_NAME = name  # type: ignore[attr-defined]
        cls._wire_fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[attr-defined]
        cls._wire_tag = msgpack.ExtType(_TAG_EXT, name.encode())  # type: ignore[attr-defined]
        cls._wire_values = _values_getter(cls._wire_fields)  # type: ignore[attr-defined]
        _REGISTRY[name] = cls
        tag = _Tag(name)
        tag.cls = cls
        _TAGS[name.encode()] = tag
        return cls

    return register


def _speed_up_init(cls: type) -> None:
    """Give a frozen, slotted dataclass without defaults an ``__init__`` that stores each field
    through its slot's own setter. The generated one calls ``object.__setattr__`` per field (to
    get past the frozen ``__setattr__``), which costs twice as much; messages are built on every
    hop of a write (entries, requests, events). The class stays frozen, equal and hashable alike."""
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    params = list(inspect.signature(cls.__init__).parameters)[1:]  # InitVars show up here too
    plain = params == names and all(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        for f in fields
    )
    if not plain or hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__:
        return
    scope = {f"_set_{n}": cls.__dict__[n].__set__ for n in names}
    body = "".join(f"    _set_{n}(self, {n})\n" for n in names) or "    pass\n"
    exec(f"def __init__(self, {', '.join(names)}):\n{body}", scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]


def _values_getter(fields: tuple[str, ...]) -> Any:
    """``obj -> tuple of its field values``, in C where there are two fields or more."""
    if len(fields) >= 2:
        return operator.attrgetter(*fields)
    return lambda obj: tuple(getattr(obj, f) for f in fields)


def wire_name(obj: Any) -> str:
    try:
        return type(obj).WIRE_NAME
    except AttributeError:
        raise WireError(f"{type(obj).__name__} is not a registered wire message") from None


def fields_of(obj: Any) -> tuple[Any, ...]:
    return type(obj)._wire_values(obj)


def _default(obj: Any) -> Any:
    # A message becomes an array led by a tag (an ext holding its type name). Returning a list
    # lets msgpack's C packer carry on in one pass instead of packing each message separately.
    cls = type(obj)
    tag = getattr(cls, "_wire_tag", None)
    if tag is not None:
        return [tag, *cls._wire_values(obj)]
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


class _Tag(str):
    """A decoded message tag: the type name, told apart from ordinary strings by its type."""

    cls: type | None = None  # the registered class of that name (None: an unknown name)


# One tag per registered name, made at registration: decoding looks a tag up instead of making
# one, and finds the class on it (a frame from a peer holds one per message and entry).
_TAGS: dict[bytes, _Tag] = {}


def _ext_hook(code: int, data: bytes) -> Any:
    if code != _TAG_EXT:
        raise WireError(f"unknown ext type {code}")
    tag = _TAGS.get(data)
    return tag if tag is not None else _Tag(data.decode("utf-8", "replace"))


def _list_hook(items: list) -> Any:
    if not items or type(items[0]) is not _Tag:
        return tuple(items)
    tag, cls = items[0], items[0].cls
    if cls is not None and len(items) == len(cls._wire_fields) + 1:
        try:
            return cls(*items[1:])
        except (TypeError, ValueError) as exc:
            raise WireError(f"{tag}: {exc}") from None
    return build(str(tag), items[1:])  # an unknown name or a wrong field count: build says which


def build(name: Any, values: Any) -> Any:
    """Construct the registered message ``name`` from positional ``values``."""
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise WireError(f"unknown message type {name!r}")
    if not isinstance(values, (tuple, list)) or len(values) != len(cls._wire_fields):
        raise WireError(f"{name}: expected {len(cls._wire_fields)} fields")
    try:
        return cls(*values)
    except (TypeError, ValueError) as exc:
        raise WireError(f"{name}: {exc}") from None


# msgpack.packb builds a Packer, with a 1 MiB buffer, for every call: one kept per thread and
# reused halves the cost of a small message (a 4-tuple 3.6 -> 1.5 us, a V2Request 7.3 -> 3.0 us).
_PACKERS = threading.local()
_KEEP_PACKER_BYTES = 1 << 20  # a Packer grown past its first buffer (a snapshot) is let go


def pack(value: Any) -> bytes:
    """Encode any value that may contain registered messages."""
    packer = getattr(_PACKERS, "packer", None)
    if packer is None:
        packer = msgpack.Packer(default=_default, use_bin_type=True)
    # taken while in use: a pack that re-enters on this thread (a signal handler) makes its own,
    # and one that raises is dropped with its packer
    _PACKERS.packer = None
    out = packer.pack(value)
    if len(out) <= _KEEP_PACKER_BYTES:
        _PACKERS.packer = packer
    return out


def unpack(data: bytes, max_size: int = 64 << 20) -> Any:
    """Decode what :func:`pack` produced; raise :class:`WireError` on anything else."""
    if len(data) > max_size:
        raise WireError(f"frame of {len(data)} bytes exceeds {max_size}")
    try:
        return msgpack.unpackb(
            data, ext_hook=_ext_hook, list_hook=_list_hook, raw=False, strict_map_key=False
        )
    except WireError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise WireError(f"undecodable frame: {type(exc).__name__}: {exc}") from None
