"""Unit names: templates (``name@.service``), instances (``name@1.service``) and specifiers.

``parse_unit_name("apache@1.service")`` gives prefix ``apache``, instance ``1`` and template
``apache@.service``, as fleet's ``unit.NewUnitNameInfo`` does. :func:`expand_specifiers` replaces
systemd's ``%n %N %p %P %i %I %%`` (and any extra ones passed in, such as ``%m`` or ``%H``) in a
unit's values; an unknown specifier is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# the unit types fleet accepts (fleet's unit.RecognizedUnitType)
UNIT_TYPES = ("service", "socket", "timer", "path", "device", "mount", "automount")
MAX_NAME_LENGTH = 255  # systemd's UNIT_NAME_MAX
_VALID_CHARS = re.compile(r"[A-Za-z0-9:_.@\\-]+")


class UnitNameError(ValueError):
    pass


@dataclass(frozen=True)
class UnitName:
    full: str  # apache@1.service
    name: str  # apache@1 (no suffix)
    suffix: str  # .service
    prefix: str  # apache
    template: str  # apache@.service ("" for a plain unit)
    instance: str  # 1 ("" for a plain unit or a template)

    @property
    def is_template(self) -> bool:
        return bool(self.template) and not self.instance

    @property
    def is_instance(self) -> bool:
        return bool(self.instance)

    def with_instance(self, instance: str) -> str:
        """``apache@.service`` + ``2`` → ``apache@2.service``."""
        if not self.template:
            raise UnitNameError(f"{self.full} is not a template unit")
        return f"{self.prefix}@{instance}{self.suffix}"


def parse_unit_name(full: str) -> UnitName:
    """Split a unit name like fleet does: the instance is between the first @ and the last dot."""
    dot = full.rfind(".")
    if dot == -1:
        raise UnitNameError(f"unit name {full!r} has no type suffix (e.g. .service)")
    name, suffix = full[:dot], full[dot:]
    at = name.find("@")
    if at == -1:
        return UnitName(full, name, suffix, name, "", "")
    prefix = name[:at]
    return UnitName(full, name, suffix, prefix, f"{prefix}@{suffix}", name[at + 1 :])


def validate_unit_name(full: str) -> None:
    """Raise :class:`UnitNameError` saying what is wrong with a unit name fleet would refuse."""
    if not full:
        raise UnitNameError("unit name is empty")
    if len(full) > MAX_NAME_LENGTH:
        raise UnitNameError(f"unit name exceeds {MAX_NAME_LENGTH} characters: {full[:40]}...")
    if not _VALID_CHARS.fullmatch(full):
        bad = sorted({c for c in full if not _VALID_CHARS.fullmatch(c)})
        raise UnitNameError(f"unit name {full!r} contains invalid characters {''.join(bad)!r}")
    info = parse_unit_name(full)
    if info.suffix[1:] not in UNIT_TYPES:
        raise UnitNameError(
            f"unit name {full!r} has an unsupported type {info.suffix!r}"
            f" (one of: {', '.join('.' + t for t in UNIT_TYPES)})"
        )
    if not info.prefix:
        raise UnitNameError(f"unit name {full!r} has an empty prefix before '@'")
    if "@" in info.instance:
        raise UnitNameError(f"unit name {full!r} has more than one '@'")


def unescape(text: str) -> str:
    """systemd's unit-name unescaping: ``-`` is ``/`` and ``\\xNN`` a byte."""
    out = text.replace("-", "/")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), out)


def specifiers(full: str) -> dict[str, str]:
    info = parse_unit_name(full)
    return {
        "n": info.full,
        "N": unescape(info.name),
        "p": info.prefix,
        "P": unescape(info.prefix),
        "i": info.instance,
        "I": unescape(info.instance),
        "%": "%",
    }


def expand_specifiers(text: str, unit: str, extra: Mapping[str, str] | None = None) -> str:
    """Replace ``%x`` specifiers for the unit named ``unit``; ``extra`` adds e.g. ``m``, ``H``."""
    if "%" not in text:
        return text
    table = {**(extra or {}), **specifiers(unit)}
    return re.sub(r"%(.)", lambda m: table.get(m.group(1), m.group(0)), text, flags=re.S)
