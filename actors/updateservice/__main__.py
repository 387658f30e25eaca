"""``python -m actors.updateservice --run-dir DIR``: the run's update service, one process.

Started by the supervisor at ``run.py up`` (before the nodes) and stopped at ``down``; ``run.py
fault update-service down|up`` stops and restarts it. It reads the run's ``cluster.yaml``, binds
:func:`~actors.updateservice.address.update_service_host_port`, writes ``update-service.json``
(pid, url) to the run dir once it listens, and serves until SIGTERM. Its state survives restarts
(``update-service-state.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from actors.updateservice.address import (
    INFO_FILE,
    update_service_base,
    update_service_host_port,
)
from actors.updateservice.server import UpdateServer
from actors.updateservice.service import UpdateService
from emulator.config import ConfigErrors, load_cluster_config
from emulator.nodelog import NodeLog

CONFIG_NAME = "cluster.yaml"  # as the supervisor names it in the run dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="actors.updateservice", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--run-dir", required=True)
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    try:
        cfg = load_cluster_config(run_dir / CONFIG_NAME)
    except ConfigErrors as exc:
        print(exc, file=sys.stderr)
        return 2
    log = NodeLog("update-service", run_dir / "update-service.log").for_actor("updateservice")
    host, port = update_service_host_port(cfg)
    service = UpdateService(cfg.update_service, cfg.token, update_service_base(cfg), run_dir, log)
    try:
        server = UpdateServer(host, port, service)
    except OSError as exc:
        log("service.bind_failed", level="error", address=f"{host}:{port}", error=str(exc))
        print(f"error: update service cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    info = {
        "pid": os.getpid(),
        "url": service.base_url,
        "omaha_url": service.base_url + "/v1/update/",
    }
    tmp = run_dir / (INFO_FILE + ".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, run_dir / INFO_FILE)
    log("service.start", url=service.base_url, pid=os.getpid())
    while not stop.wait(5.0):
        pass
    server.shutdown()
    server.server_close()
    log("service.stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
