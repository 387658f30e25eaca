"""The cluster config of the real-cluster rollout tests (locksmith, update service): every node in
the stable group under the etcd-lock strategy, checking for updates each second and healthy one
second after boot."""

from __future__ import annotations

import json

_BASE = """cloud-config: |
  #cloud-config
  coreos:
    update:
      group: stable
      reboot-strategy: etcd-lock
      check-interval: 1s
      healthy-after: 1s
"""


def stable_rollout(
    strategies: dict[str, str] | None = None,
    safe_mode: bool = True,
    locksmith: dict[str, str] | None = None,
) -> str:
    """The config text.

    ``strategies`` gives some nodes another reboot strategy (``{"core-01": "off"}``, as
    ``overrides``); ``safe_mode=False`` lets the service's stable group roll on past a failed node
    (on by default, as in the service); ``locksmith`` is the ``coreos.locksmith`` section, e.g.
    ``{"window-start": "04:00", "window-length": "1h"}`` (each value a quoted YAML string).
    """
    text = _BASE
    if locksmith:
        text += "    locksmith:\n" + "".join(
            f"      {key}: {json.dumps(value)}\n" for key, value in locksmith.items()
        )
    if strategies:
        text += "overrides:\n" + "".join(
            f"  {node}:\n    cloud-config:\n      coreos:\n"
            f"        update: {{reboot-strategy: {json.dumps(strategy)}}}\n"
            for node, strategy in strategies.items()
        )
    if not safe_mode:
        text += "update-service:\n  groups:\n    stable: {safe-mode: false}\n"
    return text
