"""fleet's HTTP API v1 on the node's address (port 49153), so fleetctl's default driver works.

Routes, under ``/fleet/v1`` and the older ``/v1-alpha``: ``discovery``, ``machines`` (GET),
``units`` (GET list with ``nextPageToken`` paging, 100 per page; GET/PUT/DELETE one unit),
``machines`` PATCH (dynamic metadata: ``[{"op": "add", "path": "/<id>/metadata/<key>",
"value": {"value": …}}]``),
``state`` (GET, filters ``machineID`` and ``unitName``). Errors are fleet's body
``{"error":{"code":…,"message":…}}``; ``Server: fleetd/<version>``.

Two emulator extras, outside fleet's namespace, give fleetctl what it would get over SSH from the
machine running a unit: ``GET /coreemu/v1/journal/<unit>?lines=N`` (``{"lines": [...]}``) and
``GET /coreemu/v1/status/<unit>`` (systemd's view of it), answered from this node's systemd.

Port: 49153 in subnet mode; in port-offset mode (every node on 127.0.0.1) the node's client port
+ 7, inside the 10-port block each node owns (see :func:`api_port`).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from actors.fleet.client import FleetClient, FleetError, PageToken, page
from actors.fleet.records import FLEET_VERSION
from emulator.etcdctl_client import ClientError, ClusterError, EtcdError

API_PORT = 49153
PORT_OFFSET_SHIFT = 7
TOKEN_LIMIT = 100
PREFIXES = ("/fleet/v1", "/v1-alpha")
DISCOVERY = {
    "kind": "discovery#restDescription",
    "name": "fleet",
    "version": "v1",
    "title": "fleet API",
    "description": "fleet's API v1 as served by coreemu: machines, units and unit states.",
    "protocol": "rest",
    "basePath": "/fleet/v1/",
    "resources": {
        "Machines": {"methods": {"List": {"httpMethod": "GET", "path": "machines"}}},
        "Units": {
            "methods": {
                "List": {"httpMethod": "GET", "path": "units"},
                "Get": {"httpMethod": "GET", "path": "units/{unitName}"},
                "Set": {"httpMethod": "PUT", "path": "units/{unitName}"},
                "Delete": {"httpMethod": "DELETE", "path": "units/{unitName}"},
            }
        },
        "UnitState": {"methods": {"List": {"httpMethod": "GET", "path": "state"}}},
    },
}


def api_port(spec: Any) -> int:
    """49153 on the node's own address; client port + 7 when nodes share 127.0.0.1."""
    if spec.address == "127.0.0.1":
        return spec.client_port + PORT_OFFSET_SHIFT
    return API_PORT


class _Handler(BaseHTTPRequestHandler):
    server_version = f"fleetd/{FLEET_VERSION}"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    api: FleetApi  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # requests go to the node log instead
        pass

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, payload = self.api.route(method, url.path, query, body, self.headers)
        except FleetError as exc:
            status, payload = exc.code, {"error": {"code": exc.code, "message": exc.message}}
        except (EtcdError, ClusterError, ClientError, OSError) as exc:
            self.api.log.warning("fleet.api_etcd_failed", path=url.path, error=str(exc))
            status, payload = 500, {"error": {"code": 500, "message": ""}}
        data = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FleetApi:
    def __init__(self, client: FleetClient, systemd: Any, log: Any):
        self.client = client
        self.systemd = systemd
        self.log = log
        self._server: ThreadingHTTPServer | None = None

    def serve(self, host: str, port: int) -> None:
        handler = type("FleetApiHandler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for it: a node stops quickly
            name="fleet-api",
            daemon=True,
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- routing --------------------------------------------------------------------------
    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: Any
    ) -> tuple[int, Any]:
        if path.startswith("/coreemu/v1/"):
            return self._extra(method, path[len("/coreemu/v1/") :], query)
        prefix = next((p for p in PREFIXES if path == p or path.startswith(p + "/")), None)
        if prefix is None:
            raise FleetError(405 if path == "/" else 404, "")
        rest = path[len(prefix) :].strip("/")
        resource, _, item = rest.partition("/")
        item = unquote(item)
        if resource == "discovery" and not item:
            if method != "GET":
                raise FleetError(400, "only HTTP GET supported against this resource")
            return 200, DISCOVERY
        if resource == "machines" and not item:
            if method == "PATCH":
                try:
                    ops = json.loads(body or b"null")
                except ValueError as exc:
                    raise FleetError(400, str(exc)) from None
                self.client.patch_machines(ops)
                return 204, None
            if method != "GET":
                raise FleetError(405, "only GET and PATCH supported against this resource")
            items, nxt = page(self.client.machines(), self._token(query))
            return 200, _paged("machines", items, nxt)
        if resource == "state":
            if method != "GET":
                raise FleetError(405, "only GET supported against this resource")
            if item:
                states = self.client.unit_states(unit_name=item)
                if not states:
                    raise FleetError(404, "unit state does not exist")
                return 200, states[0]
            states = self.client.unit_states(
                machine_id=_first(query, "machineID"), unit_name=_first(query, "unitName")
            )
            items, nxt = page(states, self._token(query))
            return 200, _paged("states", items, nxt)
        if resource == "units":
            return self._units(method, item, query, body, headers)
        if not rest:
            raise FleetError(405, "")
        raise FleetError(404, "")

    def _units(
        self, method: str, item: str, query: dict[str, list[str]], body: bytes, headers: Any
    ) -> tuple[int, Any]:
        if not item:
            if method != "GET":
                raise FleetError(405, "only GET supported against this resource")
            items, nxt = page(self.client.units(), self._token(query))
            return 200, _paged("units", items, nxt)
        if method == "GET":
            unit = self.client.unit(item)
            if unit is None:
                raise FleetError(404, "unit does not exist")
            return 200, unit
        if method == "DELETE":
            self.client.destroy_unit(item)
            return 204, None
        if method == "PUT":
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype != "application/json":
                raise FleetError(415, "only acceptable Content-Type is application/json")
            try:
                obj = json.loads(body or b"null")
            except ValueError as exc:
                raise FleetError(400, f"unable to decode body: {exc}") from None
            if not isinstance(obj, dict):
                raise FleetError(400, "unable to decode body: not a JSON object")
            return self.client.put_unit(item, obj), None
        raise FleetError(405, "only GET, PUT and DELETE supported against this resource")

    def _extra(self, method: str, rest: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        kind, _, name = rest.partition("/")
        name = unquote(name)
        if method != "GET" or kind not in ("journal", "status") or not name:
            raise FleetError(404, "")
        if self.systemd is None:
            raise FleetError(503, "this node runs no systemd")
        if kind == "journal":
            lines = _first(query, "lines")
            try:
                count = int(lines) if lines else None
            except ValueError:
                raise FleetError(400, f"lines must be a number, got {lines!r}") from None
            return 200, {"lines": list(self.systemd.journal(name, count))}
        st = self.systemd.status(name)
        return 200, {
            "name": name,
            "loadState": st.load_state,
            "activeState": st.active_state,
            "subState": st.sub_state,
            "status": _as_jsonable(st),
        }

    @staticmethod
    def _token(query: dict[str, list[str]]) -> PageToken:
        values = query.get("nextPageToken", [])
        if len(values) > 1:
            raise FleetError(400, "too many values for page token")
        if not values:
            return PageToken(TOKEN_LIMIT, 1)
        return PageToken.decode(values[0], TOKEN_LIMIT)


def _paged(key: str, items: list[Any], nxt: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if items:
        out[key] = items
    if nxt:
        out["nextPageToken"] = nxt
    return out


def _first(query: dict[str, list[str]], key: str) -> str:
    values = query.get(key) or [""]
    return values[0]


def _as_jsonable(status: Any) -> dict[str, Any]:
    fields = getattr(status, "__dataclass_fields__", None)
    if not fields:
        return {}
    out = {}
    for name in fields:
        value = getattr(status, name)
        out[name] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
    return out
