"""The OpenSearch data-plane client: opensearch-py, with every request counted and every error explained.

:func:`connect` builds an ``opensearchpy.OpenSearch`` whose connection class counts each request
(and lets a benchmark add latency) and rides out throttling with backoff; :class:`DataPlane`
wraps it with what logpipe adds on top: one error type whose message says what to fix, the
Dashboards saved-objects API, and the security API's base path for the domain's engine.

This module knows no pipeline and no sandbox: the session decides the endpoint and the
credentials. Basic-auth passwords live only in the auth object's memory and are never printed,
written anywhere, or put into an exception message.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from opensearchpy import OpenSearch, RequestsHttpConnection
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import TransportError
from requests.auth import AuthBase, HTTPBasicAuth

from logpipe.aws import MAX_PARALLEL_CALLS, ReadCache
from logpipe.errors import LogpipeError, UsageError

USER_ENV = "LOGPIPE_OPENSEARCH_USER"
PASSWORD_ENV = "LOGPIPE_OPENSEARCH_PASSWORD"
DEFAULT_TIMEOUT_SECONDS = 30.0
PLUGINS_SECURITY_API = "/_plugins/_security/api"
# Elasticsearch 7.10 domains run the Open Distro security plugin, which serves only this path.
OPENDISTRO_SECURITY_API = "/_opendistro/_security/api"
# Throttling and a domain busy with a blue/green change answer these; backing off rides them out.
RETRY_STATUS = (429, 502, 503, 504)
MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 20.0
SECURITY_WRITE_ATTEMPTS = 4

T = TypeVar("T")
RequestHook = Callable[[str, str], None]


class OpenSearchError(LogpipeError):
    """OpenSearch answered with an error (or could not be reached)."""

    def __init__(self, message: str, *, status: int = 0, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def edge_denied(self) -> bool:
        """Refused by the domain access policy (IAM, before OpenSearch), not by fine-grained access control."""
        return self.status == 403 and isinstance(self.body, dict) and "Message" in self.body


class BasicAuth(AuthBase):
    """HTTP basic auth whose repr never shows the password (requests' own shows it in tracebacks)."""

    def __init__(self, user: str, password: str) -> None:
        self._inner = HTTPBasicAuth(user, password)
        self.user = user

    def __call__(self, request: Any) -> Any:
        return self._inner(request)

    def __repr__(self) -> str:
        return f"<basic auth as {self.user}>"


class CountedConnection(RequestsHttpConnection):
    """opensearch-py's requests connection, plus: each attempt reported to ``on_request`` (call
    counting, and the latency benchmark's delay), and 429/5xx retried with jittered exponential
    backoff (the transport's own retry resends at once, which a throttled domain refuses again)."""

    def __init__(
        self,
        *args: Any,
        on_request: RequestHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._on_request = on_request or (lambda method, path: None)
        self._sleep = sleep

    def perform_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._on_request(method, url)
            try:
                return super().perform_request(method, url, *args, **kwargs)
            except TransportError as exc:
                if exc.status_code not in RETRY_STATUS or attempt == MAX_ATTEMPTS:
                    raise
                ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
                self._sleep(random.uniform(ceiling / 2, ceiling))
        raise AssertionError("unreachable")  # pragma: no cover


def connect(
    url: str,
    *,
    auth: AuthBase | None,
    on_request: RequestHook | None = None,
    ca_certs: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> OpenSearch:
    """An opensearch-py client for ``url`` (``https://host[:port]`` or a local ``http://`` stand-in)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"opensearch endpoint {url!r} is not an http(s) URL")
    https = parts.scheme == "https"
    return OpenSearch(
        hosts=[{"host": parts.hostname, "port": parts.port or (443 if https else 80), "url_prefix": parts.path}],
        http_auth=auth,
        use_ssl=https,
        verify_certs=https,
        ca_certs=ca_certs,
        ssl_show_warn=False,
        connection_class=CountedConnection,
        on_request=on_request,
        sleep=sleep,
        timeout=timeout,
        # Retries with backoff happen in CountedConnection; the transport's immediate ones would not help.
        max_retries=0,
        retry_on_timeout=False,
        pool_maxsize=MAX_PARALLEL_CALLS,
    )


_RAISE: Any = object()


class DataPlane:
    """One domain's data plane for a run: ``raw`` is the opensearch-py client.

    ``call`` runs one opensearch-py call and turns its errors into :class:`OpenSearchError`
    whose message says what to fix; ``missing`` is returned instead for a 404.
    """

    def __init__(
        self,
        raw: OpenSearch,
        *,
        base_url: str,
        auth_kind: str,
        principal: str = "",
        tenant: str | None = None,
        security_api: str = PLUGINS_SECURITY_API,
        ui: DashboardsUi | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.raw = raw
        self.base_url = base_url.rstrip("/")
        self.auth_kind = auth_kind
        self.principal = principal
        self.tenant = tenant
        self.security_api = security_api
        self.ui = ui or OPENSEARCH_DASHBOARDS
        self._security_writes = threading.Lock()
        # Answers to reads several resources share (all templates, all role mappings), kept until
        # this run's next write to the domain (the session clears it on each write request).
        self.reads = ReadCache()
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<DataPlane {self.base_url} ({self.auth_kind})>"

    def call(self, fn: Callable[[OpenSearch], T], *, what: str, missing: Any = _RAISE) -> T:
        """``fn(raw)``; ``what`` ("GET /_index_template/x") names the request in an error message."""
        try:
            return fn(self.raw)
        except TransportConnectionError:
            # The exception text names the URL only (no credentials ever go into URLs here).
            raise OpenSearchError(
                f"cannot reach OpenSearch at {self.base_url}; for a VPC domain, set opensearch.endpoint_url "
                "to a tunnel (e.g. https://localhost:9200)"
            ) from None
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if status == 404 and missing is not _RAISE:
                return missing
            body = exc.info if isinstance(exc.info, (dict, str)) else None
            raise OpenSearchError(self.explain(what, status, body), status=status, body=body) from None

    def read_once(self, key: str, fn: Callable[[OpenSearch], T], *, what: str, missing: Any = _RAISE) -> T:
        """``call(fn)``, asked once per run until the run writes to the domain."""
        return self.reads.get(key, lambda: self.call(fn, what=what, missing=missing))

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        missing: Any = _RAISE,
    ) -> Any:
        """A request opensearch-py has no namespace call for (Dashboards, the Open Distro security path)."""
        return self.call(
            lambda raw: raw.transport.perform_request(method, path, params=params, body=body, headers=headers),
            what=f"{method} {path}",
            missing=missing,
        )

    def dashboards(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        missing: Any = _RAISE,
    ) -> Any:
        """A Dashboards API call: the xsrf header on every request, the tenant header when configured;
        ``headers`` add to those (a multipart import's content type)."""
        headers = {**(headers or {}), self.ui.xsrf_header: "true"}
        if self.tenant:
            headers["securitytenant"] = self.tenant
        return self.request(method, self.ui.path + path, body=body, params=params, headers=headers, missing=missing)

    def security(self, method: str, path: str, *, body: Any = None, missing: Any = _RAISE) -> Any:
        """A security plugin REST API call, on the path this domain's engine serves.

        The plugin keeps its whole configuration in one document written with optimistic concurrency:
        two writes at once and one fails with 409 "version conflict" (seen on OpenSearch 2.19). So this
        run's writes go one at a time, and a conflict with someone else's write is retried.
        """
        if method in ("GET", "HEAD"):
            return self.request(method, self.security_api + path, body=body, missing=missing)
        with self._security_writes:
            for attempt in range(1, SECURITY_WRITE_ATTEMPTS + 1):
                try:
                    return self.request(method, self.security_api + path, body=body, missing=missing)
                except OpenSearchError as exc:
                    if exc.status != 409 or "version conflict" not in str(exc) or attempt == SECURITY_WRITE_ATTEMPTS:
                        raise
                    self._sleep(BACKOFF_BASE_SECONDS * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    # messages ---------------------------------------------------------------------------
    def explain(self, what: str, status: int, body: Any) -> str:
        reason = _reason(body)
        where = f"OpenSearch {what} answered {status}"
        if status == 401:
            if self.auth_kind == "basic":
                hint = (
                    "the user name or password was refused: check the master user in "
                    f"{USER_ENV}/{PASSWORD_ENV} or the secret named by opensearch.master_user_secret"
                )
            else:
                hint = (
                    "the signed request was not accepted: the domain may allow only its internal users "
                    "(set opensearch.auth: basic with the master user), or the domain access policy does not "
                    "let this IAM identity in"
                )
            return f"{where} (not authenticated): {hint}"
        if status == 403:
            who = f" {self.principal}" if self.principal else ""
            if isinstance(body, dict) and "Message" in body:
                # IAM's answer at the domain's edge: OpenSearch itself never saw the request.
                hint = (
                    f"the domain access policy does not let{who or ' this caller'} in; see "
                    "`logpipe opensearch policy` (access_policy 'account' admits this account's signed requests)"
                )
            elif "_security" in what:
                hint = (
                    f"the caller{who} may not manage security: map it to the all_access or security_manager "
                    "role in OpenSearch Dashboards (Security > Roles > Mapped users), or use opensearch.auth: basic "
                    "with the master user"
                )
            else:
                hint = (
                    f"the caller{who} is not allowed this request: check the domain access policy "
                    "(logpipe opensearch status) and that the caller is mapped to a role that permits it"
                )
            return f"{where} (forbidden): {hint}" + (f" [{reason}]" if reason else "")
        return f"{where}" + (f": {reason}" if reason else "")


def _reason(body: Any) -> str:
    """The human part of an OpenSearch / security plugin / Dashboards error body."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("reason") or error.get("type") or "")
        for key in ("message", "Message", "reason", "error"):
            if body.get(key):
                return str(body[key])
        return ""
    return str(body or "")[:300]


def path_part(value: str) -> str:
    """One URL path segment (index names and patterns, role names, saved-object ids)."""
    return quote(value, safe="*,")


@dataclass(frozen=True)
class DashboardsUi:
    """Where a domain serves its UI and what its saved-objects API wants on a change."""

    path: str
    xsrf_header: str


OPENSEARCH_DASHBOARDS = DashboardsUi("/_dashboards", "osd-xsrf")
# An Elasticsearch domain serves Kibana, which refuses a change without kbn-xsrf.
KIBANA = DashboardsUi("/_plugin/kibana", "kbn-xsrf")


def ui_for(engine_version: str) -> DashboardsUi:
    return KIBANA if engine_version.startswith("Elasticsearch_") else OPENSEARCH_DASHBOARDS


def security_api_for(engine_version: str) -> str:
    """The security API base path a domain of ``engine_version`` (``OpenSearch_2.17``, ...) serves."""
    return OPENDISTRO_SECURITY_API if engine_version.startswith("Elasticsearch_") else PLUGINS_SECURITY_API
