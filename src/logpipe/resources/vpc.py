"""Read-only reference to an existing VPC, given by id (``vpc-...``) or by its ``Name`` tag."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import is_not_found, tag_dict


def is_vpc_id(value: str) -> bool:
    return value.startswith("vpc-")


class VpcRef(Resource):
    """The VPC whose DNS queries or traffic are logged. logpipe never changes or deletes it.

    Outputs: ``id``, ``arn``, ``name`` (its Name tag, or "").
    """

    kind = "vpc"
    reads_alone = True
    policy = "external"

    def describe(self) -> str:
        how = "id" if is_vpc_id(self.name) else "Name tag"
        return f"VPC with {how} {self.name} in this region"

    def read(self, ctx: Context) -> Observed | None:
        ec2 = ctx.aws.client("ec2")
        args: dict[str, Any]
        if is_vpc_id(self.name):
            args = {"VpcIds": [self.name]}
        else:
            args = {"Filters": [{"Name": "tag:Name", "Values": [self.name]}]}
        try:
            vpcs = [v for page in ec2.get_paginator("describe_vpcs").paginate(**args) for v in page.get("Vpcs", [])]
        except ClientError as exc:
            if is_not_found(exc, "InvalidVpcID.NotFound"):
                return None
            raise
        if not vpcs:
            return None
        if len(vpcs) > 1:
            ids = ", ".join(sorted(v["VpcId"] for v in vpcs))
            raise LogpipeError(f"{len(vpcs)} VPCs are named {self.name} ({ids}); set the VPC id in the config instead")
        vpc = vpcs[0]
        vpc_id = vpc["VpcId"]
        name = tag_dict(vpc.get("Tags")).get("Name", "")
        outputs = {
            "id": vpc_id,
            "arn": ctx.arn("ec2", f"vpc/{vpc_id}"),
            "name": name,
            "owner_id": vpc.get("OwnerId", ""),
        }
        note = vpc_id if not is_vpc_id(self.name) else (f"Name {name}" if name else "")
        return Observed({}, outputs, owned=False, note=note)
