"""fleet's registry in etcd: key paths and the JSON of every record, byte for byte as fleet writes them.

Layout under ``/_coreos.com/fleet/`` (coreos/fleet ``registry/``):

- ``machines/<id>/object`` (TTL agent-ttl): ``{"ID","PublicIP","Metadata","Capabilities","Version"}``
- ``unit/<sha1 hex>``: ``{"Raw": <canonical unit text>}`` — content-addressed, never deleted
- ``job/<name>/object``: ``{"Name","UnitHash":[20 ints]}``; ``job/<name>/target-state``:
  inactive | loaded | launched; ``job/<name>/target``: the scheduled machine id;
  ``job/<name>/job-state``: the machine id, TTL-heartbeated by the agent that launched it
- ``states/<name>/<machine id>`` (TTL): ``{"loadState","activeState","subState","machineState",
  "unitHash"}`` (and the legacy ``state/<name>`` with the same value)
- ``lease/engine-leader`` (TTL): ``{"MachineID","Version"}``; ``engine/version``: ``1``

JSON is encoded as Go's ``encoding/json`` does (struct field order, sorted map keys, no spaces,
``<``, ``>``, ``&`` escaped), so the SHA-1 and the bytes in etcd match what fleet itself writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.unitfile import UnitFile, serialize

PREFIX = "/_coreos.com/fleet"
ENGINE_VERSION = 1
ENGINE_LEASE = "engine-leader"
FLEET_VERSION = "0.11.8"  # what machines report as their fleet version

INACTIVE, LOADED, LAUNCHED = "inactive", "loaded", "launched"
JOB_STATES = (INACTIVE, LOADED, LAUNCHED)


def go_json(value: Any) -> str:
    """``json.Marshal`` output: compact, map keys sorted, HTML characters escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# --- keys ---------------------------------------------------------------------------------------
def machine_key(machine_id: str) -> str:
    return f"{PREFIX}/machines/{machine_id}/object"


def unit_key(hash_hex: str) -> str:
    return f"{PREFIX}/unit/{hash_hex}"


def job_key(name: str, leaf: str = "") -> str:
    return f"{PREFIX}/job/{name}" + (f"/{leaf}" if leaf else "")


def state_key(name: str, machine_id: str) -> str:
    return f"{PREFIX}/states/{name}/{machine_id}"


def legacy_state_key(name: str) -> str:
    return f"{PREFIX}/state/{name}"


def lease_key(name: str = ENGINE_LEASE) -> str:
    return f"{PREFIX}/lease/{name}"


ENGINE_VERSION_KEY = f"{PREFIX}/engine/version"


# --- records ------------------------------------------------------------------------------------
def unit_text(unit: UnitFile) -> str:
    """fleet's canonical text of a unit (go-systemd ``Serialize``)."""
    return serialize(unit.options)


def unit_hash(unit: UnitFile) -> str:
    """SHA-1 hex of the canonical text: the unit's name in ``unit/``."""
    return hashlib.sha1(unit_text(unit).encode()).hexdigest()


@dataclass(frozen=True)
class MachineState:
    id: str
    public_ip: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    version: str = FLEET_VERSION

    def encode(self) -> str:
        return go_json(self.to_go())

    def to_go(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "PublicIP": self.public_ip,
            "Metadata": dict(sorted(self.metadata.items())),
            "Capabilities": None,
            "Version": self.version,
        }

    @classmethod
    def from_go(cls, obj: Mapping[str, Any]) -> MachineState:
        return cls(
            id=str(obj.get("ID") or ""),
            public_ip=str(obj.get("PublicIP") or ""),
            metadata={str(k): str(v) for k, v in (obj.get("Metadata") or {}).items()},
            version=str(obj.get("Version") or ""),
        )

    @property
    def short_id(self) -> str:
        return self.id[:8]


def encode_unit(unit: UnitFile) -> str:
    return go_json({"Raw": unit_text(unit)})


def encode_job(name: str, hash_hex: str) -> str:
    # Go encodes a [20]byte array as a list of numbers (only []byte becomes base64)
    return go_json({"Name": name, "UnitHash": list(bytes.fromhex(hash_hex))})


def decode_job(value: str) -> tuple[str, str]:
    """``job/<name>/object`` → (name, unit hash hex)."""
    obj = json.loads(value)
    raw = obj["UnitHash"]
    if not isinstance(raw, list) or len(raw) != 20:
        raise ValueError("UnitHash is not 20 bytes")
    return str(obj["Name"]), bytes(int(b) for b in raw).hex()


@dataclass(frozen=True)
class UnitState:
    """What an agent reports for one unit on its machine (``states/<name>/<machine>``)."""

    name: str
    machine_id: str
    load_state: str
    active_state: str
    sub_state: str
    unit_hash: str

    def encode(self, machine: MachineState) -> str:
        return go_json(
            {
                "loadState": self.load_state,
                "activeState": self.active_state,
                "subState": self.sub_state,
                "machineState": machine.to_go(),
                "unitHash": self.unit_hash,
            }
        )

    @classmethod
    def decode(cls, name: str, machine_id: str, value: str) -> UnitState:
        obj = json.loads(value)
        ms = obj.get("machineState") or {}
        return cls(
            name=name,
            machine_id=str(ms.get("ID") or machine_id),
            load_state=str(obj.get("loadState", "")),
            active_state=str(obj.get("activeState", "")),
            sub_state=str(obj.get("subState", "")),
            unit_hash=str(obj.get("unitHash", "")),
        )


def encode_lease(machine_id: str, version: int = ENGINE_VERSION) -> str:
    return go_json({"MachineID": machine_id, "Version": version})


def decode_lease(value: str) -> tuple[str, int]:
    """(machine id, version); a bare id is an old unversioned lease, as fleet reads it."""
    try:
        obj = json.loads(value)
        return str(obj["MachineID"]), int(obj.get("Version", 0))
    except (ValueError, KeyError, TypeError):
        return value, 0


def parse_metadata(text: str) -> dict[str, str]:
    """cloud-config ``metadata: "region=us-west,disk=ssd"`` → a mapping (fleet's parser)."""
    out: dict[str, str] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip() and value.strip():
            out[key.strip()] = value.strip()
    return out
