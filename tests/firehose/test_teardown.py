"""Teardown of dns, waf and flowlog: exactly what `up` created goes; the lab's resources stay."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import REGION
from tests.firehose.support import (
    BUCKET,
    FLOWLOG_FUNCTION,
    QUERY_LOG_CONFIG,
    ROLES,
    STREAMS,
    WAF_FUNCTION,
    client,
    created,
    flow_logs,
    function_exists,
    log_group_names,
    query_log_associations,
    query_log_configs,
    role_exists,
    stream,
    teardown,
    up,
    waf_logging,
    web_acl_arn,
)

TARGETS = ("dns", "waf", "flowlog")


def test_teardown_removes_exactly_what_up_created(lab: dict[str, Any], make_run: Any) -> None:
    acl = web_acl_arn()
    made = created(up(make_run(), TARGETS))

    items = teardown(make_run(), TARGETS)
    deleted = {k for k, i in items.items() if i.result == "deleted"}
    assert deleted <= made, deleted - made
    # What was made and is not deleted is only what another pipeline (cloudtrail) still declares.
    for key in made - deleted:
        assert "another pipeline" in items[key].note, (key, items[key].action, items[key].note)
    assert not [i for i in items.values() if i.result == "failed"]

    for name in STREAMS.values():
        assert stream(name) is None
    for role in ROLES.values():
        assert not role_exists(role)
    assert not function_exists(WAF_FUNCTION) and not function_exists(FLOWLOG_FUNCTION)
    assert log_group_names("/aws/kinesisfirehose/") == []
    assert [c for c in query_log_configs() if c["Name"] == QUERY_LOG_CONFIG] == []
    assert query_log_associations() == []
    assert flow_logs(lab["vpc_id"]) == []
    assert waf_logging(acl) is None

    # The lab's own resources are left as they were.
    assert client("ec2").describe_vpcs(VpcIds=[lab["vpc_id"]])["Vpcs"]
    assert web_acl_arn() == acl
    assert client("opensearch").describe_domain(DomainName="demogo-opensearch")["DomainStatus"]["ARN"]

    again = make_run()
    items = teardown(again, TARGETS)
    assert not [k for k, i in items.items() if i.action == "delete"]
    assert again.counter.summary()["write"] == 0


def test_pre_existing_backup_bucket_is_used_and_kept(lab: dict[str, Any], make_run: Any) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="theirs.txt", Body=b"keep me")

    up(make_run(), ("dns",))
    destination = stream(STREAMS["dns"])["Destinations"][0]["AmazonopensearchserviceDestinationDescription"]
    assert destination["S3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{BUCKET}"

    items = teardown(make_run(), ("dns",))
    assert items[f"s3-bucket:{BUCKET}"].action == "keep"
    assert s3.get_object(Bucket=BUCKET, Key="theirs.txt")["Body"].read() == b"keep me"
    # Used as it is: logpipe neither tagged it nor changed it.
    assert _tags(s3, BUCKET) == {}
    assert stream(STREAMS["dns"]) is None


def test_teardown_finishes_from_a_partial_state(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("dns",))
    # Half of it is already gone (a teardown interrupted, or removed by hand).
    resolver = client("route53resolver")
    (config,) = [c for c in query_log_configs() if c["Name"] == QUERY_LOG_CONFIG]
    resolver.disassociate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=lab["vpc_id"])
    client("firehose").delete_delivery_stream(DeliveryStreamName=STREAMS["dns"])

    items = teardown(make_run(), ("dns",))
    assert items[f"resolver-query-log-association:{QUERY_LOG_CONFIG}"].action == "absent"
    assert items[f"resolver-query-log-config:{QUERY_LOG_CONFIG}"].result == "deleted"
    assert items[f"iam-role:{ROLES['dns']}"].result == "deleted"
    assert not [i for i in items.values() if i.result == "failed"]
    assert query_log_configs() == []
    assert not role_exists(ROLES["dns"])


def _tags(s3: Any, bucket: str) -> dict[str, str]:
    try:
        return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchTagSet"
        return {}
