"""AWS WAF: a read-only reference to an existing web ACL, and the logging configuration on it.

A web ACL has one logging configuration. It counts as logpipe's while it sends to logpipe's
Firehose stream: ``up`` refuses (as a conflict) to replace one that sends elsewhere unless
``--adopt``, and ``teardown`` removes it only if it still sends to logpipe's stream.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import is_not_found
from logpipe.resources.firehose_stream import FirehoseStream
from logpipe.resources.waiting import retry_while

_NOT_FOUND = ("WAFNonexistentItemException",)
# A logging configuration keeps these when logpipe takes it over (--adopt): they are the owner's choices.
_KEPT_ON_ADOPT = ("RedactedFields", "LoggingFilter")


def _service_linked_role_busy(exc: ClientError) -> bool:
    # WAF creates/uses its service-linked role (AWSServiceRoleForWAFV2Logging) on each put; a
    # previous PutLoggingConfiguration locks it for about 20 seconds. AWS says: try again.
    return error_code(exc) == "WAFServiceLinkedRoleErrorException"


def parse_web_acl_arn(arn: str) -> dict[str, str] | None:
    """``arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>`` → name, id, scope, region."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "wafv2":
        return None
    path = parts[5].split("/")
    if len(path) != 4 or path[1] != "webacl" or path[0] not in ("regional", "global"):
        return None
    return {
        "name": path[2],
        "id": path[3],
        "scope": "REGIONAL" if path[0] == "regional" else "CLOUDFRONT",
        "region": parts[3],
    }


class WebAclRef(Resource):
    """The web ACL whose requests are logged, by name (with scope) or ARN. Never changed or deleted.

    Outputs: ``arn``, ``name``, ``id``, ``scope``.
    """

    kind = "waf-web-acl"
    reads_alone = True
    policy = "external"

    def __init__(self, name_or_arn: str, *, scope: str = "REGIONAL") -> None:
        super().__init__(name_or_arn)
        parsed = parse_web_acl_arn(name_or_arn)
        self.scope = parsed["scope"] if parsed else scope

    def describe(self) -> str:
        return f"{self.scope.lower()} AWS WAF web ACL {self.name}"

    def read(self, ctx: Context) -> Observed | None:
        client = ctx.aws.client("wafv2")
        parsed = parse_web_acl_arn(self.name)
        if parsed is not None:
            try:
                acl = client.get_web_acl(Name=parsed["name"], Scope=self.scope, Id=parsed["id"])["WebACL"]
            except ClientError as exc:
                if is_not_found(exc, *_NOT_FOUND):
                    return None
                raise
            summary = {"ARN": acl["ARN"], "Name": acl["Name"], "Id": acl["Id"]}
        else:
            summary = self._find_by_name(client)
            if summary is None:
                return None
        outputs = {"arn": summary["ARN"], "name": summary["Name"], "id": summary["Id"], "scope": self.scope}
        return Observed({}, outputs, owned=False, note=summary["ARN"] if parsed is None else "")

    def _find_by_name(self, client: Any) -> dict[str, Any] | None:
        args: dict[str, Any] = {"Scope": self.scope, "Limit": 100}
        while True:
            page = client.list_web_acls(**args)
            acls = page.get("WebACLs", [])
            for acl in acls:
                if acl["Name"] == self.name:
                    return acl
            marker = page.get("NextMarker")
            if not marker or not acls:
                return None
            args["NextMarker"] = marker


class WafLogging(Resource):
    """The web ACL's logging configuration, sending to logpipe's Firehose stream.

    The stream's ARN follows from its name, so ownership can be judged even when the stream
    itself is missing (a partial teardown).
    """

    kind = "waf-logging"
    starts_data_flow = True

    def __init__(self, web_acl: WebAclRef, *, stream: FirehoseStream) -> None:
        super().__init__(web_acl.name)
        self.web_acl = web_acl
        self.acl_arn = Ref(web_acl, "arn")
        self.stream = stream
        self.stream_arn = Ref(stream, "arn")

    def describe(self) -> str:
        return f"logging configuration of web ACL {self.web_acl.name}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"destinations": [ctx.resolve(self.stream_arn)]}

    def read(self, ctx: Context) -> Observed | None:
        acl_arn = ctx.resolve(self.acl_arn)
        if acl_arn is UNKNOWN:
            return None
        config = self._get(ctx, acl_arn)
        if config is None:
            return None
        destinations = list(config.get("LogDestinationConfigs") or [])
        ours = self._ours(ctx)
        owned = destinations == [ours] and not config.get("ManagedByFirewallManager")
        # A stream under logpipe's name that logpipe does not own is not logpipe's either.
        if owned and self.stream.key in ctx.outputs and not ctx.is_owned(self.stream):
            owned = False
        note = ""
        if config.get("ManagedByFirewallManager"):
            note = "managed by AWS Firewall Manager"
        elif not owned:
            note = "sends to " + (", ".join(destinations) or "nothing") + ", not to logpipe's stream"
        return Observed({"destinations": destinations}, {"web_acl_arn": acl_arn}, owned=owned, raw=config, note=note)

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        acl_arn = ctx.resolve(self.acl_arn)
        self._put(ctx, {"ResourceArn": acl_arn, "LogDestinationConfigs": desired["destinations"]})
        return {"web_acl_arn": acl_arn}

    def update(
        self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict[str, tuple[Any, Any]]
    ) -> dict[str, Any] | None:
        if (observed.raw or {}).get("ManagedByFirewallManager"):
            raise LogpipeError(
                f"the logging configuration of web ACL {self.web_acl.name} is managed by AWS Firewall Manager; "
                "change it there"
            )
        acl_arn = ctx.resolve(self.acl_arn)
        config: dict[str, Any] = {"ResourceArn": acl_arn, "LogDestinationConfigs": desired["destinations"]}
        for key in _KEPT_ON_ADOPT:
            if (observed.raw or {}).get(key):
                config[key] = observed.raw[key]
        self._put(ctx, config)
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        acl_arn = observed.outputs["web_acl_arn"]
        # Check again right before deleting: someone may have pointed it elsewhere since the plan.
        current = self._get(ctx, acl_arn)
        if current is None:
            return
        if list(current.get("LogDestinationConfigs") or []) != [self._ours(ctx)]:
            ctx.progress(f"web ACL {self.web_acl.name} now logs elsewhere; its logging configuration is left in place")
            return
        try:
            ctx.aws.client("wafv2").delete_logging_configuration(ResourceArn=acl_arn)
        except ClientError as exc:
            if not is_not_found(exc, *_NOT_FOUND):
                raise

    # helpers ------------------------------------------------------------------
    def _ours(self, ctx: Context) -> str:
        resolved = ctx.resolve(self.stream_arn)
        return self.stream.arn(ctx) if resolved is UNKNOWN else resolved

    @staticmethod
    def _get(ctx: Context, acl_arn: str) -> dict[str, Any] | None:
        try:
            return ctx.aws.client("wafv2").get_logging_configuration(ResourceArn=acl_arn)["LoggingConfiguration"]
        except ClientError as exc:
            if is_not_found(exc, *_NOT_FOUND):
                return None
            raise

    def _put(self, ctx: Context, config: dict[str, Any]) -> None:
        try:
            client = ctx.aws.client("wafv2")
            retry_while(
                ctx,
                lambda: client.put_logging_configuration(LoggingConfiguration=config),
                _service_linked_role_busy,
                what=(
                    "AWS WAF's logging role to be free (PutLoggingConfiguration: WAFServiceLinkedRoleErrorException; "
                    "AWS locks it for about 20 s after each change)"
                ),
                first_delay=2.0,
            )
        except ClientError as exc:
            if error_code(exc) == "WAFInvalidParameterException":
                raise LogpipeError(
                    f"AWS WAF refused the logging configuration of web ACL {self.web_acl.name}: {exc}. "
                    "The Firehose stream's name must start with aws-waf-logs- and it must be in the web ACL's region"
                ) from None
            raise
