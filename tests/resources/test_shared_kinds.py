"""Each shared resource kind against moto: create, no-op second pass, update in place, delete."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from logpipe.engine.model import Ref, Resource
from logpipe.errors import PreflightError
from logpipe.lambdas.package import build
from logpipe.resources.iam_role import IamRole, allow, policy_document, service_trust
from logpipe.resources.lambda_function import LambdaFunction
from logpipe.resources.lambda_permission import LambdaPermission
from logpipe.resources.log_group import LogGroup
from logpipe.resources.opensearch_domain import OpenSearchDomainRef
from logpipe.resources.s3_bucket import S3Bucket
from tests.conftest import REGION


def converge(run: Any, resources: list[Resource]) -> dict[str, Any]:
    items = run.engine.apply(run.engine.plan({"test": resources}))
    return {i.resource.key: i for i in items}


def writes(run: Any) -> int:
    return run.counter.summary()["write"]


@pytest.fixture
def run(lab: dict, make_run: Any) -> Any:
    return make_run()


def fresh(make_run: Any) -> Any:
    return make_run()


# S3 bucket ---------------------------------------------------------------------------
def bucket_policy(name: str) -> dict:
    return policy_document(
        {
            "Sid": "DenyInsecure",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": f"arn:aws:s3:::{name}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def test_s3_bucket_lifecycle(lab: dict, make_run: Any) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    run = make_run()
    items = converge(run, [S3Bucket("demogo-things", policy_document=bucket_policy("demogo-things"))])
    assert items["s3-bucket:demogo-things"].result == "created"
    assert s3.get_bucket_location(Bucket="demogo-things")["LocationConstraint"] == REGION
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="demogo-things")["TagSet"]}
    assert tags == {"logpipe:stack": "demogo", "managed-by": "logpipe"}
    assert json.loads(s3.get_bucket_policy(Bucket="demogo-things")["Policy"])["Statement"][0]["Sid"] == "DenyInsecure"
    assert s3.get_public_access_block(Bucket="demogo-things")["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]

    again = make_run()
    items = converge(again, [S3Bucket("demogo-things", policy_document=bucket_policy("demogo-things"))])
    assert items["s3-bucket:demogo-things"].action == "noop"
    assert writes(again) == 0

    s3.delete_bucket_policy(Bucket="demogo-things")
    repair = make_run()
    plan = {
        i.resource.key: i
        for i in repair.engine.plan({"t": [S3Bucket("demogo-things", policy_document=bucket_policy("demogo-things"))]})
    }
    assert set(plan["s3-bucket:demogo-things"].changes) == {"bucket_policy"}
    repair.engine.apply(list(plan.values()))
    assert "DenyInsecure" in s3.get_bucket_policy(Bucket="demogo-things")["Policy"]

    gone = make_run()
    gone.engine.teardown(gone.engine.plan_teardown({"t": [S3Bucket("demogo-things")]}))
    assert "demogo-things" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_non_empty_bucket_is_kept_unless_delete_data(lab: dict, make_run: Any) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    converge(make_run(), [S3Bucket("demogo-data")])
    s3.put_object(Bucket="demogo-data", Key="failed/1.json", Body=b"{}")
    run = make_run()
    items = {i.resource.key: i for i in run.engine.teardown(run.engine.plan_teardown({"t": [S3Bucket("demogo-data")]}))}
    assert items["s3-bucket:demogo-data"].result == "failed"
    assert "still holds 1 object" in items["s3-bucket:demogo-data"].error
    assert s3.head_bucket(Bucket="demogo-data")
    run = make_run()
    run.ctx.delete_data = True
    run.engine.teardown(run.engine.plan_teardown({"t": [S3Bucket("demogo-data")]}))
    assert "demogo-data" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_shared_bucket_existing_untagged_is_used_not_changed(lab: dict, make_run: Any) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="demogo-kdf-backup", CreateBucketConfiguration={"LocationConstraint": REGION})
    run = make_run()
    items = converge(run, [S3Bucket("demogo-kdf-backup", policy="shared")])
    assert items["s3-bucket:demogo-kdf-backup"].state == "external"
    assert writes(run) == 0
    run = make_run()
    items = {
        i.resource.key: i
        for i in run.engine.teardown(run.engine.plan_teardown({"t": [S3Bucket("demogo-kdf-backup", policy="shared")]}))
    }
    assert items["s3-bucket:demogo-kdf-backup"].action == "keep"
    assert s3.head_bucket(Bucket="demogo-kdf-backup")


# IAM role ----------------------------------------------------------------------------
def role(statement_resource: str = "arn:aws:s3:::demogo-x/*") -> IamRole:
    return IamRole(
        "demogo-test-role",
        trust=service_trust("lambda.amazonaws.com"),
        inline_policy=policy_document(allow("s3:PutObject", statement_resource)),
    )


def test_iam_role_lifecycle(lab: dict, make_run: Any) -> None:
    iam = boto3.client("iam", region_name=REGION)
    converge(make_run(), [role()])
    found = iam.get_role(RoleName="demogo-test-role")["Role"]
    assert found["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    inline = iam.get_role_policy(RoleName="demogo-test-role", PolicyName="logpipe")["PolicyDocument"]
    assert inline["Statement"][0]["Resource"] == ["arn:aws:s3:::demogo-x/*"]

    again = make_run()
    assert converge(again, [role()])["iam-role:demogo-test-role"].action == "noop"
    assert writes(again) == 0

    changed = make_run()
    item = converge(changed, [role("arn:aws:s3:::demogo-y/*")])["iam-role:demogo-test-role"]
    assert item.result == "updated" and set(item.changes) == {"inline_policy"}
    inline = iam.get_role_policy(RoleName="demogo-test-role", PolicyName="logpipe")["PolicyDocument"]
    assert inline["Statement"][0]["Resource"] == ["arn:aws:s3:::demogo-y/*"]

    gone = make_run()
    gone.engine.teardown(gone.engine.plan_teardown({"t": [role()]}))
    assert "demogo-test-role" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def test_untagged_role_under_logpipe_name_is_left_alone(lab: dict, make_run: Any) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(
        RoleName="demogo-test-role", AssumeRolePolicyDocument=json.dumps(service_trust("ec2.amazonaws.com"))
    )
    run = make_run()
    with pytest.raises(PreflightError, match="iam-role demogo-test-role: exists but was not created by logpipe"):
        run.engine.apply(run.engine.plan({"t": [role()]}))
    assert writes(run) == 0
    run = make_run()
    items = run.engine.teardown(run.engine.plan_teardown({"t": [role()]}))
    assert items[0].action == "keep"
    trust = iam.get_role(RoleName="demogo-test-role")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


# log group ---------------------------------------------------------------------------
def test_log_group_lifecycle(lab: dict, make_run: Any) -> None:
    logs = boto3.client("logs", region_name=REGION)
    converge(make_run(), [LogGroup("/logpipe/test", retention_days=30)])
    group = logs.describe_log_groups(logGroupNamePrefix="/logpipe/test")["logGroups"][0]
    assert group["retentionInDays"] == 30
    again = make_run()
    assert converge(again, [LogGroup("/logpipe/test", retention_days=30)])["log-group:/logpipe/test"].action == "noop"
    assert writes(again) == 0
    logs.put_retention_policy(logGroupName="/logpipe/test", retentionInDays=1)
    fix = make_run()
    item = converge(fix, [LogGroup("/logpipe/test", retention_days=30)])["log-group:/logpipe/test"]
    assert item.changes == {"retention_days": (1, 30)} and item.result == "updated"
    assert logs.describe_log_groups(logGroupNamePrefix="/logpipe/test")["logGroups"][0]["retentionInDays"] == 30
    gone = make_run()
    gone.engine.teardown(gone.engine.plan_teardown({"t": [LogGroup("/logpipe/test", retention_days=30)]}))
    assert logs.describe_log_groups(logGroupNamePrefix="/logpipe/test")["logGroups"] == []


# Lambda function and permission ------------------------------------------------------
def function_stack(memory: int = 256) -> list[Resource]:
    execution_role = role()
    function = LambdaFunction(
        "demogo-test-fn",
        module="package",
        role_arn=Ref(execution_role, "arn"),
        memory_mb=memory,
        environment={"INDEX_PREFIX": "cwl"},
    )
    permission = LambdaPermission(
        function,
        statement_id="logs",
        principal="logs.amazonaws.com",
        source_arn=f"arn:aws:logs:{REGION}:123456789012:log-group:/logpipe/test:*",
    )
    return [execution_role, function, permission]


def test_lambda_function_and_permission_lifecycle(lab: dict, make_run: Any) -> None:
    client = boto3.client("lambda", region_name=REGION)
    converge(make_run(), function_stack())
    conf = client.get_function(FunctionName="demogo-test-fn")["Configuration"]
    assert conf["CodeSha256"] == build("package").code_sha256
    assert conf["Role"].endswith(":role/demogo-test-role")
    assert conf["Environment"]["Variables"] == {"INDEX_PREFIX": "cwl"}
    policy = json.loads(client.get_policy(FunctionName="demogo-test-fn")["Policy"])
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"Service": "logs.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith("log-group:/logpipe/test:*")

    again = make_run()
    items = converge(again, function_stack())
    assert {i.action for i in items.values()} == {"noop"}
    assert writes(again) == 0, again.counter.writes

    bigger = make_run()
    item = converge(bigger, function_stack(memory=512))["lambda-function:demogo-test-fn"]
    assert item.changes == {"memory_mb": (256, 512)}
    assert bigger.counter.writes == ["lambda:UpdateFunctionConfiguration"]

    gone = make_run()
    gone.engine.teardown(gone.engine.plan_teardown({"t": function_stack()}))
    assert client.list_functions()["Functions"] == []


def test_deterministic_package() -> None:
    first, second = build("package"), build.__wrapped__("package")
    assert first.zip_bytes == second.zip_bytes
    assert first.code_sha256 == second.code_sha256


# OpenSearch domain reference ---------------------------------------------------------
def test_domain_reference_reads_facts_and_is_never_changed(lab: dict, make_run: Any) -> None:
    run = make_run()
    items = run.engine.read_all({"t": [OpenSearchDomainRef("demogo-opensearch")]})
    outputs = items[0].observed.outputs
    assert outputs["arn"] == f"arn:aws:es:{REGION}:123456789012:domain/demogo-opensearch"
    assert outputs["fgac"] is True
    assert outputs["engine_version"] == "OpenSearch_2.17"
    assert outputs["endpoint"]
    assert items[0].state == "external"
    teardown = run.engine.plan_teardown({"t": [OpenSearchDomainRef("demogo-opensearch")]})
    assert teardown[0].action == "keep"


def test_missing_domain_is_a_preflight_problem(lab: dict, make_run: Any) -> None:
    run = make_run()
    items = run.engine.plan({"t": [OpenSearchDomainRef("nope-domain"), LogGroup("/logpipe/x", retention_days=1)]})
    with pytest.raises(PreflightError, match="opensearch-domain nope-domain: does not exist"):
        run.engine.apply(items)
    assert writes(run) == 0


def test_lambda_permission_with_a_changed_source_is_replaced(lab: dict, make_run: Any) -> None:
    client = boto3.client("lambda", region_name=REGION)
    converge(make_run(), function_stack())
    execution_role, function, _ = function_stack()
    moved = LambdaPermission(
        function,
        statement_id="logs",
        principal="logs.amazonaws.com",
        source_arn=f"arn:aws:logs:{REGION}:123456789012:log-group:/logpipe/other:*",
    )
    run = make_run()
    item = converge(run, [execution_role, function, moved])["lambda-permission:demogo-test-fn/logs"]
    assert item.result == "updated"
    assert set(item.changes) == {"source_arn"}
    statements = json.loads(client.get_policy(FunctionName="demogo-test-fn")["Policy"])["Statement"]
    assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in statements] == [
        f"arn:aws:logs:{REGION}:123456789012:log-group:/logpipe/other:*"
    ]


def test_log_group_tags_use_the_resource_tagging_api(lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # ListTagsLogGroup / TagLogGroup are deprecated: ListTagsForResource / TagResource take the
    # group's ARN without ":*".
    from moto.logs.responses import LogsResponse

    def deprecated(self: Any) -> str:
        raise AssertionError("deprecated CloudWatch Logs tagging API called")

    monkeypatch.setattr(LogsResponse, "list_tags_log_group", deprecated)
    monkeypatch.setattr(LogsResponse, "tag_log_group", deprecated)
    logs = boto3.client("logs", region_name=REGION)
    converge(make_run(), [LogGroup("/logpipe/tagged", retention_days=30)])
    arn = f"arn:aws:logs:{REGION}:123456789012:log-group:/logpipe/tagged"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"logpipe:stack": "demogo", "managed-by": "logpipe"}
    item = converge(make_run(), [LogGroup("/logpipe/tagged", retention_days=30)])["log-group:/logpipe/tagged"]
    assert item.action == "noop"


def test_lambda_owner_tags_are_read_with_list_tags_when_get_function_omits_them(
    lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GetFunction returns Tags only to callers explicitly allowed lambda:ListTags; otherwise the
    # function must not look "not logpipe's".
    converge(make_run(), function_stack())
    import moto.awslambda.responses as responses

    real_get = responses.LambdaResponse.get_function

    def get_function(self: Any) -> str:
        data = json.loads(real_get(self))
        data.pop("Tags", None)
        data["TagsError"] = {"ErrorCode": "AccessDeniedException", "Message": "no lambda:ListTags"}
        return json.dumps(data)

    monkeypatch.setattr(responses.LambdaResponse, "get_function", get_function)
    again = make_run()
    items = converge(again, function_stack())
    assert items["lambda-function:demogo-test-fn"].action == "noop"
    assert writes(again) == 0


def test_new_lambda_function_waits_until_active(lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # After CreateFunction the function is Pending; AWS documents function_active_v2 for that wait.
    import botocore.client

    used: list[str] = []
    real = botocore.client.BaseClient.get_waiter

    def get_waiter(self: Any, name: str) -> Any:
        used.append(name)
        return real(self, name)

    monkeypatch.setattr(botocore.client.BaseClient, "get_waiter", get_waiter)
    converge(make_run(), function_stack())
    assert used == ["function_active_v2"]


@pytest.mark.parametrize(("constraint", "region"), [(None, "us-east-1"), ("EU", "eu-west-1")])
def test_bucket_region_from_get_bucket_location(
    lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch, constraint: str | None, region: str
) -> None:
    # GetBucketLocation answers null for us-east-1 and the legacy "EU" for eu-west-1.
    from moto.s3.models import S3Backend

    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="demogo-elsewhere", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    monkeypatch.setattr(S3Backend, "get_bucket_location", lambda self, name: constraint)
    run = make_run()
    observed = S3Bucket("demogo-elsewhere", policy="shared").read(run.engine.ctx)
    assert observed is not None
    assert observed.outputs["region"] == region
    assert observed.note == f"in region {region}"
