"""A CloudWatch Logs log stream in a log group logpipe owns.

Firehose writes its delivery errors to a stream it does not create itself. A log stream cannot
be tagged: it is logpipe's when its log group is.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.resources.common import is_not_found
from logpipe.resources.log_group import LogGroup


class LogStream(Resource):
    kind = "log-stream"

    def __init__(self, group: LogGroup, stream_name: str) -> None:
        super().__init__(f"{group.name}:{stream_name}", depends_on=(group,))
        self.group = group
        self.stream_name = stream_name

    def read(self, ctx: Context) -> Observed | None:
        if self.group.key not in ctx.outputs:
            return None  # the group itself is missing
        try:
            # The first page of the group's streams serves every stream logpipe keeps there.
            page = ctx.aws.read_once("logs", "describe_log_streams", logGroupName=self.group.name, limit=50)
            streams = page.get("logStreams", [])
            if page.get("nextToken") and not self._in(streams):
                streams = (
                    ctx.aws.client("logs")
                    .describe_log_streams(logGroupName=self.group.name, logStreamNamePrefix=self.stream_name)
                    .get("logStreams", [])
                )
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        if not self._in(streams):
            return None
        return Observed({}, self._outputs(), owned=ctx.is_owned(self.group))

    def _in(self, streams: list[dict[str, Any]]) -> bool:
        return any(s["logStreamName"] == self.stream_name for s in streams)

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        try:
            ctx.aws.client("logs").create_log_stream(logGroupName=self.group.name, logStreamName=self.stream_name)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        return self._outputs()

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        return None  # a log stream has no settings

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("logs").delete_log_stream(logGroupName=self.group.name, logStreamName=self.stream_name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise

    def _outputs(self) -> dict[str, Any]:
        return {"name": self.stream_name, "log_group": self.group.name}
