"""The cluster file's ``images:`` section: container images the nodes' docker can run.

::

    images:
      redis: "exec python3 -m http.server $PORT"     # name → shell command
      example/worker:
        command: 'echo working on "$@"; sleep 3600'   # the same, as a mapping

The command runs as ``sh -c COMMAND IMAGE ARGS…`` in the container's directory (the ``docker run``
command words are ``$@``); ``COREEMU_PORTS`` lists its published ports as ``addr:host:container``.
Built-in images (busybox, coreos/apache, nginx, httpd) need no entry; an entry of the same name
replaces the built-in one. An unknown field of an entry is an error.
"""

from __future__ import annotations

import re

from emulator.config import yamlsource as ys
from emulator.config.yamlsource import Kind, ProblemLog, YNode

_REPO = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_FIELDS = ("command",)


def read_images(node: YNode | None, log: ProblemLog) -> dict[str, str]:
    """``images:`` as name → command; every problem goes to ``log``."""
    images: dict[str, str] = {}
    if node is None or node.is_null:
        return images
    if node.kind is not Kind.MAP:
        log.error(node, f"expected a mapping of image name → command, got {node.describe()}")
        return images
    for entry in node.entries:
        name = entry.key
        if not _REPO.match(name):
            log.error(
                entry,
                f"{name!r} is not a docker repository name (lowercase letters, digits, . _ - and /;"
                " no tag)",
            )
            continue
        value = entry.node
        if value.kind is Kind.MAP:
            command = None
            for field in value.entries:
                if ys.norm(field.key) not in _FIELDS:
                    log.error(field, f"unknown image field {field.key!r} (image fields: command)")
                    continue
                try:
                    command = ys.nonempty(ys.text(field.node))
                except ValueError as exc:
                    log.error(field.node, str(exc))
            if command is None:
                if not any(ys.norm(f.key) == "command" for f in value.entries):
                    log.error(entry, f"image {name!r} needs a command")
                continue
            images[name] = command
            continue
        try:
            images[name] = ys.nonempty(ys.text(value))
        except ValueError as exc:
            log.error(value, f"{exc} (an image is a shell command, or {{command: …}})")
    return images
