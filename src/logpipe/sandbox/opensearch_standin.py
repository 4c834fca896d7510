"""Local stand-in for an Amazon OpenSearch Service domain endpoint with fine-grained access control.

It sits in front of osmem-server (which serves the data plane: ``_bulk``, templates, mappings,
search, index deletion) and adds what osmem-server lacks:

* authentication like an FGAC domain: AWS SigV4 (header checked for form, signature not verified)
  or HTTP Basic for the master user; nothing else gets in;
* the security plugin REST API (``/_plugins/_security/...``, legacy ``/_opendistro/_security/...``),
  see :mod:`logpipe.sandbox.security_api`;
* the Dashboards saved-objects API under ``/_dashboards``, see :mod:`logpipe.sandbox.dashboards_api`.

Everything else is forwarded to osmem-server unchanged, minus ``Authorization``. Every request is
recorded (:attr:`OpenSearchStandin.requests`) so tests can assert, for example, that a second
``logpipe up`` sent no write. Role mappings, roles, tenants and saved objects can be kept in a JSON
file across restarts (``state_file``).

    with OpenSearchStandin(osmem_url, master_password="Admin-123") as standin:
        requests.get(standin.url + "/_plugins/_security/api/rolesmapping", auth=("admin", "Admin-123"))
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import http.client
import json
import logging
import os
import re
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from logpipe.sandbox.dashboards_api import DashboardsApi, boom
from logpipe.sandbox.engine_rules import EngineRules, merge_bulk_reply
from logpipe.sandbox.security_api import Caller, SecurityApi

__all__ = ["OpenSearchStandin", "RecordedRequest", "is_mutating"]

STATE_FORMAT = 1
DEFAULT_ENGINE_VERSION = "OpenSearch_2.17"
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
_READ_ONLY_POST = re.compile(
    r"(^|/)(_search|_msearch|_count|_mget|_field_caps|_explain(/[^/]*)?|_validate/query|_search/scroll|"
    r"_search/template|_msearch/template|_render/template|_analyze|_bulk_get|authinfo|dashboardsinfo|"
    r"_plugins/_security/health)/?$"
)
_SECURITY_PREFIXES = ("/_plugins/_security", "/_opendistro/_security")
_ASSUMED_ROLE = re.compile(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/.+")
_JSON = "application/json; charset=UTF-8"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received.

    ``target`` is where it was served: ``security`` (security plugin API), ``dashboards``
    (``/_dashboards``), ``upstream`` (forwarded to osmem-server) or ``standin`` (rejected before
    routing, e.g. 401). ``principal`` is the user name (Basic) or IAM ARN / access key id (SigV4),
    ``None`` when unauthenticated. ``tenant`` is the Dashboards tenant key for ``dashboards``.
    """

    method: str
    path: str
    query: str
    mutating: bool
    principal: str | None
    auth: str | None
    status: int
    target: str
    tenant: str | None = None


def is_mutating(method: str, path: str) -> bool:
    """Whether a request asks for a change (POST to search-like endpoints does not)."""
    method = method.upper()
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    return not (method == "POST" and _READ_ONLY_POST.search(path))


class _AuthError(Exception):
    def __init__(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = dict(headers or {})


class OpenSearchStandin:
    """A threaded HTTP server on 127.0.0.1 standing in for an OpenSearch Service domain endpoint.

    ``master_user``/``master_password`` enable HTTP Basic for the master user (no password: Basic is
    refused). ``master_iam_arn`` is the IAM master; with the master user it is mapped to
    ``all_access`` and ``security_manager`` on a fresh state. SigV4 callers are identified by access
    key id: ``iam_identities`` maps access key ids to IAM ARNs, ``default_iam_arn`` is used for the
    others (else the access key id is the user name and there is no backend role). ``region``, when
    given, must match the SigV4 credential scope. ``state_file`` keeps role mappings, roles, tenants
    and saved objects across restarts: loaded here when it exists, rewritten atomically after each
    change; when loaded, its mappings win over the master settings.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        master_user: str = "admin",
        master_password: str | None = None,
        master_iam_arn: str | None = None,
        multi_tenancy: bool = False,
        state_file: Path | None = None,
        iam_identities: Mapping[str, str] | None = None,
        default_iam_arn: str | None = None,
        region: str | None = None,
        port: int = 0,
        engine_version: str = DEFAULT_ENGINE_VERSION,
        upstream_ca: str | None = None,
        upstream_auth: tuple[str, str] | None = None,
        security_upstream: bool = False,
    ) -> None:
        upstream = urlsplit(upstream_url)
        if upstream.scheme not in ("http", "https") or not upstream.hostname:
            raise ValueError(f"upstream_url must be an http(s):// URL, got {upstream_url!r}")
        self._upstream_host = upstream.hostname
        self._upstream_tls: ssl.SSLContext | None = None
        if upstream.scheme == "https":
            self._upstream_tls = ssl.create_default_context(cafile=upstream_ca)
        self._upstream_port = upstream.port or (443 if self._upstream_tls else 80)
        self._upstream_path = upstream.path.rstrip("/")
        # A real engine behind the stand-in: logpipe's master identities act as its admin there, and its
        # own security plugin (not the emulated one) answers the security API; other basic-auth users
        # pass through as they are, so its real permissions apply to them.
        self._upstream_auth = (
            "Basic " + base64.b64encode(f"{upstream_auth[0]}:{upstream_auth[1]}".encode()).decode()
            if upstream_auth
            else None
        )
        self._security_upstream = security_upstream
        self.rules = EngineRules(engine_version)
        # An Elasticsearch domain serves Kibana under /_plugin/kibana, and Kibana wants kbn-xsrf.
        kibana = self.rules.engine == "Elasticsearch"
        self.ui_path = "/_plugin/kibana" if kibana else "/_dashboards"
        self.xsrf_header = "kbn-xsrf" if kibana else "osd-xsrf"
        self._master_user = master_user
        self._master_password = master_password
        self._iam_identities = dict(iam_identities or {})
        self._default_iam_arn = default_iam_arn
        self._region = region
        self._port = port
        self._state_file = Path(state_file) if state_file is not None else None
        self._lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._log: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._security = SecurityApi.create(
            master_user=master_user if master_password is not None else None,
            master_iam_arn=master_iam_arn,
            multi_tenancy=multi_tenancy,
        )
        self._dashboards = DashboardsApi()
        if self._state_file is not None and self._state_file.exists():
            self._load(self._state_file)

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind 127.0.0.1 (``port``, 0 = any free port), serve in a daemon thread, return the base URL."""
        if self._server is not None:
            raise RuntimeError("stand-in already started")
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="opensearch-standin", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and close open connections. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running stand-in."""
        if self._server is None:
            raise RuntimeError("stand-in not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OpenSearchStandin:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- inspection ----------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first. A request is logged before its response is sent."""
        with self._log_lock:
            return list(self._log)

    @property
    def mutating_requests(self) -> list[RecordedRequest]:
        """The logged requests that asked for a change."""
        return [r for r in self.requests if r.mutating]

    def reset(self) -> None:
        """Clear the request log (state is kept)."""
        with self._log_lock:
            self._log.clear()

    def register_iam_identity(self, access_key_id: str, arn: str) -> None:
        """Identify SigV4 requests signed with ``access_key_id`` as ``arn``."""
        with self._lock:
            self._iam_identities[access_key_id] = arn

    # -- state ------------------------------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
                raise ValueError(f"unknown state format (expected {STATE_FORMAT})")
            self._security.load_json(data["security"])
            self._dashboards.load_json(data["dashboards"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: cannot load stand-in state: {exc}") from exc

    def _save(self) -> None:
        if self._state_file is None:
            return
        data = {"format": STATE_FORMAT, "security": self._security.to_json(), "dashboards": self._dashboards.to_json()}
        path = self._state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _serve_api(self, api: SecurityApi | DashboardsApi, call: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
        with self._lock:
            before = api.revision
            reply: tuple[int, Any] = call()
            if api.revision != before:
                self._save()
            return reply

    # -- authentication -----------------------------------------------------------------------------------

    def _authenticate(self, headers: Mapping[str, str], dashboards: bool, remote: str) -> tuple[Caller, str]:
        header = headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, sep, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, sep, password = "", "", ""
            if (
                sep
                and self._master_password is not None
                and hmac.compare_digest(user.encode(), self._master_user.encode())
                and hmac.compare_digest(password.encode(), self._master_password.encode())
            ):
                return Caller(user, (), internal_user=True, remote_address=remote), "basic"
            if sep and self._security_upstream:
                return Caller(user, (), internal_user=True, remote_address=remote), "basic-passthrough"
        elif scheme == "AWS4-HMAC-SHA256":
            return self._sigv4_caller(header, credentials, headers, remote), "sigv4"
        raise self._unauthorized(dashboards)

    @staticmethod
    def _unauthorized(dashboards: bool) -> _AuthError:
        if dashboards:
            status, body = boom(401, "Authentication required")
            return _AuthError(status, json.dumps(body).encode(), _JSON)
        # What the security plugin sends (HTTPBasicAuthenticator.reRequestAuthentication): plain text.
        return _AuthError(
            401, b"Unauthorized", "text/plain; charset=UTF-8", {"WWW-Authenticate": 'Basic realm="OpenSearch Security"'}
        )

    def _sigv4_caller(self, header: str, credentials: str, headers: Mapping[str, str], remote: str) -> Caller:
        params = dict(part.strip().split("=", 1) for part in credentials.split(",") if "=" in part)
        problems = [
            f"Authorization header requires '{key}' parameter."
            for key in ("Credential", "Signature", "SignedHeaders")
            if not params.get(key)
        ]
        if "x-amz-date" not in headers and "date" not in headers:
            problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if problems:
            raise _forbidden(" ".join(problems) + f" Authorization={header}")
        scope = params["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request" or not re.fullmatch(r"\d{8}", scope[1]) or not scope[0]:
            raise _forbidden(
                "Authorization header is malformed; the Credential is mal-formed; expecting "
                '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            )
        if scope[3] != "es":
            raise _forbidden("Credential should be scoped to correct service: 'es'. ")
        if self._region and scope[2] != self._region:
            raise _forbidden(f"Credential should be scoped to a valid region, not '{scope[2]}'. ")
        if "host" not in params["SignedHeaders"].lower().split(";"):
            raise _forbidden("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        if not re.fullmatch(r"[0-9a-f]{64}", params["Signature"]):
            raise _forbidden("The request signature we calculated does not match the signature you provided.")
        with self._lock:
            arn = self._iam_identities.get(scope[0], self._default_iam_arn)
        if arn is None:
            return Caller(scope[0], (), remote_address=remote)
        match = _ASSUMED_ROLE.fullmatch(arn)
        if match:
            arn = f"arn:{match[1]}:iam::{match[2]}:role/{match[3]}"
        return Caller(arn, (arn,), remote_address=remote)

    # -- proxy ------------------------------------------------------------------------------------------

    def _open_upstream(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn: http.client.HTTPConnection
        if self._upstream_tls is not None:
            conn = http.client.HTTPSConnection(
                self._upstream_host, self._upstream_port, timeout=120, context=self._upstream_tls
            )
        else:
            conn = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=120)
        conn.putrequest(method, self._upstream_path + target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"{self._upstream_host}:{self._upstream_port}")
        for name, value in headers:
            conn.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        return conn, conn.getresponse()

    def ui_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The request's headers as the saved-objects API (written for OpenSearch Dashboards) checks
        them: Kibana takes kbn-xsrf, and only that, where Dashboards takes osd-xsrf."""
        if self.xsrf_header == "osd-xsrf":
            return dict(headers)
        out = {k: v for k, v in headers.items() if k != "osd-xsrf"}
        if "kbn-xsrf" in headers:
            out["osd-xsrf"] = headers["kbn-xsrf"]
        return out

    def upstream_get(self, path: str) -> tuple[int, Any]:
        """GET ``path`` upstream as logpipe's master would (for the engine rules' mapping lookups)."""
        headers = [("Authorization", self._upstream_auth)] if self._upstream_auth else []
        conn, resp = self._open_upstream("GET", path, headers, b"")
        try:
            data = resp.read()
            try:
                return resp.status, json.loads(data) if data else None
            except ValueError:
                return resp.status, None
        finally:
            conn.close()

    def upstream_credentials(self, auth: str, original: str) -> str | None:
        """The Authorization header to send upstream for a caller the stand-in authenticated."""
        if auth == "basic-passthrough":
            return original
        return self._upstream_auth


def _forbidden(message: str) -> _AuthError:
    return _AuthError(403, json.dumps({"message": message}).encode(), _JSON)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # parallel clients (the engine applies in parallel) must not be reset
    standin: OpenSearchStandin

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "logpipe-opensearch-standin"
    timeout = 120
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- request handling ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        standin = self.server.standin
        split = urlsplit(self.path)
        path, query = split.path or "/", split.query
        method = self.command
        headers = {name.lower(): value for name, value in self.headers.items()}
        record = {
            "method": method,
            "path": path,
            "query": query,
            "mutating": is_mutating(method, path),
            "principal": None,
            "auth": None,
            "target": "standin",
            "tenant": None,
        }
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._finish(record, 400, json.dumps({"error": "bad request body", "status": 400}).encode(), _JSON)
            return
        security_parts = _strip_prefix(path, _SECURITY_PREFIXES)
        dashboards_parts = _strip_prefix(path, (standin.ui_path,))
        if security_parts == ["health"]:
            record["target"] = "security"
            status, payload = standin._security.handle(method, security_parts, body, Caller("anonymous"))
            self._finish(record, status, json.dumps(payload).encode(), _JSON)
            return
        try:
            caller, auth = standin._authenticate(headers, dashboards_parts is not None, self.client_address[0])
        except _AuthError as err:
            self._finish(record, err.status, err.body, err.content_type, err.headers)
            return
        record.update(principal=caller.name, auth=auth)
        refused = standin.rules.refuse(method, path, body)
        if refused is not None:
            self._finish(record, refused[0], json.dumps(refused[1]).encode(), _JSON)
            return
        upstream_auth = standin.upstream_credentials(auth, headers.get("authorization", ""))
        try:
            if security_parts is not None and standin._security_upstream:
                record["target"] = "upstream"
                self._proxy(record, method, body, upstream_auth)
            elif security_parts is not None:
                record["target"] = "security"
                verb = "GET" if method == "HEAD" else method
                status, payload = standin._serve_api(
                    standin._security, lambda: standin._security.handle(verb, security_parts, body, caller)
                )
                self._finish(record, status, json.dumps(payload).encode(), _JSON)
            elif dashboards_parts is not None:
                record["target"] = "dashboards"
                params = parse_qs(query)
                requested = next(
                    (params[k][-1] for k in ("securityTenant_", "securitytenant", "security_tenant") if k in params),
                    headers.get("securitytenant", headers.get("securitytenant_")),
                )
                with standin._lock:
                    tenant = standin._security.resolve_tenant(caller, requested)
                record["tenant"] = tenant
                ui_headers = standin.ui_headers(headers)
                status, payload = standin._serve_api(
                    standin._dashboards,
                    lambda: standin._dashboards.handle(
                        "GET" if method == "HEAD" else method, dashboards_parts, query, ui_headers, body, tenant
                    ),
                )
                text = json.dumps(payload).replace("osd-xsrf", standin.xsrf_header)
                self._finish(record, status, text.encode(), _JSON)
            else:
                record["target"] = "upstream"
                self._engine_write(record, method, path, body, upstream_auth)
        except (ConnectionError, TimeoutError) as exc:  # the client went away: nothing to answer
            _log.debug("client connection lost: %s", exc)
            self.close_connection = True
        except Exception as exc:  # a stand-in bug must still answer, and be seen
            _log.exception("stand-in failed on %s %s", method, path)
            payload = {"error": {"type": "standin_internal_error", "reason": repr(exc)}, "status": 500}
            self._finish(record, 500, json.dumps(payload).encode(), _JSON)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError as exc:
                    raise ValueError("bad chunk") from exc
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit():
            raise ValueError("bad Content-Length")
        return self.rfile.read(int(length))

    def _record(self, record: dict[str, Any], status: int) -> None:
        standin = self.server.standin
        with standin._log_lock:
            standin._log.append(RecordedRequest(status=status, **record))

    def _finish(
        self,
        record: dict[str, Any],
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._record(record, status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _engine_write(self, record: dict[str, Any], method: str, path: str, body: bytes, auth: str | None) -> None:
        """Forward upstream, refusing first what the emulated engine version would (see engine_rules)."""
        rules = self.server.standin.rules
        if rules.current or method not in ("PUT", "POST"):
            self._proxy(record, method, body, auth)
            return
        lookup = self.server.standin.upstream_get
        refused = rules.check_document(path, body, lookup)
        if refused is not None:
            self._finish(record, refused[0], json.dumps(refused[1]).encode(), _JSON)
            return
        kept, items = rules.split_bulk(path, body, lookup)
        if not items:
            self._proxy(record, method, body, auth)
            return
        reply: dict[str, Any] = {"took": 0, "errors": False, "items": []}
        if kept:
            status, answer = self._forward_json(method, kept, auth)
            if status != 200 or not isinstance(answer, dict):
                self._finish(record, status, json.dumps(answer).encode(), _JSON)
                return
            reply = answer
        self._finish(record, 200, json.dumps(merge_bulk_reply(reply, items)).encode(), _JSON)

    def _forward_json(self, method: str, body: bytes, auth: str | None) -> tuple[int, Any]:
        conn, resp = self.server.standin._open_upstream(method, self.path, self._forward_headers(auth), body)
        try:
            data = resp.read()
            return resp.status, json.loads(data) if data else None
        finally:
            conn.close()

    def _forward_headers(self, auth: str | None) -> list[tuple[str, str]]:
        forward = [
            (name, value)
            for name, value in self.headers.items()
            if name.lower() not in _HOP_BY_HOP | {"authorization", "host", "content-length", "expect"}
        ]
        if auth:
            forward.append(("Authorization", auth))
        return forward

    def _proxy(self, record: dict[str, Any], method: str, body: bytes, auth: str | None = None) -> None:
        forward = self._forward_headers(auth)
        target = self.path if self.path.startswith("/") else urlsplit(self.path)._replace(scheme="", netloc="").geturl()
        try:
            conn, resp = self.server.standin._open_upstream(method, target, forward, body)
        except (OSError, http.client.HTTPException) as exc:
            reason = f"upstream {self.server.standin._upstream_host}:{self.server.standin._upstream_port}: {exc}"
            payload = {"error": {"type": "standin_upstream_error", "reason": reason}, "status": 502}
            self._finish(record, 502, json.dumps(payload).encode(), _JSON)
            return
        try:
            length = resp.getheader("Content-Length")
            no_body = method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
            chunked = not no_body and length is None and self.request_version == "HTTP/1.1"
            data = b"" if no_body or length is not None or chunked else resp.read()
            self._record(record, resp.status)
            self.send_response_only(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            if length is not None:
                self.send_header("Content-Length", length)
            elif chunked:
                self.send_header("Transfer-Encoding", "chunked")
            elif not no_body:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if no_body:
                return
            try:
                if chunked:
                    while chunk := resp.read(65536):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                elif length is not None:
                    while chunk := resp.read(65536):
                        self.wfile.write(chunk)
                else:
                    self.wfile.write(data)
            except (OSError, http.client.HTTPException):
                self.close_connection = True  # the status line is out: all we can do is cut the response
        finally:
            conn.close()


def _strip_prefix(path: str, prefixes: tuple[str, ...]) -> list[str] | None:
    """Path segments after one of ``prefixes`` (URL-decoded), or None when the path is elsewhere."""
    for prefix in prefixes:
        if path == prefix or path.startswith(prefix + "/"):
            return [unquote(part) for part in path[len(prefix) :].split("/") if part]
    return None
