"""Turn global command-line options into one run: config, AWS clients, context, engine, pipelines."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from logpipe import orphans
from logpipe import pipelines as registry
from logpipe.aws import Aws, CallCounter, error_message
from logpipe.config import Config, resolve_config_path
from logpipe.engine import graph
from logpipe.engine.context import Context
from logpipe.engine.model import Resource
from logpipe.engine.runner import Engine, Item, Reporter
from logpipe.errors import LogpipeError, PreflightError, UsageError
from logpipe.opensearch import client as os_client
from logpipe.orphans import Orphan
from logpipe.pipelines.base import Pipeline

SANDBOX_DEFAULT_REGION = "ap-northeast-2"


@dataclass
class Options:
    config: str | None = None
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    output: str = "table"
    verbose: int = 0


def _stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Run:
    """Everything one command needs. The config is validated before any AWS client exists."""

    def __init__(
        self,
        options: Options,
        *,
        reporter: Reporter | None = None,
        progress: Callable[[str], None] = _stderr_progress,
    ) -> None:
        self.options = options
        self.config: Config = registry.load_config(resolve_config_path(options.config), sandbox=options.sandbox)
        self.counter = CallCounter()
        self.progress = progress
        region = options.region or self.config.region
        endpoint_url = options.endpoint_url
        opensearch_url = self.config.opensearch.endpoint_url
        profile = options.profile or self.config.profile
        # Who the data plane is reached as in the sandbox: its domain's master user, as in the lab.
        self.sandbox_master: os_client.BasicAuth | None = None
        self.sandbox_ca: str | None = None
        if options.sandbox:
            from logpipe.sandbox import control

            region = region or SANDBOX_DEFAULT_REGION
            info = control.ensure_running(region=region, seed=sandbox_seed(self.config), progress=progress)
            endpoint_url = endpoint_url or info["aws_endpoint_url"]
            opensearch_url = opensearch_url or info["opensearch_url"]
            self.sandbox_master = control.master_auth(info)
            self.sandbox_ca = info.get("ca_cert")
            control.use_sandbox_credentials()
            profile = None
        self.aws = Aws(profile=profile, region=region, endpoint_url=endpoint_url, counter=self.counter)
        self.ctx = Context(
            self.config,
            self.aws,
            opensearch_factory=self._data_plane,
            opensearch_url=opensearch_url,
            sandbox=options.sandbox,
            progress=progress,
        )
        self.engine = Engine(self.ctx, reporter or (lambda event, item: None))

    # pipelines ------------------------------------------------------------------
    def pipelines(self, targets: tuple[str, ...], *, for_teardown: bool = False) -> list[Pipeline]:
        chosen = registry.select(targets)
        explicit = set(targets) - {"all"}
        out = []
        for pipeline in chosen:
            if pipeline.enabled(self.ctx) or for_teardown:
                out.append(pipeline)
            elif pipeline.name in explicit:
                raise UsageError(
                    f"pipeline {pipeline.name} is disabled in the config (pipelines.{pipeline.name}.enabled: false)"
                )
        return out

    def declare(self, pipelines: list[Pipeline]) -> dict[str, list[Resource]]:
        return {p.name: p.resources(self.ctx) for p in pipelines}

    def preflight(self, pipelines: list[Pipeline]) -> None:
        """Checks that need no resource reads: credentials and each pipeline's own rules, all at once."""
        problems: list[str] = []
        try:
            self.aws.identity()
        except UsageError as exc:
            problems.append(str(exc))
        except Exception as exc:  # the credential check must report, not crash
            problems.append(str(exc))
        if not problems:
            for pipeline in pipelines:
                problems.extend(f"{pipeline.name}: {p}" for p in pipeline.checks(self.ctx))
        if problems:
            raise PreflightError(problems)

    def leftovers(self, items: list[Item]) -> list[Orphan]:
        """Resources tagged as this stack's that no pipeline declares (see logpipe.orphans).

        ``items`` are what this run already read; pipelines it did not read (disabled ones)
        are read too, so their resources are not taken for leftovers.
        """
        read = {p for item in items for p in item.pipelines}
        others = [registry.load(n) for n in registry.TARGETS if n not in read]
        if others:
            self.engine.read_all(self.declare(others))
        return orphans.find(self.ctx, self.ctx.output_strings())

    def others_keys(self, chosen: list[Pipeline]) -> set[str]:
        """Resource keys that pipelines outside ``chosen`` also declare: teardown keeps them."""
        names = {p.name for p in chosen}
        others = [registry.load(n) for n in registry.TARGETS if n not in names]
        keys: set[str] = set()
        for pipeline in others:
            # The OpenSearch side also declares each pipeline's own pieces; those go with their pipeline.
            keys.update(r.key for r in graph.collect(pipeline.resources(self.ctx)) if r.pipeline not in names)
        return keys

    # data plane -------------------------------------------------------------------
    def _data_plane(self, ctx: Context) -> os_client.DataPlane:
        """The run's OpenSearch client: the endpoint and credentials are decided here, not in the client."""
        config = ctx.config.opensearch
        domain = ctx.outputs.get(f"opensearch-domain:{config.domain}") or {}
        base_url = ctx.opensearch_url or _domain_url(ctx, domain)
        auth, kind, principal = self._data_plane_auth(ctx)

        def on_request(method: str, path: str) -> None:
            if ctx.aws.counter.record_http("opensearch-http", method, path) == "write":
                plane.reads.clear()  # what was read may have changed

        raw = os_client.connect(base_url, auth=auth, on_request=on_request, ca_certs=self.sandbox_ca)
        plane = os_client.DataPlane(
            raw,
            base_url=base_url,
            auth_kind=kind,
            principal=principal,
            tenant=config.tenant,
            security_api=os_client.security_api_for(str(domain.get("engine_version") or "")),
            ui=os_client.ui_for(str(domain.get("engine_version") or "")),
        )
        return plane

    def _data_plane_auth(self, ctx: Context) -> tuple[Any, str, str]:
        """(auth, 'sigv4' | 'basic', who) for the configured method."""
        config = ctx.config.opensearch
        user, password = os.environ.get(os_client.USER_ENV), os.environ.get(os_client.PASSWORD_ENV)
        if config.auth == "basic" or (ctx.sandbox and user and password):
            if user and password:
                return os_client.BasicAuth(user, password), "basic", user
            if config.master_user_secret:
                user, password = _secret_credentials(ctx, config.master_user_secret)
                return os_client.BasicAuth(user, password), "basic", user
            if self.sandbox_master is not None:
                return self.sandbox_master, "basic", self.sandbox_master.user
            raise UsageError(
                f"opensearch.auth is basic but no credentials were given: set {os_client.USER_ENV} and "
                f"{os_client.PASSWORD_ENV}, or name a Secrets Manager secret holding {{username, password}} in "
                "opensearch.master_user_secret"
            )
        if self.sandbox_master is not None:
            # The sandbox domain, like the lab's, has an internal master user and no IAM identity mapped:
            # the lab's steps are done as that user, and so are the sandbox's.
            return self.sandbox_master, "basic", self.sandbox_master.user
        from requests_aws4auth import AWS4Auth

        credentials = ctx.aws.credentials()
        if credentials is None:
            raise UsageError("no AWS credentials to sign OpenSearch requests with (opensearch.auth: sigv4)")
        try:
            principal = ctx.aws.identity().get("Arn", "")
        except LogpipeError:
            principal = ""
        return AWS4Auth(region=ctx.region, service="es", refreshable_credentials=credentials), "sigv4", principal


def sandbox_seed(config: Config) -> dict[str, Any]:
    """What a new sandbox must already have for this config: the lab's names plus the config's."""
    from logpipe.sandbox.emulator import LAB_SEED

    pipes = config.pipelines
    vpcs = list(dict.fromkeys([*LAB_SEED["vpcs"], pipes.dns.vpc, pipes.flowlog.vpc]))
    vpcs = [v for v in vpcs if not v.startswith("vpc-")]
    acls = list(LAB_SEED["web_acls"])
    if not pipes.waf.web_acl.startswith("arn:") and pipes.waf.web_acl != acls[0]["name"]:
        acls.append({"name": pipes.waf.web_acl, "scope": pipes.waf.scope})
    return {"domain": config.opensearch.domain, "vpcs": vpcs, "web_acls": acls}


def _domain_url(ctx: Context, domain: dict[str, Any]) -> str:
    """``https://`` + the domain's endpoint, from this run's read of the domain (else DescribeDomain)."""
    name = ctx.config.opensearch.domain
    endpoint = domain.get("endpoint")
    if not endpoint:
        try:
            status = ctx.aws.read_once("opensearch", "describe_domain", DomainName=name)["DomainStatus"]
        except ClientError as exc:
            raise LogpipeError(f"cannot find the endpoint of OpenSearch domain {name}: {error_message(exc)}") from None
        endpoint = status.get("Endpoint") or next(iter((status.get("Endpoints") or {}).values()), None)
    if not endpoint:
        raise LogpipeError(f"OpenSearch domain {name} has no endpoint yet (is it still being created?)")
    return endpoint if endpoint.startswith(("http://", "https://")) else f"https://{endpoint}"


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
