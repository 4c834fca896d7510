"""GuardDuty gaps.

- CreateSampleFindings, ListFindings, GetFindings and ListTagsForResource/TagResource/
  UntagResource have no routes in moto 5.2.5 (boto3 gets "404 Not yet implemented").
  Added: sample findings of the requested types (every type when ``FindingTypes`` is absent,
  as AWS documents; an empty list is treated the same), a minimal but schema-valid finding,
  simple ``FindingCriteria``, paging, and detector tags.
- UpdateDetector does not move ``UpdatedAt``.

Sample findings are marked as AWS marks them: ``Service.AdditionalInfo`` is
``{"Value": "{\\"sample\\":true}", "Type": "default"}`` (the finding JSON that GuardDuty
exports shows this as ``service.additionalInfo.sample: true``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from moto.core.responses import ActionResult, EmptyResult
from moto.guardduty import urls as guardduty_urls
from moto.guardduty.exceptions import DetectorNotFoundException
from moto.guardduty.models import Detector, GuardDutyBackend, guardduty_backends
from moto.guardduty.responses import GuardDutyResponse
from moto.moto_api._internal import mock_random
from moto.utilities.utils import get_partition

from ._patching import AwsError, add_url_paths, patch, request_params

_BAD_VALUE = "The request is rejected because an invalid or out-of-range value is specified as an input parameter."

# GuardDuty finding types (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html).
FINDING_TYPES: tuple[str, ...] = (
    "Backdoor:EC2/C&CActivity.B",
    "Backdoor:EC2/C&CActivity.B!DNS",
    "Backdoor:EC2/DenialOfService.Dns",
    "Backdoor:EC2/DenialOfService.Tcp",
    "Backdoor:EC2/DenialOfService.Udp",
    "Backdoor:EC2/DenialOfService.UdpOnTcpPorts",
    "Backdoor:EC2/DenialOfService.UnusualProtocol",
    "Backdoor:EC2/Spambot",
    "Behavior:EC2/NetworkPortUnusual",
    "Behavior:EC2/TrafficVolumeUnusual",
    "CryptoCurrency:EC2/BitcoinTool.B",
    "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    "DefenseEvasion:EC2/UnusualDNSResolver",
    "DefenseEvasion:EC2/UnusualDoHActivity",
    "DefenseEvasion:EC2/UnusualDoTActivity",
    "Impact:EC2/AbusedDomainRequest.Reputation",
    "Impact:EC2/BitcoinDomainRequest.Reputation",
    "Impact:EC2/MaliciousDomainRequest.Reputation",
    "Impact:EC2/PortSweep",
    "Impact:EC2/SuspiciousDomainRequest.Reputation",
    "Impact:EC2/WinRMBruteForce",
    "Recon:EC2/PortProbeEMRUnprotectedPort",
    "Recon:EC2/PortProbeUnprotectedPort",
    "Recon:EC2/Portscan",
    "Trojan:EC2/BlackholeTraffic",
    "Trojan:EC2/BlackholeTraffic!DNS",
    "Trojan:EC2/DGADomainRequest.B",
    "Trojan:EC2/DGADomainRequest.C!DNS",
    "Trojan:EC2/DNSDataExfiltration",
    "Trojan:EC2/DriveBySourceTraffic!DNS",
    "Trojan:EC2/DropPoint",
    "Trojan:EC2/DropPoint!DNS",
    "Trojan:EC2/PhishingDomainRequest!DNS",
    "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:EC2/MetadataDNSRebind",
    "UnauthorizedAccess:EC2/RDPBruteForce",
    "UnauthorizedAccess:EC2/SSHBruteForce",
    "UnauthorizedAccess:EC2/TorClient",
    "UnauthorizedAccess:EC2/TorRelay",
    "CredentialAccess:IAMUser/AnomalousBehavior",
    "DefenseEvasion:IAMUser/AnomalousBehavior",
    "Discovery:IAMUser/AnomalousBehavior",
    "Exfiltration:IAMUser/AnomalousBehavior",
    "Impact:IAMUser/AnomalousBehavior",
    "InitialAccess:IAMUser/AnomalousBehavior",
    "PenTest:IAMUser/KaliLinux",
    "PenTest:IAMUser/ParrotLinux",
    "PenTest:IAMUser/PentooLinux",
    "Persistence:IAMUser/AnomalousBehavior",
    "Policy:IAMUser/RootCredentialUsage",
    "PrivilegeEscalation:IAMUser/AnomalousBehavior",
    "Recon:IAMUser/MaliciousIPCaller",
    "Recon:IAMUser/MaliciousIPCaller.Custom",
    "Recon:IAMUser/TorIPCaller",
    "Stealth:IAMUser/CloudTrailLoggingDisabled",
    "Stealth:IAMUser/PasswordPolicyChange",
    "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:IAMUser/TorIPCaller",
    "Discovery:S3/AnomalousBehavior",
    "Discovery:S3/MaliciousIPCaller",
    "Discovery:S3/MaliciousIPCaller.Custom",
    "Discovery:S3/TorIPCaller",
    "Exfiltration:S3/AnomalousBehavior",
    "Exfiltration:S3/MaliciousIPCaller",
    "Impact:S3/AnomalousBehavior.Delete",
    "Impact:S3/AnomalousBehavior.Permission",
    "Impact:S3/AnomalousBehavior.Write",
    "Impact:S3/MaliciousIPCaller",
    "PenTest:S3/KaliLinux",
    "PenTest:S3/ParrotLinux",
    "PenTest:S3/PentooLinux",
    "Policy:S3/AccountBlockPublicAccessDisabled",
    "Policy:S3/BucketAnonymousAccessGranted",
    "Policy:S3/BucketBlockPublicAccessDisabled",
    "Policy:S3/BucketPublicAccessGranted",
    "Stealth:S3/ServerAccessLoggingDisabled",
    "UnauthorizedAccess:S3/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:S3/TorIPCaller",
    "CredentialAccess:Kubernetes/MaliciousIPCaller",
    "Discovery:Kubernetes/SuccessfulAnonymousAccess",
    "Execution:Kubernetes/ExecInKubeSystemPod",
    "Persistence:Kubernetes/ContainerWithSensitiveMount",
    "Policy:Kubernetes/AdminAccessToDefaultServiceAccount",
    "Policy:Kubernetes/AnonymousAccessGranted",
    "PrivilegeEscalation:Kubernetes/PrivilegedContainer",
    "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin",
    "CredentialAccess:RDS/AnomalousBehavior.FailedLoginAttempt",
    "Backdoor:Lambda/C&CActivity.B",
    "CryptoCurrency:Lambda/BitcoinTool.B",
    "Trojan:Lambda/BlackholeTraffic",
    "Trojan:Lambda/DropPoint",
    "UnauthorizedAccess:Lambda/MaliciousIPCaller.Custom",
    "Execution:EC2/MaliciousFile",
    "Execution:Runtime/NewBinaryExecuted",
)

_SEVERITY_BY_THREAT = {
    "Backdoor": 8.0,
    "CryptoCurrency": 8.0,
    "Trojan": 8.0,
    "Exfiltration": 8.0,
    "Impact": 8.0,
    "Execution": 5.0,
    "CredentialAccess": 5.0,
    "UnauthorizedAccess": 5.0,
    "Recon": 5.0,
    "Discovery": 5.0,
    "PenTest": 5.0,
    "Persistence": 5.0,
    "PrivilegeEscalation": 5.0,
    "DefenseEvasion": 5.0,
    "InitialAccess": 5.0,
    "Behavior": 5.0,
    "Stealth": 2.0,
    "Policy": 2.0,
}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _resource(finding_type: str, account_id: str, region: str) -> dict[str, Any]:
    family = finding_type.split(":", 1)[1].split("/", 1)[0]
    partition = get_partition(region)
    if family == "IAMUser":
        return {
            "ResourceType": "AccessKey",
            "AccessKeyDetails": {
                "AccessKeyId": "GeneratedFindingAccessKeyId",
                "PrincipalId": "GeneratedFindingPrincipalId",
                "UserName": "GeneratedFindingUserName",
                "UserType": "IAMUser",
            },
        }
    if family == "S3":
        return {
            "ResourceType": "S3Bucket",
            "S3BucketDetails": [
                {
                    "Arn": f"arn:{partition}:s3:::bucketName",
                    "Name": "bucketName",
                    "Type": "Destination",
                }
            ],
        }
    if family == "Kubernetes":
        return {"ResourceType": "EKSCluster", "EksClusterDetails": {"Name": "GeneratedFindingEKSClusterName"}}
    if family == "RDS":
        return {"ResourceType": "RDSDBInstance"}
    if family == "Lambda":
        return {
            "ResourceType": "Lambda",
            "LambdaDetails": {
                "FunctionArn": f"arn:{partition}:lambda:{region}:{account_id}:function:GeneratedFindingFunctionName",
                "FunctionName": "GeneratedFindingFunctionName",
            },
        }
    return {
        "ResourceType": "Instance",
        "InstanceDetails": {"InstanceId": "i-99999999", "InstanceType": "m5.large"},
    }


def sample_finding(finding_type: str, detector_id: str, account_id: str, region: str) -> dict[str, Any]:
    finding_id = mock_random.get_random_hex(32)
    now = _now()
    threat = finding_type.split(":", 1)[0]
    return {
        "AccountId": account_id,
        "Arn": (
            f"arn:{get_partition(region)}:guardduty:{region}:{account_id}:detector/{detector_id}/finding/{finding_id}"
        ),
        "Confidence": 5.0,
        "CreatedAt": now,
        "Description": f"This is a sample finding of type {finding_type}.",
        "Id": finding_id,
        "Partition": get_partition(region),
        "Region": region,
        "Resource": _resource(finding_type, account_id, region),
        "SchemaVersion": "2.0",
        "Service": {
            "ServiceName": "guardduty",
            "DetectorId": detector_id,
            "Archived": False,
            "Count": 1,
            "EventFirstSeen": now,
            "EventLastSeen": now,
            "ResourceRole": "TARGET",
            "AdditionalInfo": {"Value": json.dumps({"sample": True}, separators=(",", ":")), "Type": "default"},
        },
        "Severity": _SEVERITY_BY_THREAT.get(threat, 5.0),
        "Title": f"Sample finding: {finding_type}",
        "Type": finding_type,
        "UpdatedAt": now,
    }


_ASFF_TYPES = {
    "Backdoor": "TTPs/Command and Control",
    "Trojan": "TTPs/Command and Control",
    "CryptoCurrency": "TTPs/Command and Control",
    "Behavior": "Unusual Behaviors",
    "CredentialAccess": "TTPs/Credential Access",
    "DefenseEvasion": "TTPs/Defense Evasion",
    "Discovery": "TTPs/Discovery",
    "Execution": "TTPs/Execution",
    "Exfiltration": "Effects/Data Exfiltration",
    "Impact": "Effects",
    "InitialAccess": "TTPs/Initial Access",
    "PenTest": "TTPs/Discovery",
    "Persistence": "TTPs/Persistence",
    "Policy": "Software and Configuration Checks",
    "PrivilegeEscalation": "TTPs/Privilege Escalation",
    "Recon": "TTPs/Discovery",
    "Stealth": "TTPs/Defense Evasion",
    "UnauthorizedAccess": "TTPs/Initial Access",
}


def _severity_label(severity: float) -> str:
    if severity >= 7.0:
        return "HIGH"
    if severity >= 4.0:
        return "MEDIUM"
    return "LOW"


def _asff_resource(finding: dict[str, Any]) -> dict[str, Any]:
    resource = finding["Resource"]
    partition, region, account = finding["Partition"], finding["Region"], finding["AccountId"]
    if resource["ResourceType"] == "Instance":
        instance_id = resource["InstanceDetails"]["InstanceId"]
        return {
            "Type": "AwsEc2Instance",
            "Id": f"arn:{partition}:ec2:{region}:{account}:instance/{instance_id}",
            "Partition": partition,
            "Region": region,
        }
    if resource["ResourceType"] == "AccessKey":
        key_id = resource["AccessKeyDetails"]["AccessKeyId"]
        return {
            "Type": "AwsIamAccessKey",
            "Id": f"AWS::IAM::AccessKey:{key_id}",
            "Partition": partition,
            "Region": region,
        }
    if resource["ResourceType"] == "S3Bucket":
        bucket = resource["S3BucketDetails"][0]
        return {"Type": "AwsS3Bucket", "Id": bucket["Arn"], "Partition": partition, "Region": region}
    return {"Type": "Other", "Id": finding["Arn"], "Partition": partition, "Region": region}


def to_asff(finding: dict[str, Any]) -> dict[str, Any]:
    """A GuardDuty finding as Security Hub imports it (AWS Security Finding Format)."""
    region, partition, account = finding["Region"], finding["Partition"], finding["AccountId"]
    threat = finding["Type"].split(":", 1)[0]
    asff_type = f"{_ASFF_TYPES.get(threat, 'Unusual Behaviors')}/{finding['Type'].replace('/', '-')}"
    label = _severity_label(finding["Severity"])
    detector_id = finding["Service"]["DetectorId"]
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding["Arn"],
        "ProductArn": f"arn:{partition}:securityhub:{region}::product/aws/guardduty",
        "ProductName": "GuardDuty",
        "CompanyName": "Amazon",
        "Region": region,
        "GeneratorId": f"arn:{partition}:guardduty:{region}:{account}:detector/{detector_id}",
        "AwsAccountId": account,
        "Types": [asff_type],
        "FirstObservedAt": finding["Service"]["EventFirstSeen"],
        "LastObservedAt": finding["Service"]["EventLastSeen"],
        "CreatedAt": finding["CreatedAt"],
        "UpdatedAt": finding["UpdatedAt"],
        "Severity": {"Product": finding["Severity"], "Label": label, "Normalized": int(finding["Severity"] * 10)},
        "Title": finding["Title"],
        "Description": finding["Description"],
        "ProductFields": {
            "aws/guardduty/service/archived": "false",
            "aws/guardduty/service/count": "1",
            "aws/guardduty/service/detectorId": detector_id,
            "aws/guardduty/service/additionalInfo/sample": "true",
            "aws/securityhub/FindingId": (
                f"arn:{partition}:securityhub:{region}::product/aws/guardduty/{finding['Arn']}"
            ),
            "aws/securityhub/ProductName": "GuardDuty",
            "aws/securityhub/CompanyName": "Amazon",
        },
        "Resources": [_asff_resource(finding)],
        "WorkflowState": "NEW",
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
        "FindingProviderFields": {
            "Severity": {"Label": label, "Original": str(finding["Severity"])},
            "Types": [asff_type],
        },
        "Sample": True,
    }


def _send_to_security_hub(backend: GuardDutyBackend, findings: list[dict[str, Any]]) -> None:
    """GuardDuty findings reach an enabled Security Hub in the same account and region."""
    from moto.securityhub.models import securityhub_backends

    from ._patching import iter_existing_backends

    for hub in iter_existing_backends(securityhub_backends, backend.account_id, backend.region_name):
        if hub.enabled:
            hub.batch_import_findings([to_asff(f) for f in findings])


def _findings(backend: GuardDutyBackend, detector_id: str) -> dict[str, dict[str, Any]]:
    store: dict[str, dict[str, dict[str, Any]]] = backend.__dict__.setdefault("_logpipe_findings", {})
    return store.setdefault(detector_id, {})


def _lookup(finding: dict[str, Any], path: str) -> Any:
    """Resolve a FindingCriteria field ("service.archived", "type") case-insensitively."""
    value: Any = finding
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        matches = [v for k, v in value.items() if k.lower() == part.lower()]
        value = matches[0] if matches else None
    return value


def _matches(finding: dict[str, Any], criteria: dict[str, Any] | None) -> bool:
    for field, condition in ((criteria or {}).get("Criterion") or {}).items():
        actual = _lookup(finding, field)
        text = json.dumps(actual) if isinstance(actual, bool) else str(actual)
        equals = list(condition.get("Eq") or []) + list(condition.get("Equals") or [])
        not_equals = list(condition.get("Neq") or []) + list(condition.get("NotEquals") or [])
        if equals and text not in equals:
            return False
        if not_equals and text in not_equals:
            return False
        for op, compare in (
            ("Gt", float.__gt__),
            ("GreaterThan", float.__gt__),
            ("Gte", float.__ge__),
            ("GreaterThanOrEqual", float.__ge__),
            ("Lt", float.__lt__),
            ("LessThan", float.__lt__),
            ("Lte", float.__le__),
            ("LessThanOrEqual", float.__le__),
        ):
            if condition.get(op) is None:
                continue
            try:
                if not compare(float(actual), float(condition[op])):
                    return False
            except (TypeError, ValueError):
                return False
    return True


def _detector_for_arn(arn: str) -> tuple[GuardDutyBackend, Detector]:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "guardduty" and parts[5].startswith("detector/"):
        account, region, detector_id = parts[4], parts[3], parts[5].split("/")[1]
        if account in guardduty_backends and region in guardduty_backends[account]:
            backend = guardduty_backends[account][region]
            if detector_id in backend.detectors:
                return backend, backend.detectors[detector_id]
    raise AwsError("BadRequestException", _BAD_VALUE, Type="InvalidInputException")


def create_sample_findings(
    self: GuardDutyBackend, detector_id: str, finding_types: Iterable[str] | None
) -> list[dict[str, Any]]:
    self.get_detector(detector_id)  # DetectorNotFoundException -> BadRequestException
    requested = list(finding_types or []) or list(FINDING_TYPES)
    unknown = [t for t in requested if t not in FINDING_TYPES]
    if unknown:
        raise AwsError("BadRequestException", _BAD_VALUE, Type="InvalidInputException")
    store = _findings(self, detector_id)
    created = [sample_finding(t, detector_id, self.account_id, self.region_name) for t in requested]
    for finding in created:
        store[finding["Id"]] = finding
    _send_to_security_hub(self, created)
    return created


def list_findings(
    self: GuardDutyBackend,
    detector_id: str,
    finding_criteria: dict[str, Any] | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[str], str | None]:
    self.get_detector(detector_id)
    limit = max_results or 50
    if not 1 <= limit <= 50:
        raise AwsError("BadRequestException", _BAD_VALUE, Type="InvalidInputException")
    ids = [f["Id"] for f in _findings(self, detector_id).values() if _matches(f, finding_criteria)]
    try:
        start = int(next_token) if next_token else 0
    except ValueError as exc:
        raise AwsError("BadRequestException", _BAD_VALUE, Type="InvalidInputException") from exc
    page = ids[start : start + limit]
    token = str(start + limit) if start + limit < len(ids) else None
    return page, token


def get_findings(self: GuardDutyBackend, detector_id: str, finding_ids: list[str]) -> list[dict[str, Any]]:
    self.get_detector(detector_id)
    if not 0 < len(finding_ids or []) <= 50:
        raise AwsError("BadRequestException", _BAD_VALUE, Type="InvalidInputException")
    store = _findings(self, detector_id)
    return [store[i] for i in finding_ids if i in store]


def install() -> None:
    orig_detector_update = Detector.update
    orig_delete_detector = GuardDutyBackend.delete_detector

    def detector_update(self: Detector, *args: Any, **kwargs: Any) -> None:
        orig_detector_update(self, *args, **kwargs)
        self.updated_at = datetime.datetime.now()

    def delete_detector(self: GuardDutyBackend, detector_id: str) -> None:
        # AWS: deleting an unknown detector is a BadRequestException; findings go with it.
        if detector_id not in self.detectors:
            raise DetectorNotFoundException()
        orig_delete_detector(self, detector_id)
        self.__dict__.get("_logpipe_findings", {}).pop(detector_id, None)

    def r_create_sample_findings(self: GuardDutyResponse) -> ActionResult:
        params = request_params(self)
        create_sample_findings(self.guardduty_backend, params["DetectorId"], params.get("FindingTypes"))
        return EmptyResult()

    def r_list_findings(self: GuardDutyResponse) -> ActionResult:
        params = request_params(self)
        ids, token = list_findings(
            self.guardduty_backend,
            params["DetectorId"],
            params.get("FindingCriteria"),
            params.get("MaxResults"),
            params.get("NextToken"),
        )
        result: dict[str, Any] = {"FindingIds": ids}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def r_get_findings(self: GuardDutyResponse) -> ActionResult:
        params = request_params(self)
        findings = get_findings(self.guardduty_backend, params["DetectorId"], params.get("FindingIds") or [])
        return ActionResult({"Findings": findings})

    def _arn(response: GuardDutyResponse) -> str:
        return unquote(response.path.split("/tags/", 1)[1])

    def r_list_tags_for_resource(self: GuardDutyResponse) -> ActionResult:
        _, detector = _detector_for_arn(_arn(self))
        return ActionResult({"Tags": dict(detector.tags)})

    def r_tag_resource(self: GuardDutyResponse) -> ActionResult:
        params = request_params(self)
        _, detector = _detector_for_arn(_arn(self))
        detector.tags = {**detector.tags, **(params.get("Tags") or {})}
        return EmptyResult()

    def r_untag_resource(self: GuardDutyResponse) -> ActionResult:
        params = request_params(self)
        _, detector = _detector_for_arn(_arn(self))
        for key in params.get("TagKeys") or []:
            detector.tags.pop(key, None)
        return EmptyResult()

    add_url_paths(
        guardduty_urls,
        {
            "{0}/detector/(?P<detector_id>[^/]+)/findings$": GuardDutyResponse.dispatch,
            "{0}/detector/(?P<detector_id>[^/]+)/findings/create$": GuardDutyResponse.dispatch,
            "{0}/detector/(?P<detector_id>[^/]+)/findings/get$": GuardDutyResponse.dispatch,
            "{0}/tags/(?P<resource_arn>.+)$": GuardDutyResponse.dispatch,
        },
    )
    patch(Detector, "update", detector_update)
    patch(GuardDutyBackend, "delete_detector", delete_detector)
    patch(GuardDutyBackend, "create_sample_findings", create_sample_findings)
    patch(GuardDutyBackend, "list_findings", list_findings)
    patch(GuardDutyBackend, "get_findings", get_findings)
    patch(GuardDutyResponse, "create_sample_findings", r_create_sample_findings)
    patch(GuardDutyResponse, "list_findings", r_list_findings)
    patch(GuardDutyResponse, "get_findings", r_get_findings)
    patch(GuardDutyResponse, "list_tags_for_resource", r_list_tags_for_resource)
    patch(GuardDutyResponse, "tag_resource", r_tag_resource)
    patch(GuardDutyResponse, "untag_resource", r_untag_resource)
