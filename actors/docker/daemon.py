"""The node's container runtime (its dockerd): containers as guarded child processes of the node.

It listens on the node's address (an ephemeral TCP port, told to unit processes as DOCKER_HOST)
for the emulated docker CLI (:mod:`.cli`): one JSON request line per connection, answered with
JSON lines — one for most commands; for an attached ``run`` and ``logs -f`` the container's output
follows as ``{"out": …}`` lines and ends with ``{"exit": code}``. Containers are started from one
long-lived spawn thread (a child's parent-death signal follows the thread that forked it), in a
directory of their own under ``<data_dir>/docker/containers/<id>/``, their output in
``container.log`` there. Published ports are bound here first (docker-proxy's job), so a port that
can't be bound fails ``docker run`` with docker's message, and the sockets are handed to the
container. A node that stops or dies takes its containers with it.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import shutil
import signal
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from actors.docker.containers import Container, random_name
from actors.docker.images import ImageSet, pull_denied, split_ref
from actors.docker.launch import (
    DockerError,
    bind_ports,
    container_command,
    default_cmd,
    parse_signal,
)
from actors.systemd import children
from emulator.nodeclock import NodeClock

_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class DockerDaemon:
    def __init__(
        self,
        state_dir: Path,
        node: str,
        address: str,
        images: ImageSet | None = None,
        clock: NodeClock | None = None,
        log: Callable[..., None] | None = None,
    ):
        self.state_dir = Path(state_dir)
        self.node, self.address = node, address
        self.images = images or ImageSet()
        self.clock = clock or NodeClock()
        self._log = log
        self._cond = threading.Condition()
        self._containers: dict[str, Container] = {}  # id -> container
        self._rng = random.Random()
        self._spawner = children.SpawnThread(f"dockerd-{node}")
        # a fresh boot: containers died with the last one; pulled images stay
        shutil.rmtree(self.state_dir / "containers", ignore_errors=True)
        (self.state_dir / "containers").mkdir(parents=True, exist_ok=True)
        self._pulled = set(self._read_pulled())
        self._server = _Server((address, 0), _Handler)
        self._server.daemon_obj = self
        self.host = f"tcp://{address}:{self._server.server_address[1]}"
        (self.state_dir / "host").write_text(self.host + "\n", encoding="utf-8")
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long close() waits for it: a node stops quickly
            name=f"dockerd-http-{node}",
            daemon=True,
        )
        self._thread.start()

    def client_env(self) -> dict[str, str]:
        """What a process needs to run the emulated docker CLI against this daemon."""
        return {"DOCKER_HOST": self.host, "PYTHONPATH": str(children.REPO_ROOT)}

    def close(self, timeout: float = 2.0) -> None:
        """Stop every container (SIGTERM, SIGKILL after ``timeout``) and the server."""
        with self._cond:
            running = [c for c in self._containers.values() if c.running]
        for c in running:
            children.kill_group(c.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(c.running for c in running) and time.monotonic() < deadline:
                self._cond.wait(0.05)
        for c in running:
            children.kill_group(c.pid, signal.SIGKILL)
        self._server.shutdown()
        self._server.server_close()
        self._spawner.close()

    # -- commands -------------------------------------------------------------------------------
    def handle(self, req: dict) -> Iterator[dict]:
        op = req.get("op")
        fn = getattr(self, f"op_{op}", None)
        if fn is None:
            raise DockerError(f"docker: '{op}' is not a docker command.")
        yield from fn(req)

    def op_pull(self, req: dict) -> Iterator[dict]:
        name = req["args"][0]
        image = self.images.resolve(name)
        if image is None:
            raise DockerError(pull_denied(name))
        lines = [] if ":" in name.rsplit("/", 1)[-1] else ["Using default tag: latest"]
        lines += self._pull_lines(name)
        lines.append(f"docker.io/{image.remote}:{image.tag}")
        yield {"out": "\n".join(lines[:1] if req.get("quiet") else lines) + "\n"}

    def _pull_lines(self, name: str) -> list[str]:
        image = self.images.resolve(name)
        assert image is not None
        fresh = image.ref not in self._pulled
        self._pulled.add(image.ref)
        self._write_pulled()
        status = (
            f"Downloaded newer image for {image.ref}"
            if fresh
            else f"Image is up to date for {image.ref}"
        )
        return [
            f"{image.tag}: Pulling from {image.remote}",
            f"Digest: sha256:{image.id}",
            f"Status: {status}",
        ]

    def op_run(self, req: dict) -> Iterator[dict]:
        image = self.images.resolve(req["image"])
        repo, tag = split_ref(req["image"])
        if image is None:
            raise DockerError(
                f"Unable to find image '{repo}:{tag}' locally\ndocker: {pull_denied(req['image'])}.\n"
                "See 'docker run --help'.",
                125,
            )
        err_lines = []
        if image.ref not in self._pulled:
            err_lines = [
                f"Unable to find image '{image.ref}' locally",
                *self._pull_lines(req["image"]),
            ]
        c = self._create(req)
        try:
            socks = bind_ports(c, req.get("ports") or [], self.address)
        except DockerError:
            if c.auto_remove:
                self._remove(c)
            raise
        argv, env, fds = container_command(c, image, socks, self.node, self.address)
        log = open(c.log_path, "ab")
        reader = open(c.log_path, "rb")  # opened before the start: an attached run misses nothing
        try:
            popen = self._spawner.call(
                lambda: children.spawn(argv, c.dir / "rootfs", env, log, fds)
            )
        except OSError as exc:
            reader.close()
            raise DockerError(
                f"docker: Error response from daemon: failed to start: {exc}.", 125
            ) from None
        finally:
            log.close()
            for s in socks:
                s.close()  # the container holds them now
        with self._cond:
            c.popen, c.pid, c.status, c.started = popen, popen.pid, "running", self.clock.time()
            c.save()
        self._event("container.start", container=c.name, id=c.id[:12], image=c.image, pid=c.pid)
        threading.Thread(target=self._wait, args=(c,), daemon=True).start()
        yield {"id": c.id, "err": "\n".join(err_lines) + "\n" if err_lines else ""}
        if req.get("detach"):
            reader.close()
            return
        yield from self._follow(c, reader)

    def op_wait(self, req: dict) -> Iterator[dict]:
        c = self._find(req["args"][0], "Error response from daemon: No such container: {}")
        with self._cond:
            while c.running:
                self._cond.wait(1.0)
        yield {"exit": c.exit_code}

    def op_kill(self, req: dict) -> Iterator[dict]:
        sig = parse_signal(req.get("signal") or "KILL")
        out = []
        for name in req["args"]:
            c = self._find(
                name,
                "Error response from daemon: Cannot kill container: {0}: No such container: {0}",
            )
            if not c.running:
                raise DockerError(
                    f"Error response from daemon: Cannot kill container: {name}: "
                    f"Container {c.id} is not running"
                )
            children.kill_group(c.pid, sig)
            out.append(name)
        yield {"out": "".join(n + "\n" for n in out)}

    def op_stop(self, req: dict) -> Iterator[dict]:
        grace = float(req.get("time") or 10)
        out = []
        for name in req["args"]:
            c = self._find(name, "Error response from daemon: No such container: {}")
            self._stop(c, grace)
            out.append(name)
        yield {"out": "".join(n + "\n" for n in out)}

    def _stop(self, c: Container, grace: float) -> None:
        if c.running:
            children.kill_group(c.pid, signal.SIGTERM)
        with self._cond:
            deadline = time.monotonic() + grace
            while c.running and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
        if c.running:
            children.kill_group(c.pid, signal.SIGKILL)
            with self._cond:
                while c.running:
                    self._cond.wait(1.0)

    def op_rm(self, req: dict) -> Iterator[dict]:
        out = []
        for name in req["args"]:
            c = self._find(name, "Error: No such container: {}")
            if c.running and not req.get("force"):
                raise DockerError(
                    f"Error response from daemon: You cannot remove a running container {c.id}. "
                    "Stop the container before attempting removal or force remove"
                )
            if c.running:
                self._stop(c, 0)
            self._remove(c)
            out.append(name)
        yield {"out": "".join(n + "\n" for n in out)}

    def op_ps(self, req: dict) -> Iterator[dict]:
        with self._cond:
            rows = [
                dict(c.record(), default_cmd=default_cmd(c))
                for c in self._containers.values()
                if req.get("all") or c.running
            ]
        rows.sort(key=lambda r: r["created"], reverse=True)
        yield {"rows": rows, "now": self.clock.time()}

    def op_logs(self, req: dict) -> Iterator[dict]:
        c = self._find(req["args"][0], "Error response from daemon: No such container: {}")
        reader = open(c.log_path, "rb")
        if req.get("tail") not in (None, "all"):
            lines = reader.read().splitlines(keepends=True)
            keep = lines[-int(req["tail"]) :] if int(req["tail"]) > 0 else []
            yield {"out": b"".join(keep).decode(errors="replace")}
        if req.get("follow"):
            yield from self._follow(c, reader)
        else:
            with reader:
                yield {"out": reader.read().decode(errors="replace")}

    def op_inspect(self, req: dict) -> Iterator[dict]:
        found = []
        for name in req["args"]:
            c = self._find(name, "Error: No such object: {}")
            found.append(c.record())
        yield {"out": json.dumps(found, indent=4) + "\n"}

    def op_images(self, req: dict) -> Iterator[dict]:
        rows = ["REPOSITORY      TAG       IMAGE ID"]
        for ref in sorted(self._pulled):
            image = self.images.resolve(ref)
            if image is not None:
                rows.append(f"{image.repo:<15} {image.tag:<9} {image.id[:12]}")
        yield {"out": "\n".join(rows) + "\n"}

    # -- containers -----------------------------------------------------------------------------
    def _create(self, req: dict) -> Container:
        name = req.get("name")
        if name is not None and not _NAME.match(name):
            raise DockerError(
                f"docker: Error response from daemon: Invalid container name ({name}), "
                "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed.\nSee 'docker run --help'.",
                125,
            )
        with self._cond:
            taken = {c.name: c for c in self._containers.values()}
            name = (name or random_name(self._rng, set(taken))).lstrip("/")
            if name in taken:
                raise DockerError(
                    f'docker: Error response from daemon: Conflict. The container name "/{name}" is '
                    f'already in use by container "{taken[name].id}". You have to remove (or rename) '
                    "that container to be able to reuse that name.\nSee 'docker run --help'.",
                    125,
                )
            cid = secrets.token_hex(32)
            c = Container(
                id=cid, name=name, image=req["image"], cmd=list(req.get("cmd") or []),
                created=self.clock.time(), ports=[], env=list(req.get("env") or []),
                auto_remove=bool(req.get("rm")), dir=self.state_dir / "containers" / cid,
            )  # fmt: skip
            (c.dir / "rootfs").mkdir(parents=True)
            self._containers[cid] = c
            c.save()
            return c

    def _wait(self, c: Container) -> None:
        assert c.popen is not None
        rc = c.popen.wait()
        with self._cond:
            c.status, c.exit_code, c.finished = (
                "exited",
                (128 - rc if rc < 0 else rc),
                self.clock.time(),
            )
            c.popen = None
            c.save()
            self._cond.notify_all()
        self._event("container.exit", container=c.name, id=c.id[:12], exit_code=c.exit_code)
        if c.auto_remove:
            self._remove(c)

    def _remove(self, c: Container) -> None:
        with self._cond:
            self._containers.pop(c.id, None)
        shutil.rmtree(c.dir, ignore_errors=True)

    def _find(self, ref: str, missing: str) -> Container:
        with self._cond:
            for c in self._containers.values():
                if ref in (c.name, "/" + c.name) or (len(ref) >= 3 and c.id.startswith(ref)):
                    return c
        raise DockerError(missing.format(ref))

    def _follow(self, c: Container, reader) -> Iterator[dict]:
        """The container's output as it comes, then its exit code."""
        with reader:
            while True:
                data = reader.read()
                if data:
                    yield {"out": data.decode(errors="replace")}
                    continue
                if not c.running:
                    data = reader.read()
                    if data:
                        yield {"out": data.decode(errors="replace")}
                    yield {"exit": c.exit_code}
                    return
                with self._cond:
                    self._cond.wait(0.05)

    def _read_pulled(self) -> list[str]:
        try:
            return json.loads((self.state_dir / "images.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []

    def _write_pulled(self) -> None:
        (self.state_dir / "images.json").write_text(
            json.dumps(sorted(self._pulled)), encoding="utf-8"
        )

    def _event(self, event: str, **fields: Any) -> None:
        if self._log is not None:
            self._log(event, **fields)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    daemon_obj: DockerDaemon


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        daemon: DockerDaemon = self.server.daemon_obj  # type: ignore[attr-defined]
        try:
            req = json.loads(self.rfile.readline())
            for reply in daemon.handle(req):
                self._send(reply)
        except DockerError as exc:
            self._send({"error": exc.message, "code": exc.code})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (a killed `docker run`): the container stays, as in docker
        except Exception as exc:  # a daemon bug: tell the client rather than hang it
            self._send({"error": f"Error response from daemon: {exc!r}", "code": 1})

    def _send(self, reply: dict) -> None:
        self.wfile.write(json.dumps(reply).encode() + b"\n")
        self.wfile.flush()
