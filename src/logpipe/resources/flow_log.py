"""VPC Flow Log published to a Kinesis Data Firehose stream.

EC2 cannot modify a flow log: a changed format, traffic type, aggregation interval, VPC or
destination deletes it and creates a new one (there is a gap of a few seconds in the records).
Only tags are changed in place. logpipe finds its flow log by its ``Name`` tag.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import desired_tags_view, tag_dict, tag_list

DESTINATION_TYPE = "kinesis-data-firehose"
REPLACE_NOTE = "a flow log cannot be modified: up deletes it and creates it anew (records pause for a moment)"


class FlowLog(Resource):
    """Outputs: ``id``."""

    kind = "vpc-flow-log"
    starts_data_flow = True

    def __init__(
        self,
        name: str,
        *,
        vpc_id: Ref | str,
        destination_arn: str,
        traffic_type: str,
        log_format: str,
        max_aggregation_interval: int,
        depends_on: tuple[Resource, ...] = (),
    ) -> None:
        super().__init__(name, depends_on=depends_on)
        self.vpc_id = vpc_id
        # Known before the stream exists (a stream's ARN follows from its name): a flow log
        # already sending there without logpipe's tags is someone else's under logpipe's name.
        self.destination_arn = destination_arn
        self.traffic_type = traffic_type
        self.log_format = log_format
        self.max_aggregation_interval = max_aggregation_interval

    def describe(self) -> str:
        return f"VPC flow log {self.name} → Firehose"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "resource_id": ctx.resolve(self.vpc_id),
            "traffic_type": self.traffic_type,
            "log_format": self.log_format,
            "destination_type": DESTINATION_TYPE,
            "destination": self.destination_arn,
            "max_aggregation_interval": self.max_aggregation_interval,
            "tags": self._tags(ctx),
        }

    def read(self, ctx: Context) -> Observed | None:
        ec2 = ctx.aws.client("ec2")
        found = self._describe(ec2, [{"Name": "tag:Name", "Values": [self.name]}])
        if not found:
            vpc_id = ctx.resolve(self.vpc_id)
            if vpc_id is UNKNOWN:
                return None
            found = [
                f
                for f in self._describe(ec2, [{"Name": "resource-id", "Values": [vpc_id]}])
                if f.get("LogDestination") == self.destination_arn
            ]
            if not found:
                return None
        tagged = [(f, tag_dict(f.get("Tags"))) for f in found]
        flow_log, tags = next(((f, t) for f, t in tagged if ctx.owns(t)), tagged[0])
        note = ""
        if flow_log.get("DeliverLogsStatus") == "FAILED":
            note = f"delivery failing: {flow_log.get('DeliverLogsErrorMessage') or 'no detail given'}"
        return Observed(
            {
                "resource_id": flow_log.get("ResourceId"),
                "traffic_type": flow_log.get("TrafficType"),
                "log_format": flow_log.get("LogFormat"),
                "destination_type": flow_log.get("LogDestinationType"),
                "destination": flow_log.get("LogDestination"),
                "max_aggregation_interval": flow_log.get("MaxAggregationInterval"),
                "tags": desired_tags_view(tags, self._tags(ctx)),
            },
            {"id": flow_log["FlowLogId"]},
            owned=ctx.owns(tags),
            raw=flow_log,
            note=note,
        )

    def diff(self, observed: Observed, desired: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        changes = super().diff(observed, desired)
        if set(changes) - {"tags"} and REPLACE_NOTE not in observed.note:
            # Say so in the plan: this update is a replacement (diff runs again at apply time).
            observed.note = "; ".join(n for n in (observed.note, REPLACE_NOTE) if n)
        return changes

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        response = ctx.aws.client("ec2").create_flow_logs(
            ResourceIds=[desired["resource_id"]],
            ResourceType="VPC",
            TrafficType=desired["traffic_type"],
            LogDestinationType=DESTINATION_TYPE,
            LogDestination=desired["destination"],
            LogFormat=desired["log_format"],
            MaxAggregationInterval=desired["max_aggregation_interval"],
            TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": tag_list(desired["tags"])}],
        )
        failed = response.get("Unsuccessful") or []
        if failed or not response.get("FlowLogIds"):
            error = (failed[0].get("Error") if failed else None) or {}
            raise LogpipeError(
                f"EC2 did not create flow log {self.name}: {error.get('Code', '')} {error.get('Message', '')}".rstrip()
            )
        return {"id": response["FlowLogIds"][0]}

    def update(
        self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict[str, tuple[Any, Any]]
    ) -> dict[str, Any] | None:
        if set(changes) - {"tags"}:
            if not observed.owned:
                # --adopt takes a resource over; it never deletes what logpipe did not create.
                raise LogpipeError(
                    f"flow log {observed.outputs['id']} is not logpipe's and cannot be modified "
                    f"({', '.join(sorted(set(changes) - {'tags'}))} differ); delete it or change the config to match"
                )
            ctx.progress(f"flow log {self.name}: {REPLACE_NOTE}")
            self.delete(ctx, observed)
            return self.create(ctx, desired)
        ctx.aws.client("ec2").create_tags(Resources=[observed.outputs["id"]], Tags=tag_list(desired["tags"]))
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        flow_log_id = observed.outputs["id"]
        try:
            response = ctx.aws.client("ec2").delete_flow_logs(FlowLogIds=[flow_log_id])
        except ClientError as exc:
            if error_code(exc).startswith("InvalidFlowLogId"):
                return
            raise
        for failure in response.get("Unsuccessful") or []:
            error = failure.get("Error") or {}
            if "NotFound" not in error.get("Code", ""):
                raise LogpipeError(f"EC2 did not delete flow log {flow_log_id}: {error.get('Message', '')}")

    # helpers ------------------------------------------------------------------
    def _tags(self, ctx: Context) -> dict[str, str]:
        return {"Name": self.name, **ctx.tags}

    @staticmethod
    def _describe(ec2: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            f
            for page in ec2.get_paginator("describe_flow_logs").paginate(Filter=filters)
            for f in page.get("FlowLogs", [])
        ]
