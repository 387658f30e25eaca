"""The cluster config of locksmith's real-cluster tests: a fast rollout under the etcd lock."""

from __future__ import annotations

import json

_CONFIG = """cloud-config: |
  #cloud-config
  coreos:
    update:
      group: stable
      reboot-strategy: etcd-lock
      check-interval: 1s
      healthy-after: 1s
{locksmith}update-service:
  groups:
    stable: {{safe-mode: false}}
"""


def etcd_lock_rollout(locksmith: dict[str, str] | None = None) -> str:
    """Every node in the stable group under the etcd-lock strategy, checking for updates each
    second and healthy one second after boot; the service's stable group without safe mode.

    ``locksmith`` is the ``coreos.locksmith`` section, e.g. ``{"window-start": "04:00",
    "window-length": "1h"}`` (each value written as a quoted YAML string).
    """
    section = ""
    if locksmith:
        section = "    locksmith:\n" + "".join(
            f"      {key}: {json.dumps(value)}\n" for key, value in locksmith.items()
        )
    return _CONFIG.format(locksmith=section)
