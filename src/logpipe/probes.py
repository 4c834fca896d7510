"""Marked test records, one per pipeline, in the shape each AWS source really delivers them.

``logpipe verify`` sends them where AWS would (a Firehose stream, a CloudWatch Logs group)
so the record passes the same transform and index template as real data.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from logpipe.engine.context import Context
from logpipe.verify import Probe


def _now_iso(millis: bool = False) -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S") + (f".{now.microsecond // 1000:03d}Z" if millis else "Z")


def firehose_probe(
    pipeline: str, stream: str, index_pattern: str, field: str, record: Callable[[Context, str], dict[str, Any]]
) -> Probe:
    def send(ctx: Context, marker: str) -> None:
        data = json.dumps(record(ctx, marker), separators=(",", ":")).encode()
        ctx.aws.client("firehose").put_record(DeliveryStreamName=stream, Record={"Data": data})

    return Probe(pipeline, f"Firehose stream {stream}", index_pattern, field, send)


def resolver_query(ctx: Context, marker: str) -> dict[str, Any]:
    """One Route 53 Resolver query-log entry (fields and types as the samples show)."""
    return {
        "version": "1.100000",
        "account_id": ctx.account_id,
        "region": ctx.region,
        "vpc_id": "vpc-logpipeverify",
        "query_timestamp": _now_iso(),
        "query_name": marker,
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "answers": [],
        "srcaddr": "10.0.0.10",
        "srcport": "53000",
        "transport": "UDP",
        "srcids": {},
    }


def waf_log(ctx: Context, marker: str) -> dict[str, Any]:
    """One AWS WAF log record; ``timestamp`` is epoch milliseconds, as WAF writes it."""
    return {
        "timestamp": int(time.time() * 1000),
        "formatVersion": 1,
        "webaclId": f"arn:{ctx.partition}:wafv2:{ctx.region}:{ctx.account_id}:regional/webacl/logpipe-verify/0",
        "terminatingRuleId": "Default_Action",
        "terminatingRuleType": "REGULAR",
        "action": "ALLOW",
        "httpSourceName": "ALB",
        "httpSourceId": "logpipe-verify",
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "httpRequest": {
            "clientIp": "198.51.100.10",
            "country": "KR",
            "headers": [{"name": "Host", "value": "logpipe.invalid"}],
            "uri": "/logpipe-verify",
            "args": "",
            "httpVersion": "HTTP/1.1",
            "httpMethod": "GET",
            "requestId": marker,
        },
    }


def flow_log_line(log_format: str, ctx: Context, marker: str) -> dict[str, str] | None:
    """One flow record in the configured format, wrapped as VPC Flow Logs sends it to Firehose.

    The marker rides in ``interface-id`` (a plain string field); None if the format lacks it.
    """
    fields = [token.strip("${}") for token in log_format.split()]
    if "interface-id" not in fields:
        return None
    now = int(time.time())
    values = {
        "version": "5" if any(f not in _V2_FIELDS for f in fields) else "2",
        "account-id": ctx.account_id,
        "interface-id": marker,
        "srcaddr": "10.0.0.10",
        "dstaddr": "10.0.0.20",
        "srcport": "44321",
        "dstport": "443",
        "protocol": "6",
        "packets": "1",
        "bytes": "60",
        "start": str(now - 60),
        "end": str(now),
        "action": "ACCEPT",
        "log-status": "OK",
    }
    return {"message": " ".join(values.get(f, "-") for f in fields)}


_V2_FIELDS = {
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log-status",
}  # fmt: skip


def securityhub_event(ctx: Context, marker: str, product_arn: str) -> dict[str, Any]:
    """A ``Security Hub Findings - Imported`` event carrying one minimal ASFF finding."""
    now = _now_iso(millis=True)
    finding = {
        "SchemaVersion": "2018-10-08",
        "Id": marker,
        "ProductArn": product_arn,
        "GeneratorId": "logpipe-verify",
        "AwsAccountId": ctx.account_id,
        "Types": ["Software and Configuration Checks/logpipe verify"],
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": {"Label": "INFORMATIONAL", "Normalized": 0},
        "Title": "logpipe verify test finding",
        "Description": "A test record sent by `logpipe verify`; safe to ignore.",
        "Resources": [{"Type": "Other", "Id": "logpipe-verify"}],
        "RecordState": "ACTIVE",
        "ProductFields": {"logpipe/verify": "true"},
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": ctx.account_id,
        "time": _now_iso(),
        "region": ctx.region,
        "resources": [f"{product_arn}/{marker}"],
        "detail": {"findings": [finding]},
    }


def cloudtrail_probe(log_group: str, index_pattern: str) -> Probe:
    """A CloudTrail record written to the trail's log group, as CloudTrail itself does."""

    def send(ctx: Context, marker: str) -> None:
        logs = ctx.aws.client("logs")
        stream = f"{ctx.account_id}_CloudTrail_{ctx.region}_logpipe-verify"
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=log_group, logStreamName=stream)
        record = {
            "eventVersion": "1.11",
            "eventTime": _now_iso(),
            "eventSource": "logpipe.amazonaws.com",
            "eventName": "Verify",
            "awsRegion": ctx.region,
            "sourceIPAddress": "logpipe",
            "userAgent": "logpipe verify",
            "eventID": marker,
            "eventType": "AwsApiCall",
            "recipientAccountId": ctx.account_id,
            "readOnly": True,
            "managementEvent": True,
        }
        logs.put_log_events(
            logGroupName=log_group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(record)}],
        )

    return Probe("cloudtrail", f"log group {log_group}", index_pattern, "eventID", send)
