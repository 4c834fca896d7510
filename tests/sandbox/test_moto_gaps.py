"""logpipe.sandbox.moto_gaps: each test asserts real AWS behaviour that plain moto 5.2.5 lacks
(unless marked as a regression guard), with boto3 against ``mock_aws``; one test runs the same
calls through ``ThreadedMotoServer``."""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from logpipe.sandbox import moto_gaps
from logpipe.sandbox.moto_gaps.guardduty import FINDING_TYPES

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/logpipe-firehose"
DOMAIN_ARN = f"arn:aws:es:{REGION}:{ACCOUNT}:domain/demogo-opensearch"
BUCKET = "demogo-kdf-backup"
FSBP = f"arn:aws:securityhub:{REGION}::standards/aws-foundational-security-best-practices/v/1.0.0"
CIS_120 = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0"
GUARDDUTY_PRODUCT = f"arn:aws:securityhub:{REGION}::product/aws/guardduty"
CONFIG_PRODUCT = f"arn:aws:securityhub:{REGION}::product/aws/config"


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_gaps.install()
    moto_gaps.clear_deliveries()
    with mock_aws():
        yield


def client(service: str, **kwargs: Any) -> Any:
    return boto3.client(service, region_name=REGION, **kwargs)


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def backup_bucket() -> str:
    client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return f"arn:aws:s3:::{BUCKET}"


def opensearch_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "RoleARN": ROLE,
        "DomainARN": DOMAIN_ARN,
        "IndexName": "dns-log",
        "S3BackupMode": "FailedDocumentsOnly",
        "S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}"},
    }
    config.update(overrides)
    return config


def lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def make_function(name: str) -> str:
    role = client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return str(
        client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": lambda_zip()},
        )["FunctionArn"]
    )


# --- 1. Firehose: Amazon OpenSearch Service destinations -----------------------------------------


def test_firehose_opensearch_destination_is_created_and_described() -> None:
    backup_bucket()
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    processor = {
        "Enabled": True,
        "Processors": [
            {
                "Type": "Lambda",
                "Parameters": [
                    {"ParameterName": "LambdaArn", "ParameterValue": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:t"}
                ],
            }
        ],
    }
    firehose = client("firehose")
    arn = firehose.create_delivery_stream(
        DeliveryStreamName="demogo-dns",
        DeliveryStreamType="DirectPut",
        AmazonopensearchserviceDestinationConfiguration=opensearch_config(
            IndexRotationPeriod="OneDay",
            BufferingHints={"IntervalInSeconds": 60, "SizeInMBs": 1},
            RetryOptions={"DurationInSeconds": 120},
            ProcessingConfiguration=processor,
            CloudWatchLoggingOptions={"Enabled": True, "LogGroupName": "/aws/kinesisfirehose/demogo-dns"},
            DocumentIdOptions={"DefaultDocumentIdFormat": "FIREHOSE_DEFAULT"},
            VpcConfiguration={"SubnetIds": [subnet_id], "RoleARN": ROLE, "SecurityGroupIds": ["sg-12345678"]},
        ),
        Tags=[{"Key": "logpipe:stack", "Value": "demogo"}],
    )["DeliveryStreamARN"]
    assert arn == f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/demogo-dns"

    description = firehose.describe_delivery_stream(DeliveryStreamName="demogo-dns")["DeliveryStreamDescription"]
    assert description["DeliveryStreamStatus"] == "ACTIVE"
    assert description["VersionId"] == "1"
    (destination,) = description["Destinations"]
    assert destination["DestinationId"] == "destinationId-000000000001"
    os_dest = destination["AmazonopensearchserviceDestinationDescription"]
    assert os_dest["RoleARN"] == ROLE
    assert os_dest["DomainARN"] == DOMAIN_ARN
    assert "ClusterEndpoint" not in os_dest
    assert os_dest["IndexName"] == "dns-log"
    assert os_dest["IndexRotationPeriod"] == "OneDay"
    assert os_dest["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
    assert os_dest["RetryOptions"] == {"DurationInSeconds": 120}
    assert os_dest["S3BackupMode"] == "FailedDocumentsOnly"
    assert os_dest["S3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{BUCKET}"
    assert os_dest["S3DestinationDescription"]["RoleARN"] == ROLE
    assert os_dest["S3DestinationDescription"]["CompressionFormat"] == "UNCOMPRESSED"
    assert os_dest["ProcessingConfiguration"] == processor
    assert os_dest["CloudWatchLoggingOptions"]["Enabled"] is True
    assert os_dest["DocumentIdOptions"] == {"DefaultDocumentIdFormat": "FIREHOSE_DEFAULT"}
    assert os_dest["VpcConfigurationDescription"] == {
        "SubnetIds": [subnet_id],
        "RoleARN": ROLE,
        "SecurityGroupIds": ["sg-12345678"],
        "VpcId": vpc_id,
    }
    tags = firehose.list_tags_for_delivery_stream(DeliveryStreamName="demogo-dns")["Tags"]
    assert tags == [{"Key": "logpipe:stack", "Value": "demogo"}]


def test_firehose_opensearch_cluster_endpoint_and_aws_defaults() -> None:
    firehose = client("firehose")
    config = opensearch_config(ClusterEndpoint="https://search-x.ap-northeast-2.es.amazonaws.com")
    del config["DomainARN"]
    firehose.create_delivery_stream(
        DeliveryStreamName="by-endpoint", AmazonopensearchserviceDestinationConfiguration=config
    )
    os_dest = firehose.describe_delivery_stream(DeliveryStreamName="by-endpoint")["DeliveryStreamDescription"][
        "Destinations"
    ][0]["AmazonopensearchserviceDestinationDescription"]
    assert os_dest["ClusterEndpoint"] == "https://search-x.ap-northeast-2.es.amazonaws.com"
    assert "DomainARN" not in os_dest
    assert os_dest["IndexRotationPeriod"] == "OneDay"
    assert os_dest["BufferingHints"] == {"IntervalInSeconds": 300, "SizeInMBs": 5}
    assert os_dest["RetryOptions"] == {"DurationInSeconds": 300}

    with pytest.raises(ClientError) as both:
        firehose.create_delivery_stream(
            DeliveryStreamName="both",
            AmazonopensearchserviceDestinationConfiguration={**config, "DomainARN": DOMAIN_ARN},
        )
    assert error_code(both) == "InvalidArgumentException"
    with pytest.raises(ClientError) as two_destinations:
        firehose.create_delivery_stream(
            DeliveryStreamName="two",
            AmazonopensearchserviceDestinationConfiguration=opensearch_config(),
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}"},
        )
    assert error_code(two_destinations) == "InvalidArgumentException"
    with pytest.raises(ClientError) as duplicate:
        firehose.create_delivery_stream(
            DeliveryStreamName="by-endpoint", AmazonopensearchserviceDestinationConfiguration=config
        )
    assert error_code(duplicate) == "ResourceInUseException"


def test_firehose_opensearch_update_destination_versions() -> None:
    firehose = client("firehose")
    firehose.create_delivery_stream(
        DeliveryStreamName="demogo-dns", AmazonopensearchserviceDestinationConfiguration=opensearch_config()
    )
    before = firehose.describe_delivery_stream(DeliveryStreamName="demogo-dns")["DeliveryStreamDescription"]
    destination_id = before["Destinations"][0]["DestinationId"]

    firehose.update_destination(
        DeliveryStreamName="demogo-dns",
        CurrentDeliveryStreamVersionId=before["VersionId"],
        DestinationId=destination_id,
        AmazonopensearchserviceDestinationUpdate={
            "IndexName": "dns-log-v2",
            "IndexRotationPeriod": "OneHour",
            "S3Update": {"Prefix": "failed/"},
        },
    )
    after = firehose.describe_delivery_stream(DeliveryStreamName="demogo-dns")["DeliveryStreamDescription"]
    assert after["VersionId"] == "2"
    os_dest = after["Destinations"][0]["AmazonopensearchserviceDestinationDescription"]
    assert os_dest["IndexName"] == "dns-log-v2"
    assert os_dest["IndexRotationPeriod"] == "OneHour"
    assert os_dest["DomainARN"] == DOMAIN_ARN
    assert os_dest["S3DestinationDescription"]["Prefix"] == "failed/"
    assert os_dest["S3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{BUCKET}"
    assert os_dest["S3BackupMode"] == "FailedDocumentsOnly"

    with pytest.raises(ClientError) as stale:
        firehose.update_destination(
            DeliveryStreamName="demogo-dns",
            CurrentDeliveryStreamVersionId="1",
            DestinationId=destination_id,
            AmazonopensearchserviceDestinationUpdate={"IndexName": "other"},
        )
    assert error_code(stale) == "ConcurrentModificationException"
    with pytest.raises(ClientError) as switch:
        firehose.update_destination(
            DeliveryStreamName="demogo-dns",
            CurrentDeliveryStreamVersionId="2",
            DestinationId=destination_id,
            ExtendedS3DestinationUpdate={"BucketARN": f"arn:aws:s3:::{BUCKET}"},
        )
    assert error_code(switch) == "InvalidArgumentException"
    with pytest.raises(ClientError) as missing:
        firehose.update_destination(
            DeliveryStreamName="nope",
            CurrentDeliveryStreamVersionId="1",
            DestinationId=destination_id,
            AmazonopensearchserviceDestinationUpdate={"IndexName": "x"},
        )
    assert error_code(missing) == "ResourceNotFoundException"
    assert (
        firehose.describe_delivery_stream(DeliveryStreamName="demogo-dns")["DeliveryStreamDescription"]["VersionId"]
        == "2"
    )


def test_firehose_opensearch_stream_tags_and_delete() -> None:
    firehose = client("firehose")
    firehose.create_delivery_stream(
        DeliveryStreamName="demogo-dns", AmazonopensearchserviceDestinationConfiguration=opensearch_config()
    )
    firehose.tag_delivery_stream(
        DeliveryStreamName="demogo-dns",
        Tags=[{"Key": "logpipe:stack", "Value": "demogo"}, {"Key": "managed-by", "Value": "logpipe"}],
    )
    tags = firehose.list_tags_for_delivery_stream(DeliveryStreamName="demogo-dns")["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"logpipe:stack": "demogo", "managed-by": "logpipe"}

    firehose.delete_delivery_stream(DeliveryStreamName="demogo-dns")
    with pytest.raises(ClientError) as gone:
        firehose.describe_delivery_stream(DeliveryStreamName="demogo-dns")
    assert error_code(gone) == "ResourceNotFoundException"
    assert firehose.list_delivery_streams()["DeliveryStreamNames"] == []


def test_firehose_put_records_to_opensearch_destination_are_published() -> None:
    firehose = client("firehose")
    arn = firehose.create_delivery_stream(
        DeliveryStreamName="demogo-dns", AmazonopensearchserviceDestinationConfiguration=opensearch_config()
    )["DeliveryStreamARN"]
    result = firehose.put_record_batch(
        DeliveryStreamName="demogo-dns", Records=[{"Data": b'{"a":1}\n'}, {"Data": b'{"a":2}\n'}]
    )
    assert result["FailedPutCount"] == 0
    assert len(result["RequestResponses"]) == 2
    assert all(r["RecordId"] for r in result["RequestResponses"])
    (delivery,) = moto_gaps.recent_deliveries(arn)
    assert delivery.payloads == (b'{"a":1}\n', b'{"a":2}\n')
    assert delivery.origin == "firehose:PutRecordBatch"
    assert "AmazonopensearchserviceDestinationDescription" in delivery.destination


# --- 2. Validation AWS enforces -----------------------------------------------------------------


def test_firehose_destination_without_role_arn_is_rejected() -> None:
    # boto3 checks RoleARN client-side; turn that off to reach the service like other SDKs can.
    raw = client("firehose", config=Config(parameter_validation=False))
    config = opensearch_config()
    del config["RoleARN"]
    with pytest.raises(ClientError) as no_role:
        raw.create_delivery_stream(DeliveryStreamName="no-role", AmazonopensearchserviceDestinationConfiguration=config)
    assert error_code(no_role) == "InvalidArgumentException"
    assert "roleARN" in no_role.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as no_s3_role:
        raw.create_delivery_stream(
            DeliveryStreamName="no-role-s3",
            ExtendedS3DestinationConfiguration={"BucketARN": f"arn:aws:s3:::{BUCKET}"},
        )
    assert error_code(no_s3_role) == "InvalidArgumentException"
    assert raw.list_delivery_streams()["DeliveryStreamNames"] == []


def _web_acl() -> str:
    return str(
        client("wafv2").create_web_acl(
            Name="demogo-webacl",
            Scope="REGIONAL",
            DefaultAction={"Allow": {}},
            VisibilityConfig={"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"},
        )["Summary"]["ARN"]
    )


def test_waf_logging_destination_needs_aws_waf_logs_prefix() -> None:
    backup_bucket()
    firehose = client("firehose")
    s3_config = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}"}
    wrong = firehose.create_delivery_stream(
        DeliveryStreamName="demogo-waf", ExtendedS3DestinationConfiguration=s3_config
    )
    right = firehose.create_delivery_stream(
        DeliveryStreamName="aws-waf-logs-demogo", ExtendedS3DestinationConfiguration=s3_config
    )
    acl_arn = _web_acl()
    waf = client("wafv2")

    with pytest.raises(ClientError) as rejected:
        waf.put_logging_configuration(
            LoggingConfiguration={"ResourceArn": acl_arn, "LogDestinationConfigs": [wrong["DeliveryStreamARN"]]}
        )
    assert error_code(rejected) == "WAFInvalidParameterException"
    assert "LOG_DESTINATION" in rejected.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as not_set:
        waf.get_logging_configuration(ResourceArn=acl_arn)
    assert error_code(not_set) == "WAFNonexistentItemException"

    waf.put_logging_configuration(
        LoggingConfiguration={"ResourceArn": acl_arn, "LogDestinationConfigs": [right["DeliveryStreamARN"]]}
    )
    stored = waf.get_logging_configuration(ResourceArn=acl_arn)["LoggingConfiguration"]
    assert stored["LogDestinationConfigs"] == [right["DeliveryStreamARN"]]


def test_waf_logging_on_unknown_web_acl_is_rejected() -> None:
    missing_acl = f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/nope/11111111-2222-3333-4444-555555555555"
    destination = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/aws-waf-logs-demogo"
    with pytest.raises(ClientError) as exc:
        client("wafv2").put_logging_configuration(
            LoggingConfiguration={"ResourceArn": missing_acl, "LogDestinationConfigs": [destination]}
        )
    assert error_code(exc) == "WAFNonexistentItemException"


def test_subscription_filter_to_lambda_needs_logs_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction

    def no_docker(*_: Any, **__: Any) -> Any:
        raise AssertionError("a Lambda function must not be run (Docker)")

    monkeypatch.setattr(LambdaFunction, "invoke", no_docker)
    function_arn = make_function("demogo-cwl-indexer")
    logs = client("logs")
    logs.create_log_group(logGroupName="demogo-cloudtrail")
    logs.create_log_stream(logGroupName="demogo-cloudtrail", logStreamName="s")

    with pytest.raises(ClientError) as denied:
        logs.put_subscription_filter(
            logGroupName="demogo-cloudtrail",
            filterName="demogo-cloudtrail",
            filterPattern="",
            destinationArn=function_arn,
        )
    assert error_code(denied) == "InvalidParameterException"
    assert denied.value.response["Error"]["Message"] == (
        "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute "
        "your function."
    )

    lam = client("lambda")
    lam.add_permission(
        FunctionName="demogo-cwl-indexer",
        StatementId="other-group",
        Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
        SourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:another-group:*",
    )
    with pytest.raises(ClientError) as wrong_group:
        logs.put_subscription_filter(
            logGroupName="demogo-cloudtrail",
            filterName="demogo-cloudtrail",
            filterPattern="",
            destinationArn=function_arn,
        )
    assert error_code(wrong_group) == "InvalidParameterException"

    lam.add_permission(
        FunctionName="demogo-cwl-indexer",
        StatementId="cloudtrail-group",
        Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
        SourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:demogo-cloudtrail:*",
        SourceAccount=ACCOUNT,
    )
    logs.put_subscription_filter(
        logGroupName="demogo-cloudtrail", filterName="demogo-cloudtrail", filterPattern="", destinationArn=function_arn
    )
    (subscription,) = logs.describe_subscription_filters(logGroupName="demogo-cloudtrail")["subscriptionFilters"]
    assert subscription["destinationArn"] == function_arn

    logs.put_log_events(
        logGroupName="demogo-cloudtrail",
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": '{"eventName":"ListBuckets"}'}],
    )
    (delivery,) = moto_gaps.recent_deliveries(function_arn)
    event = json.loads(delivery.payloads[0])
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert payload["logGroup"] == "demogo-cloudtrail"
    assert payload["subscriptionFilters"] == ["demogo-cloudtrail"]
    assert payload["logEvents"][0]["message"] == '{"eventName":"ListBuckets"}'


# --- 3. Route 53 Resolver query-log configs ------------------------------------------------------


def test_resolver_query_log_config_disassociate_and_delete() -> None:
    vpc_id = client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    resolver = client("route53resolver")
    config = resolver.create_resolver_query_log_config(
        Name="demogo-dns",
        DestinationArn=f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/demogo-dns",
        CreatorRequestId="demogo-dns",
        Tags=[{"Key": "logpipe:stack", "Value": "demogo"}],
    )["ResolverQueryLogConfig"]
    assert resolver.list_tags_for_resource(ResourceArn=config["Arn"])["Tags"] == [
        {"Key": "logpipe:stack", "Value": "demogo"}
    ]
    resolver.tag_resource(ResourceArn=config["Arn"], Tags=[{"Key": "managed-by", "Value": "logpipe"}])
    assert len(resolver.list_tags_for_resource(ResourceArn=config["Arn"])["Tags"]) == 2

    resolver.associate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id)
    assert (
        resolver.get_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])["ResolverQueryLogConfig"][
            "AssociationCount"
        ]
        == 1
    )
    with pytest.raises(ClientError) as in_use:
        resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])
    assert error_code(in_use) == "InvalidRequestException"

    gone = resolver.disassociate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id)
    association = gone["ResolverQueryLogConfigAssociation"]
    assert association["Status"] == "DELETING"
    assert association["ResourceId"] == vpc_id
    assert resolver.list_resolver_query_log_config_associations()["ResolverQueryLogConfigAssociations"] == []
    assert (
        resolver.get_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])["ResolverQueryLogConfig"][
            "AssociationCount"
        ]
        == 0
    )
    with pytest.raises(ClientError) as twice:
        resolver.disassociate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id)
    assert error_code(twice) == "ResourceNotFoundException"

    deleted = resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])["ResolverQueryLogConfig"]
    assert deleted["Id"] == config["Id"]
    assert deleted["Status"] == "DELETING"
    with pytest.raises(ClientError) as not_found:
        resolver.get_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])
    assert error_code(not_found) == "ResourceNotFoundException"
    assert resolver.list_resolver_query_log_configs()["ResolverQueryLogConfigs"] == []
    with pytest.raises(ClientError) as delete_again:
        resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])
    assert error_code(delete_again) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as unknown:
        resolver.disassociate_resolver_query_log_config(
            ResolverQueryLogConfigId="rslvr-qlc-0000000000000000", ResourceId=vpc_id
        )
    assert error_code(unknown) == "ResourceNotFoundException"


# --- 4. GuardDuty ----------------------------------------------------------------------------------


def test_guardduty_sample_findings_of_every_type_when_none_requested() -> None:
    guardduty = client("guardduty")
    detector_id = guardduty.create_detector(Enable=True)["DetectorId"]
    guardduty.create_sample_findings(DetectorId=detector_id, FindingTypes=[])

    finding_ids = [
        fid
        for page in guardduty.get_paginator("list_findings").paginate(DetectorId=detector_id)
        for fid in page["FindingIds"]
    ]
    assert len(finding_ids) == len(set(finding_ids)) == len(FINDING_TYPES)
    findings = guardduty.get_findings(DetectorId=detector_id, FindingIds=finding_ids[:50])["Findings"]
    assert len(findings) == 50
    assert {f["Type"] for f in findings} <= set(FINDING_TYPES)
    finding = findings[0]
    assert finding["Id"] == finding_ids[0]
    assert finding["Arn"] == f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/{detector_id}/finding/{finding['Id']}"
    assert finding["AccountId"] == ACCOUNT
    assert finding["Region"] == REGION
    assert isinstance(finding["Severity"], float)
    assert finding["CreatedAt"].endswith("Z") and finding["UpdatedAt"].endswith("Z")
    assert finding["SchemaVersion"] == "2.0"
    assert finding["Resource"]["ResourceType"]
    assert finding["Service"]["DetectorId"] == detector_id
    assert finding["Service"]["Archived"] is False
    assert json.loads(finding["Service"]["AdditionalInfo"]["Value"]) == {"sample": True}


def test_guardduty_sample_findings_of_requested_types_and_errors() -> None:
    guardduty = client("guardduty")
    detector_id = guardduty.create_detector(Enable=True)["DetectorId"]
    wanted = ["Recon:EC2/PortProbeUnprotectedPort", "UnauthorizedAccess:IAMUser/MaliciousIPCaller"]
    guardduty.create_sample_findings(DetectorId=detector_id, FindingTypes=wanted)
    ids = guardduty.list_findings(DetectorId=detector_id)["FindingIds"]
    findings = guardduty.get_findings(DetectorId=detector_id, FindingIds=ids)["Findings"]
    assert sorted(f["Type"] for f in findings) == sorted(wanted)

    only_recon = guardduty.list_findings(
        DetectorId=detector_id,
        FindingCriteria={"Criterion": {"type": {"Eq": ["Recon:EC2/PortProbeUnprotectedPort"]}}},
    )["FindingIds"]
    assert len(only_recon) == 1
    assert guardduty.get_findings(DetectorId=detector_id, FindingIds=["0" * 32])["Findings"] == []

    with pytest.raises(ClientError) as bad_type:
        guardduty.create_sample_findings(DetectorId=detector_id, FindingTypes=["Not:A/Type"])
    assert error_code(bad_type) == "BadRequestException"
    with pytest.raises(ClientError) as bad_detector:
        guardduty.create_sample_findings(DetectorId="0" * 32, FindingTypes=[])
    assert error_code(bad_detector) == "BadRequestException"


def test_guardduty_detector_frequency_round_trip_and_tags() -> None:
    guardduty = client("guardduty")
    detector_id = guardduty.create_detector(
        Enable=True, FindingPublishingFrequency="SIX_HOURS", Tags={"logpipe:stack": "demogo"}
    )["DetectorId"]
    guardduty.update_detector(DetectorId=detector_id, FindingPublishingFrequency="FIFTEEN_MINUTES")
    detector = guardduty.get_detector(DetectorId=detector_id)
    assert detector["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    assert detector["Status"] == "ENABLED"
    assert detector["Tags"] == {"logpipe:stack": "demogo"}

    arn = f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/{detector_id}"
    assert guardduty.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"logpipe:stack": "demogo"}
    guardduty.tag_resource(ResourceArn=arn, Tags={"managed-by": "logpipe"})
    guardduty.untag_resource(ResourceArn=arn, TagKeys=["logpipe:stack"])
    assert guardduty.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"managed-by": "logpipe"}
    with pytest.raises(ClientError) as unknown:
        guardduty.list_tags_for_resource(ResourceArn=f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/{'0' * 32}")
    assert error_code(unknown) == "BadRequestException"


# --- 5. Security Hub -------------------------------------------------------------------------------


def test_securityhub_default_standards() -> None:
    securityhub = client("securityhub")
    securityhub.enable_security_hub(EnableDefaultStandards=True, Tags={"logpipe:stack": "demogo"})
    hub = securityhub.describe_hub()
    assert hub["HubArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default"
    assert hub["SubscribedAt"]

    described = {s["StandardsArn"]: s for s in securityhub.describe_standards()["Standards"]}
    assert described[FSBP]["EnabledByDefault"] is True
    assert described[FSBP]["Name"] == "AWS Foundational Security Best Practices v1.0.0"
    assert described[CIS_120]["EnabledByDefault"] is True

    enabled = securityhub.get_enabled_standards()["StandardsSubscriptions"]
    assert {s["StandardsArn"] for s in enabled} == {FSBP, CIS_120}
    assert {s["StandardsStatus"] for s in enabled} == {"READY"}
    assert {s["StandardsSubscriptionArn"] for s in enabled} == {
        f"arn:aws:securityhub:{REGION}:{ACCOUNT}:subscription/aws-foundational-security-best-practices/v/1.0.0",
        f"arn:aws:securityhub:{REGION}:{ACCOUNT}:subscription/cis-aws-foundations-benchmark/v/1.2.0",
    }
    with pytest.raises(ClientError) as again:
        securityhub.enable_security_hub(EnableDefaultStandards=True)
    assert error_code(again) == "ResourceConflictException"


def test_securityhub_batch_enable_and_disable_standards() -> None:
    securityhub = client("securityhub")
    with pytest.raises(ClientError) as not_subscribed:
        securityhub.get_enabled_standards()
    assert error_code(not_subscribed) == "InvalidAccessException"

    securityhub.enable_security_hub(EnableDefaultStandards=False)
    assert securityhub.get_enabled_standards()["StandardsSubscriptions"] == []
    (pending,) = securityhub.batch_enable_standards(StandardsSubscriptionRequests=[{"StandardsArn": FSBP}])[
        "StandardsSubscriptions"
    ]
    assert pending["StandardsArn"] == FSBP
    assert pending["StandardsStatus"] == "PENDING"
    (ready,) = securityhub.get_enabled_standards()["StandardsSubscriptions"]
    assert ready["StandardsStatus"] == "READY"
    assert ready["StandardsSubscriptionArn"] == pending["StandardsSubscriptionArn"]

    (deleting,) = securityhub.batch_disable_standards(StandardsSubscriptionArns=[pending["StandardsSubscriptionArn"]])[
        "StandardsSubscriptions"
    ]
    assert deleting["StandardsStatus"] == "DELETING"
    assert securityhub.get_enabled_standards()["StandardsSubscriptions"] == []

    with pytest.raises(ClientError) as bad_arn:
        securityhub.batch_enable_standards(
            StandardsSubscriptionRequests=[{"StandardsArn": f"arn:aws:securityhub:{REGION}::standards/nope/v/1"}]
        )
    assert error_code(bad_arn) == "InvalidInputException"


def test_securityhub_hub_tags_and_disable() -> None:
    securityhub = client("securityhub")
    securityhub.enable_security_hub(Tags={"logpipe:stack": "demogo"})
    hub_arn = securityhub.describe_hub()["HubArn"]
    assert securityhub.list_tags_for_resource(ResourceArn=hub_arn)["Tags"] == {"logpipe:stack": "demogo"}
    securityhub.tag_resource(ResourceArn=hub_arn, Tags={"managed-by": "logpipe"})
    securityhub.untag_resource(ResourceArn=hub_arn, TagKeys=["logpipe:stack"])
    assert securityhub.list_tags_for_resource(ResourceArn=hub_arn)["Tags"] == {"managed-by": "logpipe"}

    securityhub.disable_security_hub()
    with pytest.raises(ClientError) as off:
        securityhub.describe_hub()
    assert error_code(off) == "InvalidAccessException"
    with pytest.raises(ClientError) as no_hub:
        securityhub.list_tags_for_resource(ResourceArn=hub_arn)
    assert error_code(no_hub) == "ResourceNotFoundException"


# --- 6. EventBridge -------------------------------------------------------------------------------


def securityhub_event(product_arn: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "4b8a3c4a-1111-2222-3333-444444444444",
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": ACCOUNT,
        "time": "2024-01-01T00:00:00Z",
        "region": REGION,
        "resources": [f"{product_arn}/finding/1"],
        "detail": {"findings": [{"ProductArn": product_arn, "Id": "finding/1", "Types": ["TTPs/Discovery"]}]},
    }


def guardduty_pattern() -> dict[str, Any]:
    return {
        "source": ["aws.securityhub"],
        "detail-type": ["Security Hub Findings - Imported"],
        "detail": {"findings": {"ProductArn": [GUARDDUTY_PRODUCT]}},
    }


def test_event_pattern_looks_inside_arrays_of_objects() -> None:
    events = client("events")
    pattern = json.dumps(guardduty_pattern())
    match = events.test_event_pattern(EventPattern=pattern, Event=json.dumps(securityhub_event(GUARDDUTY_PRODUCT)))
    assert match["Result"] is True
    other = events.test_event_pattern(EventPattern=pattern, Event=json.dumps(securityhub_event(CONFIG_PRODUCT)))
    assert other["Result"] is False
    prefix = json.dumps({"detail": {"findings": {"Types": [{"prefix": "TTPs/"}]}}})
    assert events.test_event_pattern(EventPattern=prefix, Event=json.dumps(securityhub_event(CONFIG_PRODUCT)))["Result"]

    with pytest.raises(ClientError) as bad_pattern:
        events.test_event_pattern(EventPattern='{"source": "not-a-list"}', Event=json.dumps(securityhub_event(FSBP)))
    assert error_code(bad_pattern) == "InvalidEventPatternException"
    incomplete = securityhub_event(GUARDDUTY_PRODUCT)
    del incomplete["account"]
    with pytest.raises(ClientError) as bad_event:
        events.test_event_pattern(EventPattern=pattern, Event=json.dumps(incomplete))
    assert error_code(bad_event) == "ValidationException"


def test_event_pattern_reads_one_nested_pattern_from_one_array_element() -> None:
    events = client("events")
    pattern = json.dumps({"detail": {"findings": {"ProductArn": [GUARDDUTY_PRODUCT], "Id": ["finding/1"]}}})

    def result(findings: list[dict[str, Any]]) -> bool:
        event = {**securityhub_event(GUARDDUTY_PRODUCT), "detail": {"findings": findings}}
        return bool(events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"])

    assert result([{"ProductArn": CONFIG_PRODUCT, "Id": "x"}, {"ProductArn": GUARDDUTY_PRODUCT, "Id": "finding/1"}])
    # Both values are in the array, but not in one element: AWS does not match.
    assert not result([{"ProductArn": GUARDDUTY_PRODUCT, "Id": "x"}, {"ProductArn": CONFIG_PRODUCT, "Id": "finding/1"}])
    # $or, exists and the operators inside still work per element.
    either = {"detail": {"findings": {"$or": [{"Id": [{"prefix": "finding/"}]}, {"Gone": [{"exists": True}]}]}}}
    event = json.dumps(securityhub_event(CONFIG_PRODUCT))
    assert events.test_event_pattern(EventPattern=json.dumps(either), Event=event)["Result"] is True
    absent = {"detail": {"findings": {"Gone": [{"exists": False}]}, "nothing": {"here": [{"exists": False}]}}}
    assert events.test_event_pattern(EventPattern=json.dumps(absent), Event=event)["Result"] is True


def test_put_events_routes_by_wildcard_and_anything_but_wildcard() -> None:
    """A product rule on its ARN in any region and a catch-all on anything else: each event reaches
    one stream."""
    events = client("events")
    guardduty_any = "arn:aws:securityhub:*::product/aws/guardduty"
    findings = {"source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"]}
    routes = {
        "demogo-securityhub-guardduty": [{"wildcard": guardduty_any}],
        "demogo-securityhub-other": [{"anything-but": {"wildcard": [guardduty_any]}}],
    }
    backup_bucket()
    streams = {}
    for name, product_arn in routes.items():
        streams[name] = client("firehose").create_delivery_stream(
            DeliveryStreamName=name,
            AmazonopensearchserviceDestinationConfiguration=opensearch_config(IndexName=name),
        )["DeliveryStreamARN"]
        pattern = {**findings, "detail": {"findings": {"ProductArn": product_arn}}}
        events.put_rule(Name=name, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, Targets=[{"Id": "firehose", "Arn": streams[name], "RoleArn": ROLE}])

    def landed(product_arn: str) -> list[str]:
        moto_gaps.clear_deliveries()
        event = securityhub_event(product_arn)
        entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        return [name for name, arn in streams.items() if moto_gaps.recent_deliveries(arn)]

    assert landed(GUARDDUTY_PRODUCT) == ["demogo-securityhub-guardduty"]
    assert landed("arn:aws:securityhub:eu-west-1::product/aws/guardduty") == ["demogo-securityhub-guardduty"]
    assert landed(CONFIG_PRODUCT) == ["demogo-securityhub-other"]
    assert landed("arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default") == [
        "demogo-securityhub-other"
    ]


def _findings_stream(name: str) -> str:
    backup_bucket()
    return str(
        client("firehose").create_delivery_stream(
            DeliveryStreamName=name,
            AmazonopensearchserviceDestinationConfiguration=opensearch_config(
                IndexName="aws-securityhub-findings-logs"
            ),
        )["DeliveryStreamARN"]
    )


def test_put_events_delivers_to_firehose_target() -> None:
    stream_arn = _findings_stream("demogo-securityhub-guardduty")
    events = client("events")
    rule_arn = events.put_rule(Name="demogo-guardduty", EventPattern=json.dumps(guardduty_pattern()))["RuleArn"]
    events.put_targets(Rule="demogo-guardduty", Targets=[{"Id": "firehose", "Arn": stream_arn, "RoleArn": ROLE}])

    def put(product_arn: str) -> dict[str, Any]:
        event = securityhub_event(product_arn)
        return dict(
            events.put_events(
                Entries=[
                    {
                        "Source": "aws.securityhub",
                        "DetailType": "Security Hub Findings - Imported",
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event["resources"],
                    }
                ]
            )
        )

    assert put(CONFIG_PRODUCT)["FailedEntryCount"] == 0
    assert moto_gaps.recent_deliveries(stream_arn) == []
    assert put(GUARDDUTY_PRODUCT)["FailedEntryCount"] == 0
    (delivery,) = moto_gaps.recent_deliveries(stream_arn)
    assert delivery.origin == f"events:{rule_arn}"
    record = json.loads(delivery.payloads[0])
    assert record["source"] == "aws.securityhub"
    assert record["detail-type"] == "Security Hub Findings - Imported"
    assert record["detail"]["findings"][0]["ProductArn"] == GUARDDUTY_PRODUCT
    assert record["time"].endswith("Z")


def test_put_events_to_firehose_s3_stream_writes_the_event() -> None:
    backup_bucket()
    stream_arn = client("firehose").create_delivery_stream(
        DeliveryStreamName="demogo-events",
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}", "Prefix": "ev/"},
    )["DeliveryStreamARN"]
    events = client("events")
    events.put_rule(Name="everything-securityhub", EventPattern=json.dumps({"source": ["aws.securityhub"]}))
    events.put_targets(
        Rule="everything-securityhub",
        Targets=[{"Id": "firehose", "Arn": stream_arn, "RoleArn": ROLE, "InputPath": "$.detail"}],
    )
    result = events.put_events(
        Entries=[{"Source": "aws.securityhub", "DetailType": "Security Hub Findings - Imported", "Detail": '{"a": 1}'}]
    )
    assert result["FailedEntryCount"] == 0
    s3 = client("s3")
    (obj,) = s3.list_objects_v2(Bucket=BUCKET, Prefix="ev/")["Contents"]
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()) == {"a": 1}


def test_guardduty_sample_findings_flow_through_security_hub_to_eventbridge() -> None:
    stream_arn = _findings_stream("demogo-securityhub-guardduty")
    events = client("events")
    events.put_rule(Name="demogo-guardduty", EventPattern=json.dumps(guardduty_pattern()))
    events.put_targets(Rule="demogo-guardduty", Targets=[{"Id": "firehose", "Arn": stream_arn, "RoleArn": ROLE}])
    client("securityhub").enable_security_hub()
    guardduty = client("guardduty")
    detector_id = guardduty.create_detector(Enable=True)["DetectorId"]
    guardduty.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan"])

    (delivery,) = moto_gaps.recent_deliveries(stream_arn)
    (finding,) = json.loads(delivery.payloads[0])["detail"]["findings"]
    assert finding["ProductArn"] == GUARDDUTY_PRODUCT
    assert finding["Sample"] is True
    assert finding["CreatedAt"].endswith("Z")
    (imported,) = client("securityhub").get_findings()["Findings"]
    assert imported["Id"] == finding["Id"]


# --- 7. CloudTrail --------------------------------------------------------------------------------


def _trail(name: str = "demogo-trail") -> dict[str, Any]:
    bucket = "demogo-trail-logs"
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{name}"
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    cloudtrail = {"Service": "cloudtrail.amazonaws.com"}
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": cloudtrail,
                        "Action": "s3:GetBucketAcl",
                        "Resource": f"arn:aws:s3:::{bucket}",
                        "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
                    },
                    {
                        "Effect": "Allow",
                        "Principal": cloudtrail,
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*",
                        "Condition": {
                            "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
                        },
                    },
                ],
            }
        ),
    )
    return dict(
        client("cloudtrail").create_trail(
            Name=name,
            S3BucketName=bucket,
            IsMultiRegionTrail=True,
            TagsList=[{"Key": "logpipe:stack", "Value": "demogo"}],
        )
    )


def test_cloudtrail_delete_trail_by_arn() -> None:
    trail = _trail()
    cloudtrail = client("cloudtrail")
    cloudtrail.delete_trail(Name=trail["TrailARN"])
    assert cloudtrail.describe_trails()["trailList"] == []
    with pytest.raises(ClientError) as again:
        cloudtrail.delete_trail(Name=trail["TrailARN"])
    assert error_code(again) == "TrailNotFoundException"
    with pytest.raises(ClientError) as by_name:
        cloudtrail.delete_trail(Name="demogo-trail")
    assert error_code(by_name) == "TrailNotFoundException"


def test_cloudtrail_logging_selectors_and_tags() -> None:
    trail = _trail()
    cloudtrail = client("cloudtrail")
    assert cloudtrail.get_event_selectors(TrailName="demogo-trail")["EventSelectors"] == [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [],
            "ExcludeManagementEventSources": [],
        }
    ]
    cloudtrail.start_logging(Name="demogo-trail")
    assert cloudtrail.get_trail_status(Name=trail["TrailARN"])["IsLogging"] is True
    advanced = [
        {"Name": "Management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
        {
            "Name": "S3 data events",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        },
    ]
    cloudtrail.put_event_selectors(TrailName="demogo-trail", AdvancedEventSelectors=advanced)
    selectors = cloudtrail.get_event_selectors(TrailName=trail["TrailARN"])
    assert selectors["AdvancedEventSelectors"] == advanced
    assert "EventSelectors" not in selectors
    tags = cloudtrail.list_tags(ResourceIdList=[trail["TrailARN"]])["ResourceTagList"]
    assert tags == [{"ResourceId": trail["TrailARN"], "TagsList": [{"Key": "logpipe:stack", "Value": "demogo"}]}]


# --- 8. Resource Groups Tagging API ----------------------------------------------------------------


def test_tagging_api_returns_trails_rules_detectors_domains() -> None:
    stack = [{"Key": "logpipe:stack", "Value": "demogo"}]
    trail_arn = _trail()["TrailARN"]
    rule_arn = client("events").put_rule(
        Name="demogo-guardduty", EventPattern=json.dumps(guardduty_pattern()), Tags=stack
    )["RuleArn"]
    detector_id = client("guardduty").create_detector(Enable=True, Tags={"logpipe:stack": "demogo"})["DetectorId"]
    domain_arn = client("opensearch").create_domain(DomainName="demogo-opensearch", TagList=stack)["DomainStatus"][
        "ARN"
    ]
    client("iam").create_role(RoleName="demogo-role", AssumeRolePolicyDocument="{}", Tags=stack)

    tagging = client("resourcegroupstaggingapi")
    found = {
        r["ResourceARN"]
        for r in tagging.get_resources(TagFilters=[{"Key": "logpipe:stack", "Values": ["demogo"]}])[
            "ResourceTagMappingList"
        ]
    }
    assert {
        trail_arn,
        rule_arn,
        f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/{detector_id}",
        domain_arn,
    } <= found
    # AWS: "The GetResources operation does not currently support IAM users and roles."
    assert not any(":iam::" in arn for arn in found)
    only_trails = tagging.get_resources(ResourceTypeFilters=["cloudtrail:trail"])["ResourceTagMappingList"]
    assert [r["ResourceARN"] for r in only_trails] == [trail_arn]
    assert "logpipe:stack" in tagging.get_tag_keys()["TagKeys"]


# --- 9. AWS Config (regression guard: works in moto 5.2.5) -------------------------------------------


def test_config_recorder_channel_and_managed_rules_round_trip() -> None:
    client("s3").create_bucket(Bucket="demogo-config", CreateBucketConfiguration={"LocationConstraint": REGION})
    config = client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": ROLE,
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "demogo-config"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    (status,) = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "s3-bucket-public-read-prohibited",
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_PUBLIC_READ_PROHIBITED"},
        }
    )
    (rule,) = config.describe_config_rules()["ConfigRules"]
    assert rule["Source"] == {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_PUBLIC_READ_PROHIBITED"}
    config.delete_config_rule(ConfigRuleName="s3-bucket-public-read-prohibited")
    assert config.describe_config_rules()["ConfigRules"] == []


# --- 10. OpenSearch Service ----------------------------------------------------------------------------


def test_opensearch_domain_security_options_endpoint_and_policies() -> None:
    opensearch = client("opensearch")
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    arn = opensearch.create_domain(
        DomainName="demogo-opensearch",
        EngineVersion="OpenSearch_2.17",
        AccessPolicies=policy,
        AdvancedSecurityOptions={
            "Enabled": True,
            "InternalUserDatabaseEnabled": True,
            "MasterUserOptions": {"MasterUserName": "admin", "MasterUserPassword": "Passw0rd!"},
        },
    )["DomainStatus"]["ARN"]
    status = opensearch.describe_domain(DomainName="demogo-opensearch")["DomainStatus"]
    assert status["AdvancedSecurityOptions"] == {
        "Enabled": True,
        "InternalUserDatabaseEnabled": True,
        "AnonymousAuthEnabled": False,
    }
    assert status["EngineVersion"] == "OpenSearch_2.17"
    assert status["Endpoint"]
    assert json.loads(status["AccessPolicies"]) == json.loads(policy)

    moto_gaps.set_domain_endpoint("demogo-opensearch", "127.0.0.1:9200", region=REGION)
    assert opensearch.describe_domain(DomainName="demogo-opensearch")["DomainStatus"]["Endpoint"] == "127.0.0.1:9200"
    with pytest.raises(KeyError):
        moto_gaps.set_domain_endpoint("nope", "127.0.0.1:9200", region=REGION)

    wide_open = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:*", "Resource": f"{arn}/*"}],
        }
    )
    opensearch.update_domain_config(DomainName="demogo-opensearch", AccessPolicies=wide_open)
    config = opensearch.describe_domain_config(DomainName="demogo-opensearch")["DomainConfig"]
    assert json.loads(config["AccessPolicies"]["Options"]) == json.loads(wide_open)
    with pytest.raises(ClientError) as unknown:
        opensearch.update_domain_config(DomainName="nope", AccessPolicies=wide_open)
    assert error_code(unknown) == "ResourceNotFoundException"

    opensearch.add_tags(ARN=arn, TagList=[{"Key": "logpipe:stack", "Value": "demogo"}])
    assert opensearch.list_tags(ARN=arn)["TagList"] == [{"Key": "logpipe:stack", "Value": "demogo"}]


# --- The moto server path ------------------------------------------------------------------------------


@pytest.fixture
def moto_server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_threaded_moto_server_serves_the_patched_calls(moto_server: str) -> None:
    def remote(service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=moto_server,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    firehose = remote("firehose")
    firehose.create_delivery_stream(
        DeliveryStreamName="demogo-dns", AmazonopensearchserviceDestinationConfiguration=opensearch_config()
    )
    described = firehose.describe_delivery_stream(DeliveryStreamName="demogo-dns")["DeliveryStreamDescription"]
    assert described["Destinations"][0]["AmazonopensearchserviceDestinationDescription"]["IndexName"] == "dns-log"
    firehose.update_destination(
        DeliveryStreamName="demogo-dns",
        CurrentDeliveryStreamVersionId=described["VersionId"],
        DestinationId=described["Destinations"][0]["DestinationId"],
        AmazonopensearchserviceDestinationUpdate={"IndexName": "dns-log-v2"},
    )
    updated = firehose.describe_delivery_stream(DeliveryStreamName="demogo-dns")["DeliveryStreamDescription"]
    assert updated["VersionId"] == "2"
    assert updated["Destinations"][0]["AmazonopensearchserviceDestinationDescription"]["IndexName"] == "dns-log-v2"

    vpc_id = remote("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    resolver = remote("route53resolver")
    config_id = resolver.create_resolver_query_log_config(
        Name="demogo-dns", DestinationArn=updated["DeliveryStreamARN"], CreatorRequestId="server-test"
    )["ResolverQueryLogConfig"]["Id"]
    resolver.associate_resolver_query_log_config(ResolverQueryLogConfigId=config_id, ResourceId=vpc_id)
    with pytest.raises(ClientError) as in_use:
        resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config_id)
    assert error_code(in_use) == "InvalidRequestException"
    resolver.disassociate_resolver_query_log_config(ResolverQueryLogConfigId=config_id, ResourceId=vpc_id)
    deleted = resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config_id)
    assert deleted["ResolverQueryLogConfig"]["Status"] == "DELETING"

    guardduty = remote("guardduty")
    detector_id = guardduty.create_detector(Enable=True)["DetectorId"]
    guardduty.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan"])
    assert len(guardduty.list_findings(DetectorId=detector_id)["FindingIds"]) == 1


def test_calls_from_many_threads_at_once_are_answered_as_aws_would(moto: None) -> None:
    # logpipe works in parallel; moto's backends are dicts its actions iterate, so unguarded, a
    # GetRole walking the roles meets a CreateRole or DeleteRole of another thread mid-way.
    from concurrent.futures import ThreadPoolExecutor

    iam = boto3.client("iam", region_name=REGION)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    for i in range(300):  # a long walk for each GetRole
        iam.create_role(RoleName=f"steady-{i}", AssumeRolePolicyDocument=trust)

    def churn(i: int) -> None:
        iam.create_role(RoleName=f"churn-{i}", AssumeRolePolicyDocument=trust)
        iam.delete_role(RoleName=f"churn-{i}")

    def look(i: int) -> None:
        for _ in range(5):
            assert iam.get_role(RoleName=f"steady-{i % 40}")["Role"]["RoleName"] == f"steady-{i % 40}"

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(churn if i % 2 else look, i) for i in range(600)]
        errors = [f.exception() for f in futures if f.exception() is not None]
    assert errors == []
