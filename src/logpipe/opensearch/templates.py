"""Composable index templates, one per pipeline, so every index is typed from its first document.

Without a template OpenSearch guesses types from whichever document arrives first, and the
guesses are what break these pipelines: an epoch number makes the time field ``long`` (the lab's
"delete the FlowLog indices created before the transform" step), date detection turns
CloudTrail's ``"Oct 2, 2019, 11:12:29 PM"`` neighbours into conflicts, and CloudTrail's
``requestParameters`` / ``responseElements`` change shape from API to API until a document is
rejected. Each body here is for ``PUT _index_template/<name>`` and sets:

* the time field (and the other date fields) as ``date`` with a format that takes ISO 8601 and
  the source's raw epoch form: ``epoch_millis`` where the raw form is milliseconds (WAF,
  CloudTrail's CWL timestamp), ``epoch_second`` where it is seconds (flow logs) — a raw
  ``1418530010`` read as milliseconds would land in January 1970;
* ``date_detection: false`` and ``numeric_detection: false``: nothing but the declared fields
  becomes a date or a number by guesswork;
* a dynamic template that maps every other string to ``keyword`` (``ignore_above`` 8191 keeps a
  huge value from failing the document on Lucene's 32 KB term limit; the value stays in
  ``_source``); the few free-text fields are ``text`` with a ``keyword`` sub-field;
* ``flat_object`` (OpenSearch >= 2.7) for objects whose keys or value types vary from document
  to document: each is indexed as one field whose leaves are searchable as keywords by dotted
  path (``requestParameters.bucketName``) or as a whole, and can never conflict or grow the
  mapping;
* ``_meta.managed-by = logpipe`` (ownership, for status/teardown) and a ``priority``.

No shard or replica settings: those belong to the domain, not to logpipe.
"""

from __future__ import annotations

from typing import Any

#: pipeline → (index pattern, time field for the Dashboards index pattern).
INDEX_PATTERNS: dict[str, tuple[str, str]] = {
    "cloudtrail": ("cwl-*", "eventTime"),
    "dns": ("dns-log-*", "query_timestamp"),
    "waf": ("waf-log-*", "timestamp"),
    "flowlog": ("vpc-flowlog-*", "start"),
    "securityhub": ("aws-securityhub-findings-logs*", "CreatedAt"),
}

#: pipeline → index template name.
TEMPLATE_NAMES: dict[str, str] = {pipeline: f"logpipe-{pipeline}" for pipeline in INDEX_PATTERNS}

#: Template priority. Above the 0 of templates created without one and of OpenSearch's own
#: built-ins; two templates matching one index with the same priority are refused at index
#: creation, so an explicit value that is not a round number lowers that chance.
PRIORITY = 150

META = {"managed-by": "logpipe"}

KEYWORD_IGNORE_ABOVE = 8191

#: CloudTrail fields mapped as flat_object, and why: their shape depends on the API called.
#: ``requestParameters`` / ``responseElements`` / ``additionalEventData`` /
#: ``serviceEventDetails`` differ per service and call (e.g. ``responseElements`` is
#: ``{"ConsoleLogin": "Success"}`` for a sign-in, a credentials object for AssumeRole, null for
#: DescribeInstances); ``insightDetails`` mixes integer and fractional averages and attribution
#: lists; ``webIdFederationData`` carries provider claim names with dots and colons as keys.
#: ``resources`` (ARN/accountId/type) and ``tlsDetails`` (three strings) are stable and keep
#: ordinary typed sub-fields. The indexer wraps a non-object value of these fields as
#: ``{"_value": <value>}``, since flat_object accepts only objects.
CLOUDTRAIL_FLAT_OBJECT_FIELDS: tuple[str, ...] = (
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
    "insightDetails",
    "userIdentity.sessionContext.webIdFederationData",
)

#: Security Hub (ASFF) fields mapped as flat_object: ``ProductFields`` and
#: ``UserDefinedFields`` are free maps whose keys contain "/" and ":"
#: ("aws/guardduty/service/count", "RelatedAWSResources:0/name"); ``Resources.Details`` has one
#: sub-object per resource type (hundreds of types, thousands of fields: the default 1000-field
#: limit would be hit); ``Resources.Tags`` keys are the customer's tag names.
SECURITYHUB_FLAT_OBJECT_FIELDS: tuple[str, ...] = (
    "ProductFields",
    "UserDefinedFields",
    "Resources.Details",
    "Resources.Tags",
)

_ISO_OR_MILLIS = "strict_date_optional_time||epoch_millis"
_ISO_OR_SECONDS = "strict_date_optional_time||epoch_second"


def _date(fmt: str = _ISO_OR_MILLIS) -> dict[str, Any]:
    return {"type": "date", "format": fmt}


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}


def _text_and_keyword() -> dict[str, Any]:
    return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}}}


def _nest(paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"a.b": m}`` → ``{"a": {"properties": {"b": m}}}``: dotted paths to mapping properties."""
    root: dict[str, Any] = {}
    for path, mapping in paths.items():
        *parents, leaf = path.split(".")
        node = root
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[leaf] = mapping
    return root


def _template(pattern: str, properties: dict[str, dict[str, Any]], description: str) -> dict[str, Any]:
    return {
        "index_patterns": [pattern],
        "priority": PRIORITY,
        "_meta": {**META, "description": description},
        "template": {
            "mappings": {
                "date_detection": False,
                "numeric_detection": False,
                "dynamic_templates": [{"strings_as_keyword": {"match_mapping_type": "string", "mapping": _keyword()}}],
                "properties": _nest(properties),
            }
        },
    }


def _cloudtrail() -> dict[str, Any]:
    props: dict[str, dict[str, Any]] = {
        "eventTime": _date(),
        "@timestamp": _date(),
        "@message": {"type": "text"},
        "@id": _keyword(),
        "@owner": _keyword(),
        "@log_group": _keyword(),
        "@log_stream": _keyword(),
        # Not an IP: "ssm.amazonaws.com", "AWS Internal" occur (FORMAT_NOTES).
        "sourceIPAddress": _keyword(),
        "errorMessage": _text_and_keyword(),
        "resources.ARN": _keyword(),
        "resources.accountId": _keyword(),
        "resources.type": _keyword(),
        "tlsDetails.tlsVersion": _keyword(),
        "tlsDetails.cipherSuite": _keyword(),
        "tlsDetails.clientProvidedHostHeader": _keyword(),
    }
    props.update({field: {"type": "flat_object"} for field in CLOUDTRAIL_FLAT_OBJECT_FIELDS})
    return _template("cwl-*", props, "CloudTrail records indexed from CloudWatch Logs by logpipe")


def _dns() -> dict[str, Any]:
    props = {
        "query_timestamp": _date(),
        "srcaddr": {"type": "ip"},
        # A string in the logs ("56067"); numeric so port ranges can be queried.
        "srcport": {"type": "integer"},
        # "1.100000": a version label, not a number.
        "version": _keyword(),
    }
    return _template("dns-log-*", props, "Route 53 Resolver query logs delivered by Firehose")


def _waf() -> dict[str, Any]:
    props = {
        "timestamp": _date(),
        "httpRequest.clientIp": {"type": "ip"},
        "formatVersion": {"type": "integer"},
        "responseCodeSent": {"type": "integer"},
        # Epoch seconds beside the millisecond timestamp; kept a number, not a second time field.
        "captchaResponse.solveTimestamp": {"type": "long"},
        "captchaResponse.responseCode": {"type": "integer"},
        "challengeResponse.solveTimestamp": {"type": "long"},
        "challengeResponse.responseCode": {"type": "integer"},
    }
    return _template("waf-log-*", props, "AWS WAF logs delivered by Firehose (timestamp made ISO 8601)")


def _flowlog() -> dict[str, Any]:
    props: dict[str, dict[str, Any]] = {
        "start": _date(_ISO_OR_SECONDS),
        "end": _date(_ISO_OR_SECONDS),
        "version": {"type": "integer"},
        "srcport": {"type": "integer"},
        "dstport": {"type": "integer"},
        "protocol": {"type": "integer"},
        "packets": {"type": "long"},
        "bytes": {"type": "long"},
        "tcp-flags": {"type": "integer"},
        "traffic-path": {"type": "integer"},
        "encryption-status": {"type": "integer"},
    }
    props.update({f: {"type": "ip"} for f in ("srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr")})
    return _template("vpc-flowlog-*", props, "VPC flow logs delivered by Firehose, typed by logpipe")


def _securityhub() -> dict[str, Any]:
    props: dict[str, dict[str, Any]] = {
        "CreatedAt": _date(),
        "UpdatedAt": _date(),
        "FirstObservedAt": _date(),
        "LastObservedAt": _date(),
        "ProcessedAt": _date(),
        "@event.time": _date(),
        "Title": _text_and_keyword(),
        "Description": _text_and_keyword(),
        # 2 for one GuardDuty finding, 5.5 for another: float, not whatever came first.
        "Severity.Product": {"type": "float"},
        "Severity.Normalized": {"type": "integer"},
        "Confidence": {"type": "integer"},
        "Criticality": {"type": "integer"},
    }
    props.update({field: {"type": "flat_object"} for field in SECURITYHUB_FLAT_OBJECT_FIELDS})
    return _template(
        "aws-securityhub-findings-logs*", props, "Security Hub ASFF findings delivered by EventBridge and Firehose"
    )


_BUILDERS = {
    "cloudtrail": _cloudtrail,
    "dns": _dns,
    "waf": _waf,
    "flowlog": _flowlog,
    "securityhub": _securityhub,
}


def index_templates() -> dict[str, dict[str, Any]]:
    """Template name → body for ``PUT _index_template/<name>``, one per pipeline (fresh copies)."""
    return {TEMPLATE_NAMES[pipeline]: build() for pipeline, build in _BUILDERS.items()}


def index_template(pipeline: str, pattern: str | None = None) -> tuple[str, dict[str, Any]]:
    """(name, body) of one pipeline's template; ``KeyError`` for an unknown pipeline.

    ``pattern`` replaces the default index pattern (the config may rename a pipeline's index).
    """
    body = _BUILDERS[pipeline]()
    if pattern is not None:
        body["index_patterns"] = [pattern]
    return TEMPLATE_NAMES[pipeline], body


def configured_patterns(config: Any) -> dict[str, tuple[str, str]]:
    """pipeline -> (index pattern, time field) for the index names this config makes.

    The defaults give ``INDEX_PATTERNS``. A Firehose index without rotation is one index of
    exactly that name, so its pattern is the name itself (``dns-log-*`` would miss it).
    """
    pipes = config.pipelines

    def firehose(index: str, rotation: str) -> str:
        return index if rotation == "NoRotation" else f"{index}-*"

    patterns = {
        "cloudtrail": f"{pipes.cloudtrail.index_prefix}-*",
        "dns": firehose(pipes.dns.index, pipes.dns.firehose.index_rotation),
        "waf": firehose(pipes.waf.index, pipes.waf.firehose.index_rotation),
        "flowlog": firehose(pipes.flowlog.index, pipes.flowlog.firehose.index_rotation),
        "securityhub": f"{pipes.securityhub.index_prefix}*",
    }
    return {name: (patterns[name], INDEX_PATTERNS[name][1]) for name in INDEX_PATTERNS}
