"""The emulator's HTTPS server: Azure's REST routes over a deterministic workload.

Routes (all JSON, all need ``Authorization: Bearer <token>`` except the health check):

=========================================================================  ========
``GET  /subscriptions/{sub}``                                               arm
``GET  /subscriptions/{sub}/providers/Microsoft.CognitiveServices/accounts``  arm
``GET  .../resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts[/{name}]``  arm
``GET  .../accounts/{name}/deployments[/{deployment}]``                     arm
``GET  /subscriptions/{sub}/providers/Microsoft.CognitiveServices/locations/{loc}/usages``  arm
``POST /metrics/{region}/subscriptions/{sub}/metrics:getBatch``             metrics
``POST /logs/v1/workspaces/{workspace}/query``                               logs
``POST /{scope}/providers/Microsoft.CostManagement/query``                  costs
``GET  /_emulator/health`` (no token), ``GET /_emulator/stats``,
``POST /_emulator/faults`` ``{"spec": ..., "mode": "replace"|"add"}``,
``POST /_emulator/clock`` ``{"now": ISO or null}``                          control
=========================================================================  ========
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import isodate
import trustme

from collector.emulator.arm_api import ArmApi
from collector.emulator.costs_api import HEADER_PREFIX, CostsApi
from collector.emulator.errors import ApiError, arm_error, logs_error
from collector.emulator.faults import Fault, FaultBook
from collector.emulator.logs_api import (
    DEFAULT_LATE_MINUTES,
    DEFAULT_LATE_SHARE,
    DEFAULT_MAX_ROWS,
    LogsApi,
)
from collector.emulator.metrics_api import MetricsApi
from collector.emulator.workload import Workload, WorkloadConfig

DEFAULT_TOKEN = "foundry-emulator-token"
PUBLIC_AUDIENCES = {
    "FOUNDRY_MONITOR_ARM_AUDIENCE": "https://management.azure.com",
    "FOUNDRY_MONITOR_METRICS_AUDIENCE": "https://metrics.monitor.azure.com",
    "FOUNDRY_MONITOR_LOGS_AUDIENCE": "https://api.loganalytics.io",
}

_METRICS = re.compile(r"^/metrics/([^/]+)/subscriptions/([^/]+)/metrics:getbatch$", re.I)
_LOGS = re.compile(r"^/logs/v1/workspaces/([^/]+)/query$", re.I)
_COSTS = re.compile(r"^/(.+)/providers/microsoft\.costmanagement/query$", re.I)
_SUB = re.compile(r"^/subscriptions/([^/]+)$", re.I)
_ACCOUNTS = re.compile(
    r"^/subscriptions/([^/]+)/providers/microsoft\.cognitiveservices/accounts$", re.I
)
_RG = (
    r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)"
    r"/providers/microsoft\.cognitiveservices/accounts"
)
_RG_ACCOUNTS = re.compile(_RG + "$", re.I)
_ACCOUNT = re.compile(_RG + r"/([^/]+)$", re.I)
_DEPLOYMENTS = re.compile(_RG + r"/([^/]+)/deployments$", re.I)
_DEPLOYMENT = re.compile(_RG + r"/([^/]+)/deployments/([^/]+)$", re.I)
_USAGES = re.compile(
    r"^/subscriptions/([^/]+)/providers/microsoft\.cognitiveservices/locations/([^/]+)/usages$",
    re.I,
)


class Clock:
    """The emulator's notion of now: pinned (settable) or the wall clock (live mode)."""

    def __init__(self, pinned: datetime | None) -> None:
        self._pinned = pinned
        self._lock = threading.Lock()

    @property
    def live(self) -> bool:
        return self._pinned is None

    def now(self) -> datetime:
        with self._lock:
            pinned = self._pinned
        return pinned if pinned is not None else datetime.now(UTC)

    def set(self, moment: datetime | None) -> None:
        with self._lock:
            self._pinned = moment.astimezone(UTC) if moment is not None else None


def _route_of(path: str) -> str:
    if path.startswith("/_emulator/"):
        return "control"
    if path.startswith("/metrics/"):
        return "metrics"
    if path.startswith("/logs/"):
        return "logs"
    if "/providers/microsoft.costmanagement/" in path.lower():
        return "costs"
    return "arm"


class EmulatorServer:
    """A loopback HTTPS server speaking Azure's wire format over a simulated workload.

    ``workload_config``: seed, days, end (``end=None``: live mode following the wall clock).
    ``now``: the pinned emulator clock (default: the workload's end; ignored in live mode
    unless given). ``faults``: a spec of :mod:`collector.emulator.faults`. Page sizes and the
    Log Analytics row limit are configurable so tests can exercise paging and truncation;
    ``late_log_share`` of the calls have their log rows arrive ``late_log_minutes`` (low, high)
    minutes late instead of 2 to 5. ``metric_name_case`` ("lower", "upper" or None: as
    documented) is the letter case of the metric names in Azure Monitor's answers (Azure's names
    are case-insensitive).
    """

    def __init__(
        self,
        workload_config: WorkloadConfig | None = None,
        *,
        faults: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        now: datetime | None = None,
        cost_page_size: int = 1000,
        arm_page_size: int = 100,
        max_rows: int = DEFAULT_MAX_ROWS,
        ca_dir: Path | None = None,
        late_log_share: float = DEFAULT_LATE_SHARE,
        late_log_minutes: tuple[int, int] = DEFAULT_LATE_MINUTES,
        metric_name_case: str | None = None,
        fault_message: str | None = None,
    ) -> None:
        self.workload = Workload(workload_config or WorkloadConfig())
        #: The message of injected 5xx faults instead of "Emulated fault: <code>." (tests give it
        #: markup, Markdown or escape sequences: Azure's error text is the tenant's to shape).
        self.fault_message = fault_message
        self.clock = Clock(now or self.workload.end)
        self.faults = FaultBook(faults)
        self.token = token
        self.host = host
        self.port = port
        self.arm = ArmApi(self.workload, page_size=arm_page_size)
        self.metrics = MetricsApi(self.workload, name_case=metric_name_case)
        self.logs = LogsApi(
            self.workload,
            self.workload.catalog.workspace_id,
            max_rows=max_rows,
            late_share=late_log_share,
            late_minutes=late_log_minutes,
        )
        self.costs = CostsApi(self.workload, page_size=cost_page_size)
        self._ca_dir = ca_dir
        self._own_ca_dir = False
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_cert_path: Path | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> EmulatorServer:
        """Bind, write the CA certificate, and serve in a background thread."""
        if self._httpd is not None:
            return self
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
        if self._ca_dir is None:
            self._ca_dir = Path(tempfile.mkdtemp(prefix="foundry-emulator-"))
            self._own_ca_dir = True
        self._ca_dir.mkdir(parents=True, exist_ok=True)
        self.ca_cert_path = self._ca_dir / "emulator-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_cert_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        handler = type("BoundHandler", (_Handler,), {"emulator": self})
        httpd = ThreadingHTTPServer((self.host, self.port), handler)
        httpd.daemon_threads = True
        httpd.socket = context.wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_ca_dir and self._ca_dir is not None:
            shutil.rmtree(self._ca_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *args: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI)."""
        try:
            while self._thread is not None and self._thread.is_alive():
                time.sleep(0.5)
        finally:
            self.stop()

    # ------------------------------------------------------------------ public API
    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def metrics_endpoint_template(self) -> str:
        return self.base_url + "/metrics/{region}"

    def metrics_endpoint(self, region: str) -> str:
        return self.metrics_endpoint_template.replace("{region}", region)

    @property
    def logs_endpoint(self) -> str:
        return self.base_url + "/logs"

    @property
    def env(self) -> dict[str, str]:
        """Every FOUNDRY_MONITOR_* setting that points the collector at this emulator."""
        subs = self.workload.catalog.subscriptions
        return {
            "FOUNDRY_MONITOR_ARM_ENDPOINT": self.base_url,
            "FOUNDRY_MONITOR_METRICS_ENDPOINT": self.metrics_endpoint_template,
            "FOUNDRY_MONITOR_LOGS_ENDPOINT": self.logs_endpoint,
            **PUBLIC_AUDIENCES,
            "FOUNDRY_MONITOR_CA_BUNDLE": str(self.ca_cert_path or ""),
            "FOUNDRY_MONITOR_STATIC_TOKEN": self.token,
            "FOUNDRY_MONITOR_SUBSCRIPTIONS": ",".join(subs),
            "FOUNDRY_MONITOR_WORKSPACE_ID": self.workload.catalog.workspace_id,
            "FOUNDRY_MONITOR_COST_SCOPES": ",".join(f"/subscriptions/{s}" for s in subs),
        }

    @property
    def stats(self) -> dict[str, Any]:
        """Per-route request counts, injected and pending faults, the clock."""
        return {
            **self.faults.snapshot(),
            "now": self.clock.now().isoformat().replace("+00:00", "Z"),
            "live": self.clock.live,
        }

    def set_faults(self, spec: str | None) -> None:
        """Replace the pending faults (see :mod:`collector.emulator.faults`)."""
        self.faults.set(spec)

    def add_faults(self, spec: str) -> None:
        self.faults.add(spec)

    def set_metric_name_case(self, case: str | None) -> None:
        """Answer metric names lower-cased ("lower"), upper-cased ("upper") or as documented."""
        self.metrics.set_name_case(case)

    def set_now(self, moment: datetime | None) -> None:
        """Pin the emulator clock (None: follow the wall clock)."""
        self.clock.set(moment)

    def now(self) -> datetime:
        return self.clock.now()


class _Handler(BaseHTTPRequestHandler):
    emulator: EmulatorServer
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's own buffer, written directly
    protocol_version = "HTTP/1.1"
    server_version = "FoundryEmulator/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write; no Nagle delay on small answers.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise arm_error(
                400, "InvalidRequestContent", "The request content is not JSON."
            ) from None

    def _send(
        self,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        drop: bool = False,
    ) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._headers_buffer.append(b"\r\n")
        if drop:
            self._headers_buffer.append(body[: max(1, len(body) // 2)])
            self.flush_headers()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._headers_buffer.append(body)
        self.flush_headers()

    def _unauthorized(self, route: str, present: bool) -> ApiError:
        if route == "logs":
            if present:
                return logs_error(
                    401,
                    "InvalidTokenError",
                    "The provided authentication is not valid for this resource",
                )
            return logs_error(
                401, "AuthorizationRequiredError", "Valid authentication was not provided"
            )
        challenge = (
            'Bearer authorization_uri="https://login.microsoftonline.com/common", '
            'error="invalid_token", error_description="The authentication failed because of '
            "missing 'Authorization' header.\""
        )
        if present:
            return arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
                **{
                    "WWW-Authenticate": challenge.replace(
                        "missing 'Authorization' header", "an invalid token"
                    )
                },
            )
        return arm_error(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            **{"WWW-Authenticate": challenge},
        )

    def _fault_error(self, route: str, fault: Fault) -> ApiError:
        status = int(fault.kind[:3])
        if fault.kind == "429-costheaders":
            seconds = f"{fault.seconds:g}"
            return arm_error(
                429,
                "429",
                "Too many requests. Please retry.",
                **{
                    f"{HEADER_PREFIX}-qpu-retry-after": seconds,
                    f"{HEADER_PREFIX}-entity-retry-after": "1",
                    f"{HEADER_PREFIX}-tenant-retry-after": "1",
                },
            )
        headers: dict[str, str] = {}
        if status == 429:
            headers["Retry-After"] = f"{max(0, round(fault.seconds))}"
            if route == "costs":
                headers[f"{HEADER_PREFIX}-qpu-retry-after"] = headers["Retry-After"]
        codes = {
            429: "TooManyRequests",
            500: "InternalServerError",
            502: "BadGateway",
            503: "ServiceUnavailable",
            504: "GatewayTimeout",
        }
        if route == "logs":
            code = "ThrottledError" if status == 429 else codes[status]
            error = logs_error(status, code, self._fault_message(code))
            error.headers.update(headers)
            return error
        if route == "costs" and status == 429:
            return arm_error(429, "429", "Too many requests. Please retry.", **headers)
        return arm_error(status, codes[status], self._fault_message(codes[status]), **headers)

    def _fault_message(self, code: str) -> str:
        return self.emulator.fault_message or f"Emulated fault: {code}."

    def _dispatch(self, method: str) -> None:
        emulator = self.emulator
        split = urlsplit(self.path)
        path = re.sub(r"/{2,}", "/", split.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        route = _route_of(path)
        extra: dict[str, str] = {}
        try:
            body = self._read_body() if method in ("POST", "PUT") else {}
            if route == "control" and path == "/_emulator/health":
                self._send(200, {"status": "ok"})
                return
            auth = self.headers.get("Authorization") or ""
            if auth != f"Bearer {emulator.token}":
                raise self._unauthorized(route, bool(auth))
            if route == "control":
                self._send(200, self._control(method, path, body))
                return
            fault = emulator.faults.take(route)
            if route == "costs":
                extra = emulator.costs.headers()
            drop = False
            partial = False
            if fault is not None:
                if fault.kind == "slow":
                    time.sleep(fault.seconds)
                elif fault.kind == "drop":
                    drop = True
                elif fault.kind == "partial":
                    partial = True
                else:
                    error = self._fault_error(route, fault)
                    if fault.kind == "429-costheaders":
                        extra = {k: v for k, v in extra.items() if "remaining" not in k}
                    raise error
            payload = self._answer(route, method, path, params, body, partial)
            self._send(200, payload, extra, drop=drop)
        except ApiError as error:
            self._send(error.status, error.body, {**extra, **error.headers})
        except Exception as exc:  # an emulator bug: say so in Azure's shape, keep serving
            self._send(500, {"error": {"code": "InternalServerError", "message": repr(exc)[:300]}})

    def _control(self, method: str, path: str, body: Any) -> dict[str, Any]:
        emulator = self.emulator
        if path == "/_emulator/stats" and method == "GET":
            return emulator.stats
        if path == "/_emulator/faults" and method == "POST":
            try:
                if (body or {}).get("mode") == "add":
                    emulator.add_faults(str(body.get("spec") or ""))
                else:
                    emulator.set_faults(str((body or {}).get("spec") or ""))
            except ValueError as exc:
                raise arm_error(400, "InvalidFaultSpec", str(exc)) from None
            return emulator.stats
        if path == "/_emulator/clock" and method == "POST":
            value = (body or {}).get("now")
            emulator.set_now(isodate.parse_datetime(value) if value else None)
            return emulator.stats
        raise arm_error(404, "NotFound", f"No emulator control route {method} {path}.")

    def _answer(
        self,
        route: str,
        method: str,
        path: str,
        params: dict[str, str],
        body: Any,
        partial: bool,
    ) -> Any:
        emulator = self.emulator
        now = emulator.clock.now()
        base = emulator.base_url
        if route == "metrics":
            match = _METRICS.match(path)
            if not match or method != "POST":
                raise arm_error(404, "NotFound", f"The route {method} {path} does not exist.")
            return emulator.metrics.query_batch(match[1], match[2], params, body, now)
        if route == "logs":
            match = _LOGS.match(path)
            if not match or method != "POST":
                raise logs_error(
                    404, "PathNotFoundError", f"The requested path does not exist: {path}"
                )
            if partial:
                emulator.logs.query(match[1], body, now)  # validates; raises like Azure
                table = emulator.logs.table_for(body, now)
                return emulator.logs.answer(table, partial_rows=len(table.rows) // 2)
            return emulator.logs.query(match[1], body, now)
        if route == "costs":
            match = _COSTS.match(path)
            if not match or method != "POST":
                raise arm_error(404, "NotFound", f"The route {method} {path} does not exist.")
            return emulator.costs.query(match[1], body, params, now, base)
        if method != "GET":
            raise arm_error(405, "MethodNotAllowed", f"The emulator's ARM is read-only ({method}).")
        if match := _SUB.match(path):
            return emulator.arm.get_subscription(match[1])
        if match := _ACCOUNTS.match(path):
            return emulator.arm.list_accounts(match[1], params, base)
        if match := _RG_ACCOUNTS.match(path):
            return emulator.arm.list_accounts_in_group(match[1], match[2], params, base)
        if match := _ACCOUNT.match(path):
            return emulator.arm.get_account(match[1], match[2], match[3])
        if match := _DEPLOYMENTS.match(path):
            return emulator.arm.list_deployments(match[1], match[2], match[3], params, base, now)
        if match := _DEPLOYMENT.match(path):
            return emulator.arm.get_deployment(match[1], match[2], match[3], match[4], now)
        if match := _USAGES.match(path):
            return emulator.arm.list_usages(match[1], match[2], now)
        raise arm_error(
            404,
            "PathNotFound",
            f"The requested path '{path}' was not found: the emulator serves only the routes the "
            "collector uses.",
        )
