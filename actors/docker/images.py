"""The images a node's container runtime knows: built-in ones and those named in the config.

- ``busybox``: the container's command runs as given (``sh`` when none), in its directory;
- ``coreos/apache``, ``nginx`` (and ``httpd``): a small web server (:mod:`.webimage`) answering
  on the container's published ports with a page naming the machine and the container;
- ``images:`` of the cluster config: name → a shell command, run as ``sh -c COMMAND NAME ARGS…``.

Names are matched as docker does: ``nginx``, ``nginx:latest``, ``library/nginx``,
``docker.io/library/nginx:latest`` are the same image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

WEB_IMAGES = ("coreos/apache", "nginx", "httpd")
BUILTIN = ("busybox", *WEB_IMAGES)


@dataclass(frozen=True)
class Image:
    repo: str  # canonical: "nginx", "coreos/apache"
    tag: str
    kind: str  # busybox | web | command
    command: str = ""  # for kind "command"

    @property
    def ref(self) -> str:
        return f"{self.repo}:{self.tag}"

    @property
    def id(self) -> str:
        return hashlib.sha256(self.ref.encode()).hexdigest()

    @property
    def remote(self) -> str:
        """How docker names the repository it pulls from (library/ for official images)."""
        return self.repo if "/" in self.repo else f"library/{self.repo}"


def split_ref(name: str) -> tuple[str, str]:
    """``docker.io/library/nginx:1.2`` → ("nginx", "1.2"); the tag defaults to latest."""
    repo, tag = name, "latest"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        repo = repo.removeprefix(prefix)
    return repo.removeprefix("library/"), tag


class ImageSet:
    def __init__(self, extra: Mapping[str, str] | None = None):
        self.extra = {split_ref(k)[0]: v for k, v in (extra or {}).items()}

    def resolve(self, name: str) -> Image | None:
        """The image ``name`` stands for, or None when no registry would have it."""
        repo, tag = split_ref(name)
        if repo in self.extra:
            return Image(repo, tag, "command", self.extra[repo])
        if repo == "busybox":
            return Image(repo, tag, "busybox")
        if repo in WEB_IMAGES:
            return Image(repo, tag, "web")
        return None


def pull_denied(name: str) -> str:
    repo, _ = split_ref(name)
    return (
        f"Error response from daemon: pull access denied for {repo}, repository does not exist "
        "or may require 'docker login': denied: requested access to the resource is denied"
    )
