"""An OpenSearch Service domain logpipe creates when the config asks (``opensearch.create_domain``).

Secure from the first minute: fine-grained access control with the caller as IAM master user,
encryption at rest, node-to-node encryption, HTTPS only (TLS 1.2+). A domain that already exists
under the name is used as it is, and a domain logpipe did not create is never changed or deleted.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import is_not_found, tag_dict, tag_list
from logpipe.resources.opensearch_domain import describe_domain, domain_facts, domain_note
from logpipe.resources.ownership import tags_of
from logpipe.resources.waiting import wait_until

# A new domain takes 15-30 minutes; a progress line every poll tells the user it is not stuck.
CREATE_TIMEOUT_SECONDS = 3600.0
_ASSUMED_ROLE = re.compile(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/.+")


def master_arn(caller_arn: str) -> str:
    """The IAM master user: an assumed role's session ARN is turned into its role's ARN.

    (A role with a path cannot be recovered from the session ARN; pass through as STS reports it.)
    """
    match = _ASSUMED_ROLE.fullmatch(caller_arn)
    return f"arn:{match[1]}:iam::{match[2]}:role/{match[3]}" if match else caller_arn


class OpenSearchDomain(Resource):
    """Same kind as the external reference, so pipelines that point at the domain share it."""

    kind = "opensearch-domain"
    reads_alone = True
    policy = "shared"  # created when absent, used as it is otherwise, deleted only when logpipe made it

    def __init__(self, name: str) -> None:
        super().__init__(name)

    def describe(self) -> str:
        return f"OpenSearch Service domain {self.name}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        # engine_version / instance_type are creation settings only: an upgrade done later in the
        # console is not drift, and logpipe never resizes or upgrades a domain.
        return {}

    def read(self, ctx: Context) -> Observed | None:
        status = describe_domain(ctx, self.name)
        if status is None:
            return None
        facts = domain_facts(status)
        arn = status["ARN"]
        tags = tags_of(
            ctx, arn, ctx.tags, lambda: tag_dict(ctx.aws.client("opensearch").list_tags(ARN=arn).get("TagList"))
        )
        return Observed({}, facts, owned=ctx.owns(tags), note=domain_note(facts))

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        config = ctx.config.opensearch
        client = ctx.aws.client("opensearch")
        client.create_domain(
            DomainName=self.name,
            EngineVersion=config.engine_version,
            ClusterConfig={"InstanceType": config.instance_type, "InstanceCount": 1},
            EBSOptions={"EBSEnabled": True, "VolumeType": "gp3", "VolumeSize": 10},
            EncryptionAtRestOptions={"Enabled": True},
            NodeToNodeEncryptionOptions={"Enabled": True},
            DomainEndpointOptions={"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"},
            AdvancedSecurityOptions={
                "Enabled": True,
                "InternalUserDatabaseEnabled": False,
                "MasterUserOptions": {"MasterUserARN": master_arn(ctx.aws.identity()["Arn"])},
            },
            TagList=tag_list(ctx.tags),
        )
        facts: dict[str, Any] = {}

        def ready() -> bool | str:
            status = client.describe_domain(DomainName=self.name)["DomainStatus"]
            facts.update(domain_facts(status))
            if facts["endpoint"] and not facts["processing"]:
                return True
            return "usually 15-30 minutes"

        wait_until(
            ctx,
            ready,
            what=f"OpenSearch domain {self.name} to come up",
            timeout=CREATE_TIMEOUT_SECONDS,
            hint="AWS keeps creating it; run `logpipe up` again once `logpipe status opensearch` shows it",
            first_delay=10.0,
            max_delay=60.0,
        )
        return facts

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        raise LogpipeError(f"OpenSearch domain {self.name}: logpipe never changes an existing domain")

    def delete(self, ctx: Context, observed: Observed) -> None:
        if not ctx.delete_data:
            raise LogpipeError(
                f"OpenSearch domain {self.name} holds the indexed logs: it is deleted only with "
                "`logpipe teardown --delete-data`"
            )
        try:
            ctx.aws.client("opensearch").delete_domain(DomainName=self.name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
