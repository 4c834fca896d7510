"""The statements logpipe owns in an OpenSearch Service domain's access policy (others' are kept)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.errors import UsageError
from logpipe.opensearch import access_policy as policy
from logpipe.resources.common import is_not_found
from logpipe.resources.waiting import wait_until

OPEN_WARNING = (
    "warning: opensearch.access_policy is 'open' (the lab's setting): anyone on the internet can reach "
    "the domain endpoint, and only fine-grained access control stands between them and your logs"
)


class OpenSearchAccessPolicy(Resource):
    """Only statements whose Sid starts with ``logpipe-`` are read, written and removed.

    Missing means: the domain's policy holds none of logpipe's statements.
    """

    kind = "opensearch-access-policy"

    def __init__(self, domain: Resource) -> None:
        super().__init__(domain.name, depends_on=(domain,))
        self.domain_name = domain.name
        self.fgac = Ref(domain, "fgac")

    def describe(self) -> str:
        return f"access policy of OpenSearch domain {self.domain_name}"

    def _arn(self, ctx: Context) -> str:
        return ctx.arn("es", f"domain/{self.domain_name}")

    def desired(self, ctx: Context) -> dict[str, Any]:
        config = ctx.config.opensearch
        statements = policy.logpipe_statements(
            config.access_policy,
            domain_arn=self._arn(ctx),
            account_id=ctx.account_id,
            partition=ctx.partition,
            cidrs=config.allowed_cidrs,
        )
        return {"statements": [policy.canonical(s) for s in statements]}

    def current_policy(self, ctx: Context, *, fresh: bool = False) -> dict[str, Any] | None:
        """The domain's policy: as read for the domain in this run, or (``fresh``) asked again."""
        try:
            if fresh:
                status = ctx.aws.client("opensearch").describe_domain(DomainName=self.domain_name)["DomainStatus"]
            else:
                status = ctx.aws.read_once("opensearch", "describe_domain", DomainName=self.domain_name)["DomainStatus"]
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return policy.parse(status.get("AccessPolicies"))

    def read(self, ctx: Context) -> Observed | None:
        fgac = ctx.resolve(self.fgac)
        if fgac is UNKNOWN:
            return None  # the domain does not exist (yet)
        mode = ctx.config.opensearch.access_policy
        if mode == "open":
            if not fgac:
                # Reported with every other preflight problem; up stops before its first write.
                raise UsageError(
                    f"opensearch.access_policy 'open' is refused: domain {self.domain_name} has fine-grained "
                    "access control off, so anyone on the internet could read and write it. Use 'account' or "
                    "'ip', or enable fine-grained access control first"
                )
            ctx.progress(OPEN_WARNING)
        doc = self.current_policy(ctx)
        if doc is None:
            return None
        mine = policy.ours(doc)
        notes = []
        if mode != "open" and policy.anonymous_statements(doc):
            notes.append(
                "another statement (not logpipe's) allows any principal: the domain stays open to anyone "
                "whatever logpipe sets; remove it yourself if that was the lab's setting"
            )
        if not mine:
            if notes:
                ctx.progress(f"note: {self.describe()}: {notes[0]}")
            return None
        return Observed({"statements": mine}, {"domain": self.domain_name}, note="; ".join(notes))

    def _write(self, ctx: Context, wanted: list[dict[str, Any]]) -> None:
        # Read again right before writing, so a statement someone added since the plan is kept.
        doc = self.current_policy(ctx, fresh=True) or policy.parse(None)
        client = ctx.aws.client("opensearch")
        client.update_domain_config(
            DomainName=self.domain_name, AccessPolicies=policy.render(policy.merged(doc, wanted))
        )

        # The domain applies a new policy over a minute or so; calls made before it is Active are
        # still judged by the old one (a 403 at the edge), so the data-plane work waits for it.
        # Pipelines that do not need the data plane yet go on meanwhile.
        def applied() -> bool | str:
            state = _policy_state(client, self.domain_name)
            return True if state == "Active" else f"now {state}"

        wait_until(
            ctx,
            applied,
            what=f"OpenSearch domain {self.domain_name} to apply its new access policy",
            timeout=POLICY_APPLY_TIMEOUT_SECONDS,
            hint=(
                "the domain keeps applying it; run `logpipe up opensearch` (or `logpipe up` with the same "
                "targets) again once `aws opensearch describe-domain-config` shows the policy Active"
            ),
            first_delay=5.0,
            max_delay=30.0,
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self._write(ctx, desired["statements"])
        return {"domain": self.domain_name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        self._write(ctx, desired["statements"])
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        self._write(ctx, [])


# A domain usually applies a policy change within minutes; past this, up stops and says so.
POLICY_APPLY_TIMEOUT_SECONDS = 900.0


def _policy_state(client: Any, domain: str) -> str:
    status = client.describe_domain_config(DomainName=domain)["DomainConfig"]["AccessPolicies"].get("Status", {})
    return status.get("State", "Active")
