"""Security Hub gaps.

- Standards (DescribeStandards, BatchEnableStandards, GetEnabledStandards,
  BatchDisableStandards) have no routes in moto 5.2.5; EnableSecurityHub ignores
  ``EnableDefaultStandards``. Added with the region's real standard ARNs; the default
  standards are AWS Foundational Security Best Practices v1.0.0 and CIS AWS Foundations
  Benchmark v1.2.0, as documented. Subscriptions are reported ``PENDING`` by
  BatchEnableStandards and ``READY`` afterwards; ``DELETING`` by BatchDisableStandards.
- Hub tags (TagResource/ListTagsForResource/UntagResource on the hub ARN) have no routes.
- EnableSecurityHub on an account that is already subscribed silently succeeds in moto;
  AWS answers ``ResourceConflictException``. DisableSecurityHub drops the subscriptions.
- Imported findings do not reach EventBridge. AWS emits one
  ``Security Hub Findings - Imported`` event (source ``aws.securityhub``) per imported
  finding; moto emits none. Added for BatchImportFindings (and GuardDuty sample findings,
  which AWS imports into an enabled hub).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.core.responses import ActionResult, EmptyResult
from moto.securityhub import urls as securityhub_urls
from moto.securityhub.exceptions import SecurityHubClientError
from moto.securityhub.models import SecurityHubBackend, securityhub_backends
from moto.securityhub.responses import SecurityHubResponse
from moto.utilities.utils import get_partition

from ._patching import add_url_paths, patch, request_params

_MANAGED_BY = {"Company": "AWS", "Product": "Security Hub"}
_MAX_STANDARDS_PER_REQUEST = 25


def standards(region: str) -> list[dict[str, Any]]:
    """The standards Security Hub offers in ``region`` (ARNs as AWS spells them)."""
    p = get_partition(region)
    regional = f"arn:{p}:securityhub:{region}::standards"
    return [
        {
            "StandardsArn": f"{regional}/aws-foundational-security-best-practices/v/1.0.0",
            "Name": "AWS Foundational Security Best Practices v1.0.0",
            "Description": (
                "The AWS Foundational Security Best Practices standard is a set of automated security "
                "checks that detect when AWS accounts and deployed resources do not align to security "
                "best practices."
            ),
            "EnabledByDefault": True,
            "StandardsManagedBy": _MANAGED_BY,
        },
        {
            "StandardsArn": f"arn:{p}:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0",
            "Name": "CIS AWS Foundations Benchmark v1.2.0",
            "Description": (
                "The Center for Internet Security (CIS) AWS Foundations Benchmark v1.2.0 is a set of "
                "security configuration best practices for AWS."
            ),
            "EnabledByDefault": True,
            "StandardsManagedBy": _MANAGED_BY,
        },
        {
            "StandardsArn": f"{regional}/cis-aws-foundations-benchmark/v/1.4.0",
            "Name": "CIS AWS Foundations Benchmark v1.4.0",
            "Description": (
                "The Center for Internet Security (CIS) AWS Foundations Benchmark v1.4.0 is a set of "
                "security configuration best practices for AWS."
            ),
            "EnabledByDefault": False,
            "StandardsManagedBy": _MANAGED_BY,
        },
        {
            "StandardsArn": f"{regional}/cis-aws-foundations-benchmark/v/3.0.0",
            "Name": "CIS AWS Foundations Benchmark v3.0.0",
            "Description": (
                "The Center for Internet Security (CIS) AWS Foundations Benchmark v3.0.0 is a set of "
                "security configuration best practices for AWS."
            ),
            "EnabledByDefault": False,
            "StandardsManagedBy": _MANAGED_BY,
        },
        {
            "StandardsArn": f"{regional}/nist-800-53/v/5.0.0",
            "Name": "NIST Special Publication 800-53 Revision 5",
            "Description": (
                "NIST SP 800-53 Rev. 5 is a cybersecurity and compliance framework developed by the "
                "National Institute of Standards and Technology (NIST)."
            ),
            "EnabledByDefault": False,
            "StandardsManagedBy": _MANAGED_BY,
        },
        {
            "StandardsArn": f"{regional}/pci-dss/v/3.2.1",
            "Name": "PCI DSS v3.2.1",
            "Description": (
                "The Payment Card Industry Data Security Standard (PCI DSS) v3.2.1 is an information "
                "security standard for entities that store, process, and/or transmit cardholder data."
            ),
            "EnabledByDefault": False,
            "StandardsManagedBy": _MANAGED_BY,
        },
        {
            "StandardsArn": f"{regional}/aws-resource-tagging-standard/v/1.0.0",
            "Name": "AWS Resource Tagging Standard v1.0.0",
            "Description": (
                "The AWS Resource Tagging Standard checks whether AWS resources have tags, using the "
                "tag keys you specify."
            ),
            "EnabledByDefault": False,
            "StandardsManagedBy": _MANAGED_BY,
        },
    ]


def hub_arn(backend: SecurityHubBackend) -> str:
    partition = get_partition(backend.region_name)
    return f"arn:{partition}:securityhub:{backend.region_name}:{backend.account_id}:hub/default"


def _subscription_arn(backend: SecurityHubBackend, standards_arn: str) -> str:
    # ".../standards/pci-dss/v/3.2.1" or ".../ruleset/cis-.../v/1.2.0" -> "subscription/pci-dss/v/3.2.1"
    resource = standards_arn.split(":", 5)[5].split("/", 1)[1]
    partition = get_partition(backend.region_name)
    return f"arn:{partition}:securityhub:{backend.region_name}:{backend.account_id}:subscription/{resource}"


def _subscriptions(backend: SecurityHubBackend) -> dict[str, dict[str, Any]]:
    store: dict[str, dict[str, Any]] = backend.__dict__.setdefault("_logpipe_standards", {})
    return store


def _hub_tags(backend: SecurityHubBackend) -> dict[str, str]:
    if not isinstance(getattr(backend, "tags", None), dict):
        backend.tags = {}
    return backend.tags  # type: ignore[no-any-return]


def _not_subscribed(backend: SecurityHubBackend) -> SecurityHubClientError:
    return SecurityHubClientError(
        "InvalidAccessException",
        f"Account {backend.account_id} is not subscribed to AWS Security Hub",
    )


def _invalid_input(message: str) -> SecurityHubClientError:
    return SecurityHubClientError("InvalidInputException", message)


def enable_standards(backend: SecurityHubBackend, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not backend.enabled:
        raise _not_subscribed(backend)
    if not requests or len(requests) > _MAX_STANDARDS_PER_REQUEST:
        raise _invalid_input("StandardsSubscriptionRequests must contain between 1 and 25 items.")
    known = {s["StandardsArn"] for s in standards(backend.region_name)}
    for request in requests:
        if request.get("StandardsArn") not in known:
            raise _invalid_input(f"Invalid StandardsArn: {request.get('StandardsArn')}")
    store = _subscriptions(backend)
    result = []
    for request in requests:
        arn = _subscription_arn(backend, request["StandardsArn"])
        store[arn] = {
            "StandardsSubscriptionArn": arn,
            "StandardsArn": request["StandardsArn"],
            "StandardsInput": dict(request.get("StandardsInput") or {}),
            "StandardsStatus": "READY",
            "StandardsControlsUpdatable": "READY_FOR_UPDATES",
        }
        result.append({**store[arn], "StandardsStatus": "PENDING"})
    return result


def disable_standards(backend: SecurityHubBackend, subscription_arns: list[str]) -> list[dict[str, Any]]:
    if not backend.enabled:
        raise _not_subscribed(backend)
    store = _subscriptions(backend)
    if not subscription_arns:
        raise _invalid_input("StandardsSubscriptionArns must contain between 1 and 25 items.")
    for arn in subscription_arns:
        if arn not in store:
            raise _invalid_input(f"The standards subscription {arn} does not exist.")
    return [{**store.pop(arn), "StandardsStatus": "DELETING"} for arn in subscription_arns]


def enabled_standards(backend: SecurityHubBackend, subscription_arns: list[str] | None) -> list[dict[str, Any]]:
    if not backend.enabled:
        raise _not_subscribed(backend)
    store = _subscriptions(backend)
    if subscription_arns:
        return [dict(store[a]) for a in subscription_arns if a in store]
    return [dict(s) for s in store.values()]


def emit_imported_events(backend: SecurityHubBackend, findings: list[dict[str, Any]]) -> None:
    """Put one ``Security Hub Findings - Imported`` event per finding on the default bus."""
    from moto.events.models import events_backends

    if not findings:
        return
    events = events_backends[backend.account_id][backend.region_name]
    entries = [
        {
            "Source": "aws.securityhub",
            "DetailType": "Security Hub Findings - Imported",
            "Resources": [f["ProductArn"] + "/" + f["Id"] if "ProductArn" in f else f.get("Id", "")],
            "Detail": json.dumps({"findings": [f]}),
        }
        for f in findings
    ]
    for start in range(0, len(entries), 10):
        events.put_events(entries[start : start + 10])


def install() -> None:
    orig_enable = SecurityHubBackend.enable_security_hub
    orig_disable = SecurityHubBackend.disable_security_hub
    orig_import = SecurityHubBackend.batch_import_findings

    def enable_security_hub(
        self: SecurityHubBackend, enable_default_standards: bool = True, tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        if self.enabled:
            raise SecurityHubClientError(
                "ResourceConflictException", f"Account {self.account_id} is already subscribed to Security Hub"
            )
        result = orig_enable(self, enable_default_standards=enable_default_standards, tags=tags)
        _subscriptions(self).clear()
        if enable_default_standards is not False:
            defaults = [s for s in standards(self.region_name) if s["EnabledByDefault"]]
            enable_standards(self, [{"StandardsArn": s["StandardsArn"]} for s in defaults])
        return result  # type: ignore[no-any-return]

    def disable_security_hub(self: SecurityHubBackend) -> dict[str, Any]:
        result = orig_disable(self)
        _subscriptions(self).clear()
        self.tags = {}
        return result  # type: ignore[no-any-return]

    def batch_import_findings(
        self: SecurityHubBackend, findings: list[dict[str, Any]]
    ) -> tuple[int, int, list[dict[str, Any]]]:
        failed_count, success_count, failed = orig_import(self, findings)
        failed_ids = {f.get("Id") for f in failed}
        emit_imported_events(self, [f for f in findings if f.get("Id") not in failed_ids])
        return failed_count, success_count, failed

    def r_describe_standards(self: SecurityHubResponse) -> ActionResult:
        return ActionResult({"Standards": standards(self.region)})

    def r_batch_enable_standards(self: SecurityHubResponse) -> ActionResult:
        params = request_params(self)
        subs = enable_standards(self.securityhub_backend, params.get("StandardsSubscriptionRequests") or [])
        return ActionResult({"StandardsSubscriptions": subs})

    def r_batch_disable_standards(self: SecurityHubResponse) -> ActionResult:
        params = request_params(self)
        subs = disable_standards(self.securityhub_backend, params.get("StandardsSubscriptionArns") or [])
        return ActionResult({"StandardsSubscriptions": subs})

    def r_get_enabled_standards(self: SecurityHubResponse) -> ActionResult:
        params = request_params(self)
        subs = enabled_standards(self.securityhub_backend, params.get("StandardsSubscriptionArns"))
        return ActionResult({"StandardsSubscriptions": subs})

    def _hub_for(response: SecurityHubResponse) -> SecurityHubBackend:
        arn = unquote(response.path.split("/tags/", 1)[1])
        parts = arn.split(":")
        if len(parts) == 6 and parts[2] == "securityhub":
            account, region = parts[4], parts[3]
            if account in securityhub_backends and region in securityhub_backends[account]:
                backend = securityhub_backends[account][region]
                if backend.enabled and arn == hub_arn(backend):
                    return backend
        raise SecurityHubClientError("ResourceNotFoundException", f"Resource {arn} not found.")

    def r_list_tags_for_resource(self: SecurityHubResponse) -> ActionResult:
        return ActionResult({"Tags": dict(_hub_tags(_hub_for(self)))})

    def r_tag_resource(self: SecurityHubResponse) -> ActionResult:
        params = request_params(self)
        _hub_tags(_hub_for(self)).update(params.get("Tags") or {})
        return EmptyResult()

    def r_untag_resource(self: SecurityHubResponse) -> ActionResult:
        params = request_params(self)
        tags = _hub_tags(_hub_for(self))
        for key in params.get("TagKeys") or []:
            tags.pop(key, None)
        return EmptyResult()

    add_url_paths(
        securityhub_urls,
        {
            "{0}/standards$": SecurityHubResponse.dispatch,
            "{0}/standards/register$": SecurityHubResponse.dispatch,
            "{0}/standards/deregister$": SecurityHubResponse.dispatch,
            "{0}/standards/get$": SecurityHubResponse.dispatch,
            "{0}/tags/(?P<resource_arn>.+)$": SecurityHubResponse.dispatch,
        },
    )
    patch(SecurityHubBackend, "enable_security_hub", enable_security_hub)
    patch(SecurityHubBackend, "disable_security_hub", disable_security_hub)
    patch(SecurityHubBackend, "batch_import_findings", batch_import_findings)
    patch(SecurityHubResponse, "describe_standards", r_describe_standards)
    patch(SecurityHubResponse, "batch_enable_standards", r_batch_enable_standards)
    patch(SecurityHubResponse, "batch_disable_standards", r_batch_disable_standards)
    patch(SecurityHubResponse, "get_enabled_standards", r_get_enabled_standards)
    patch(SecurityHubResponse, "list_tags_for_resource", r_list_tags_for_resource)
    patch(SecurityHubResponse, "tag_resource", r_tag_resource)
    patch(SecurityHubResponse, "untag_resource", r_untag_resource)
