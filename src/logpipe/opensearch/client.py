"""The OpenSearch data-plane client: one HTTP session, SigV4 or basic auth, every request counted.

``client_for(ctx)`` builds it for a run (``session.py`` calls it the first time ``ctx.opensearch``
is used). The base URL is the config's / sandbox's ``endpoint_url`` when set (a tunnel to a VPC
domain, the local stand-in), else ``https://`` + the domain's endpoint from DescribeDomain.

Credentials for basic auth come from the environment or Secrets Manager and live only in this
object's memory: they are never printed, written anywhere, or put into an exception message.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests
from botocore.exceptions import ClientError
from requests.auth import AuthBase, HTTPBasicAuth

from logpipe.aws import error_message
from logpipe.errors import LogpipeError, UsageError

if TYPE_CHECKING:
    from logpipe.engine.context import Context

USER_ENV = "LOGPIPE_OPENSEARCH_USER"
PASSWORD_ENV = "LOGPIPE_OPENSEARCH_PASSWORD"
DEFAULT_TIMEOUT_SECONDS = 30.0
# Throttling and a domain busy with a blue/green change answer these; a short retry rides them out.
_RETRY_STATUS = (429, 502, 503, 504)
_MAX_ATTEMPTS = 4


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


@dataclass(frozen=True)
class Response:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _Basic(AuthBase):
    """HTTP basic auth whose repr never shows the password (requests' own shows it in tracebacks)."""

    def __init__(self, user: str, password: str) -> None:
        self._inner = HTTPBasicAuth(user, password)
        self.user = user

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._inner(request)

    def __repr__(self) -> str:
        return f"<basic auth as {self.user}>"


class OpenSearchClient:
    """A small JSON-over-HTTP client for the endpoints logpipe uses (no opensearch-py magic).

    ``request`` returns a :class:`Response` for statuses in ``expect`` (404 is usually one of
    them for reads) and raises :class:`OpenSearchError` with a message that says what to fix
    for any other.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthBase | None,
        auth_kind: str,
        record: Any = None,
        principal: str = "",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        tenant: str | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_kind = auth_kind
        self.principal = principal
        self.tenant = tenant
        self._auth = auth
        self._record = record or (lambda method, path: None)
        self._timeout = timeout
        self._sleep = sleep
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"<OpenSearchClient {self.base_url} ({self.auth_kind})>"

    # generic ------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> Response:
        url = self.base_url + path
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if data is not None:
            sent_headers["Content-Type"] = "application/json"
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            self._record(method, path)
            try:
                reply = self._session.request(
                    method, url, data=data, params=params, headers=sent_headers, auth=self._auth, timeout=self._timeout
                )
            except requests.RequestException as exc:
                # The exception text names the URL only (no credentials ever go into URLs here).
                raise OpenSearchError(
                    f"cannot reach OpenSearch at {self.base_url}: {type(exc).__name__}; for a VPC domain, "
                    "set opensearch.endpoint_url to a tunnel (e.g. https://localhost:9200)"
                ) from None
            if reply.status_code in _RETRY_STATUS and attempt < _MAX_ATTEMPTS:
                self._sleep(min(2**attempt, 10))
                continue
            break
        parsed = _parse(reply)
        if reply.status_code in expect:
            return Response(reply.status_code, parsed)
        raise OpenSearchError(
            self._explain(method, path, reply.status_code, parsed), status=reply.status_code, body=parsed
        )

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def exists(self, path: str) -> bool:
        return self.request("HEAD", path, expect=(200, 404)).status == 200

    # Dashboards -------------------------------------------------------------------------
    def dashboards(self, method: str, path: str, **kwargs: Any) -> Response:
        """A Dashboards API call: ``osd-xsrf`` on every request, the tenant header when configured."""
        headers = {"osd-xsrf": "true", **kwargs.pop("headers", {})}
        if self.tenant:
            headers["securitytenant"] = self.tenant
        return self.request(method, "/_dashboards" + path, headers=headers, **kwargs)

    # messages ---------------------------------------------------------------------------
    def _explain(self, method: str, path: str, status: int, body: Any) -> str:
        reason = _reason(body)
        where = f"OpenSearch {method} {path} answered {status}"
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
            elif path.startswith(("/_plugins/_security", "/_opendistro/_security")):
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


def _parse(reply: requests.Response) -> Any:
    if not reply.content:
        return None
    try:
        return reply.json()
    except ValueError:
        return reply.text[:500]


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


# construction ---------------------------------------------------------------------------
def client_for(ctx: Context) -> OpenSearchClient:
    """The data-plane client for this run's domain, with the configured auth."""
    config = ctx.config.opensearch
    base_url = ctx.opensearch_url or _domain_url(ctx)
    scheme = urlsplit(base_url).scheme
    if scheme not in ("http", "https"):
        raise UsageError(f"opensearch endpoint {base_url!r} is not an http(s) URL")
    auth, kind, principal = _auth(ctx)
    return OpenSearchClient(
        base_url,
        auth=auth,
        auth_kind=kind,
        record=lambda method, path: ctx.aws.counter.record_http("opensearch-http", method, path),
        principal=principal,
        tenant=config.tenant,
    )


def _domain_url(ctx: Context) -> str:
    name = ctx.config.opensearch.domain
    try:
        status = ctx.aws.client("opensearch").describe_domain(DomainName=name)["DomainStatus"]
    except ClientError as exc:
        raise LogpipeError(f"cannot find the endpoint of OpenSearch domain {name}: {error_message(exc)}") from None
    endpoint = status.get("Endpoint") or next(iter((status.get("Endpoints") or {}).values()), None)
    if not endpoint:
        raise LogpipeError(f"OpenSearch domain {name} has no endpoint yet (is it still being created?)")
    return endpoint if endpoint.startswith(("http://", "https://")) else f"https://{endpoint}"


def _auth(ctx: Context) -> tuple[AuthBase, str, str]:
    """(auth, 'sigv4' | 'basic', who) for the configured method."""
    config = ctx.config.opensearch
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if config.auth == "basic" or (ctx.sandbox and user and password):
        if user and password:
            return _Basic(user, password), "basic", user
        if config.master_user_secret:
            user, password = _secret_credentials(ctx, config.master_user_secret)
            return _Basic(user, password), "basic", user
        if ctx.sandbox:
            return _sandbox_master()
        raise UsageError(
            f"opensearch.auth is basic but no credentials were given: set {USER_ENV} and {PASSWORD_ENV}, "
            "or name a Secrets Manager secret holding {username, password} in opensearch.master_user_secret"
        )
    if ctx.sandbox:
        # The sandbox domain, like the lab's, has an internal master user and no IAM identity mapped:
        # the lab's steps are done as that user, and so are the sandbox's.
        return _sandbox_master()
    from requests_aws4auth import AWS4Auth

    credentials = ctx.aws.credentials()
    if credentials is None:
        raise UsageError("no AWS credentials to sign OpenSearch requests with (opensearch.auth: sigv4)")
    principal = ""
    try:
        principal = ctx.aws.identity().get("Arn", "")
    except LogpipeError:
        principal = ""
    return AWS4Auth(region=ctx.region, service="es", refreshable_credentials=credentials), "sigv4", principal


def _secret_credentials(ctx: Context, secret_id: str) -> tuple[str, str]:
    try:
        text = ctx.aws.client("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString") or ""
    except ClientError as exc:
        raise LogpipeError(
            f"cannot read secret {secret_id} (opensearch.master_user_secret): {error_message(exc)}"
        ) from None
    try:
        data = json.loads(text)
        user, password = data["username"], data["password"]
    except (ValueError, KeyError, TypeError):
        # Never echo the secret's content: it may be the password in the wrong shape.
        raise UsageError(f"secret {secret_id} must be a JSON object with 'username' and 'password' keys") from None
    if not isinstance(user, str) or not isinstance(password, str) or not user or not password:
        raise UsageError(f"secret {secret_id}: 'username' and 'password' must be non-empty strings")
    return user, password


def _sandbox_master() -> tuple[AuthBase, str, str]:
    from logpipe.sandbox import control
    from logpipe.sandbox.emulator import MASTER_USER

    try:
        password = (control.state_dir() / "master-password").read_text().strip()
    except OSError:
        raise LogpipeError(
            "the sandbox's OpenSearch master password is missing; run `logpipe sandbox stop` and retry"
        ) from None
    return _Basic(MASTER_USER, password), "basic", MASTER_USER
