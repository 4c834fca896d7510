"""Route 53 Resolver query logging: the config (where logs go) and its association with a VPC.

A query-log config's destination cannot be changed: a new destination replaces the config
(its VPC associations are removed first and made again on the new config). The
association cannot be tagged: it is logpipe's when its config is.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import desired_tags_view, is_not_found, tag_dict, tag_list
from logpipe.resources.ownership import tags_of
from logpipe.resources.waiting import RERUN_HINT, wait_until

# Query logging on a VPC becomes ACTIVE (or goes away) within a minute or so.
_WAIT_SECONDS = 300.0
_GONE = ("DELETING",)


def _creator_request_id(name: str, destination: str) -> str:
    """Deterministic: a create retried after a lost response is not made twice."""
    digest = hashlib.sha256(f"{name}|{destination}".encode()).hexdigest()[:20]
    return f"logpipe-{digest}"


def _all(client: Any, operation: str, key: str, **args: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = getattr(client, operation)(**args)
        items.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return items
        args["NextToken"] = token


class ResolverQueryLogConfig(Resource):
    """Outputs: ``id``, ``arn``, ``name``."""

    kind = "resolver-query-log-config"
    reads_alone = True

    def __init__(self, name: str, *, destination_arn: Ref | str, depends_on: tuple[Resource, ...] = ()) -> None:
        super().__init__(name, depends_on=depends_on)
        self.destination_arn = destination_arn

    def describe(self) -> str:
        return f"Route 53 Resolver query logging config {self.name}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"destination_arn": ctx.resolve(self.destination_arn), "tags": ctx.tags}

    def read(self, ctx: Context) -> Observed | None:
        client = ctx.aws.client("route53resolver")
        found = [
            c
            for c in _all(
                client,
                "list_resolver_query_log_configs",
                "ResolverQueryLogConfigs",
                Filters=[{"Name": "Name", "Values": [self.name]}],
            )
            if c.get("Name") == self.name and c.get("Status") not in _GONE
        ]
        if not found:
            return None
        # Names are not unique in Resolver: prefer the one logpipe made, else report the other.
        tagged = [(c, tags_of(ctx, c["Arn"], ctx.tags, lambda arn=c["Arn"]: self._tags(client, arn))) for c in found]
        config, tags = next(((c, t) for c, t in tagged if ctx.owns(t)), tagged[0])
        note = f"status {config['Status']}" if config.get("Status") not in ("CREATED", None) else ""
        return Observed(
            {"destination_arn": config.get("DestinationArn"), "tags": desired_tags_view(tags, ctx.tags)},
            self._outputs(config),
            owned=ctx.owns(tags),
            raw=config,
            note=note,
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        client = ctx.aws.client("route53resolver")
        request_id = _creator_request_id(self.name, desired["destination_arn"])
        try:
            config = self._create(client, desired, request_id)
        except ClientError as exc:
            if error_code(exc) != "ResourceExistsException":
                raise
            # Either our earlier request did create it (its response was lost), or AWS keeps the
            # request id of a config deleted since: then ask again under a fresh id.
            earlier = self._by_request_id(client, request_id)
            if earlier is not None:
                return self._outputs(earlier)
            config = self._create(client, desired, f"{request_id}-{int(time.time())}")
        return self._outputs(config)

    def update(
        self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict[str, tuple[Any, Any]]
    ) -> dict[str, Any] | None:
        client = ctx.aws.client("route53resolver")
        if "destination_arn" in changes:
            if not observed.owned:
                # --adopt takes a resource over; it never deletes what logpipe did not create.
                raise LogpipeError(
                    f"query logging config {self.name} is not logpipe's and sends to another destination, "
                    "which cannot be changed in place; delete it or rename logpipe's"
                )
            ctx.progress(f"query logging config {self.name}: the destination cannot be changed; re-creating it")
            vpcs = [a["ResourceId"] for a in associations_of(client, observed.outputs["id"])]
            self.delete(ctx, observed, disassociate=True)
            outputs = self.create(ctx, desired)
            # The association kind planned no change (same VPC): log those VPCs again here.
            for vpc_id in vpcs:
                associate_and_wait(ctx, client, outputs["id"], vpc_id)
            return outputs
        if "tags" in changes:
            client.tag_resource(ResourceArn=observed.outputs["arn"], Tags=tag_list(desired["tags"]))
        return None

    def delete(self, ctx: Context, observed: Observed, *, disassociate: bool = False) -> None:
        client = ctx.aws.client("route53resolver")
        config_id = observed.outputs["id"]
        if disassociate:
            for association in associations_of(client, config_id):
                disassociate_and_wait(ctx, client, config_id, association["ResourceId"])
        try:
            client.delete_resolver_query_log_config(ResolverQueryLogConfigId=config_id)
        except ClientError as exc:
            if is_not_found(exc):
                return
            if error_code(exc) == "InvalidRequestException" and "associat" in str(exc).lower():
                raise LogpipeError(
                    f"query logging config {self.name} is still associated with VPCs logpipe did not associate; "
                    "disassociate them first"
                ) from None
            raise

    # helpers ------------------------------------------------------------------
    def _create(self, client: Any, desired: dict[str, Any], request_id: str) -> dict[str, Any]:
        return client.create_resolver_query_log_config(
            Name=self.name,
            DestinationArn=desired["destination_arn"],
            CreatorRequestId=request_id,
            Tags=tag_list(desired["tags"]),
        )["ResolverQueryLogConfig"]

    def _by_request_id(self, client: Any, request_id: str) -> dict[str, Any] | None:
        configs = _all(
            client,
            "list_resolver_query_log_configs",
            "ResolverQueryLogConfigs",
            Filters=[{"Name": "CreatorRequestId", "Values": [request_id]}],
        )
        return next((c for c in configs if c.get("Status") not in _GONE), None)

    @staticmethod
    def _tags(client: Any, arn: str) -> dict[str, str]:
        return tag_dict(_all(client, "list_tags_for_resource", "Tags", ResourceArn=arn))

    @staticmethod
    def _outputs(config: dict[str, Any]) -> dict[str, Any]:
        return {"id": config["Id"], "arn": config["Arn"], "name": config.get("Name", "")}


def associations_of(client: Any, config_id: str) -> list[dict[str, Any]]:
    found = _all(
        client,
        "list_resolver_query_log_config_associations",
        "ResolverQueryLogConfigAssociations",
        Filters=[{"Name": "ResolverQueryLogConfigId", "Values": [config_id]}],
    )
    return [a for a in found if a.get("Status") not in _GONE]


def _associations_read(ctx: Context, config_id: str) -> list[dict[str, Any]]:
    """The config's associations as read once in this run."""
    found = ctx.aws.pages_once(
        "route53resolver",
        "list_resolver_query_log_config_associations",
        "ResolverQueryLogConfigAssociations",
        Filters=[{"Name": "ResolverQueryLogConfigId", "Values": [config_id]}],
    )
    return [a for a in found if a.get("Status") not in _GONE]


def associate_and_wait(ctx: Context, client: Any, config_id: str, vpc_id: str) -> dict[str, Any]:
    """Associate (or find the association a lost response made), then wait until it is ACTIVE."""
    try:
        association = client.associate_resolver_query_log_config(ResolverQueryLogConfigId=config_id, ResourceId=vpc_id)[
            "ResolverQueryLogConfigAssociation"
        ]
    except ClientError as exc:
        # Already associated (a lost response, or a run killed right after this call).
        if error_code(exc) not in ("InvalidRequestException", "ResourceExistsException"):
            raise
        association = next((a for a in associations_of(client, config_id) if a["ResourceId"] == vpc_id), None)
        if association is None:
            raise
    association_id = association["Id"]

    def active() -> bool | str:
        found = client.get_resolver_query_log_config_association(ResolverQueryLogConfigAssociationId=association_id)[
            "ResolverQueryLogConfigAssociation"
        ]
        status = found.get("Status")
        if status in ("FAILED", "ACTION_NEEDED"):
            raise LogpipeError(
                f"query logging association {association_id} is {status}: "
                f"{found.get('Error', '')} {found.get('ErrorMessage', '')}".rstrip()
            )
        return True if status == "ACTIVE" else f"now {status}"

    wait_until(
        ctx,
        active,
        what=f"query logging on {vpc_id} to become ACTIVE",
        timeout=_WAIT_SECONDS,
        hint=RERUN_HINT,
        first_delay=2.0,
        max_delay=15.0,
    )
    return association


def disassociate_and_wait(ctx: Context, client: Any, config_id: str, vpc_id: str) -> None:
    """Disassociate, then wait until it is gone: AWS refuses to delete a config that still has one."""
    try:
        client.disassociate_resolver_query_log_config(ResolverQueryLogConfigId=config_id, ResourceId=vpc_id)
    except ClientError as exc:
        if not is_not_found(exc):
            raise

    def gone() -> bool:
        return not any(a["ResourceId"] == vpc_id for a in associations_of(client, config_id))

    wait_until(
        ctx,
        gone,
        what=f"query logging to be disassociated from {vpc_id}",
        timeout=_WAIT_SECONDS,
        hint="run the same command again in a few minutes",
        first_delay=2.0,
        max_delay=15.0,
    )


class ResolverQueryLogAssociation(Resource):
    """Query logging switched on for one VPC. Outputs: ``id``, ``vpc_id``."""

    kind = "resolver-query-log-association"
    starts_data_flow = True

    def __init__(self, config: ResolverQueryLogConfig, *, vpc_id: Ref | str) -> None:
        super().__init__(config.name, depends_on=(config,))
        self.config = config
        self.config_id = Ref(config, "id")
        self.vpc_id = vpc_id

    def describe(self) -> str:
        return f"query logging config {self.config.name} on a VPC"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"vpc_id": ctx.resolve(self.vpc_id)}

    def read(self, ctx: Context) -> Observed | None:
        config_id = ctx.resolve(self.config_id)
        if config_id is UNKNOWN:
            return None  # no config, so no association
        found = _associations_read(ctx, config_id)
        if not found:
            return None
        want = ctx.resolve(self.vpc_id)
        association = next((a for a in found if a["ResourceId"] == want), None)
        if association is None:
            if len(found) > 1:
                return None  # associations someone else added; logpipe adds its own
            # The config's only association is on another VPC (the configured VPC changed):
            # the diff shows the move.
            association = found[0]
        note = ""
        if association.get("Status") != "ACTIVE":
            note = f"status {association.get('Status')}"
            if association.get("ErrorMessage"):
                note += f": {association['ErrorMessage']}"
        return Observed(
            {"vpc_id": association["ResourceId"]},
            {"id": association["Id"], "vpc_id": association["ResourceId"]},
            owned=ctx.is_owned(self.config),
            raw=association,
            note=note,
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        client = ctx.aws.client("route53resolver")
        association = associate_and_wait(ctx, client, ctx.resolve(self.config_id), desired["vpc_id"])
        return {"id": association["Id"], "vpc_id": desired["vpc_id"]}

    def update(
        self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict[str, tuple[Any, Any]]
    ) -> dict[str, Any] | None:
        # Move to the configured VPC: associate there first so logging never stops, then drop the old one.
        outputs = self.create(ctx, desired)
        self.delete(ctx, observed)
        return outputs

    def delete(self, ctx: Context, observed: Observed) -> None:
        client = ctx.aws.client("route53resolver")
        config_id = observed.raw["ResolverQueryLogConfigId"] if observed.raw else ctx.resolve(self.config_id)
        disassociate_and_wait(ctx, client, config_id, observed.outputs["vpc_id"])
