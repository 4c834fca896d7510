"""What the whole-stack tests look at: logpipe's commands run in process, and what exists afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from click.testing import CliRunner, Result

from logpipe.cli import main
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.conftest import REGION
from tests.opensearch.conftest import API, SAVED_OBJECTS, admin

STACK_FILTERS = [{"Key": "logpipe:stack", "Values": ["demogo"]}, {"Key": "managed-by", "Values": ["logpipe"]}]


def aws(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


@dataclass
class Account:
    """Where the checks look: AWS (in-process moto or a sandbox) and the domain's admin API."""

    client: Callable[[str], Any]
    opensearch: Callable[[str, str], requests.Response]
    vpc_id: str
    foreign: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stack:
    config: Path
    standin: OpenSearchStandin
    vpc_id: str
    foreign: dict[str, Any] = field(default_factory=dict)

    @property
    def account(self) -> Account:
        return Account(aws, lambda method, path: admin(self.standin, method, path), self.vpc_id, self.foreign)

    def run(self, *args: str) -> Result:
        """``logpipe --config <lab config> ARGS``, in process, exactly as the CLI runs it."""
        return CliRunner().invoke(main, ["--config", str(self.config), *args], catch_exceptions=False)

    def up(self, *args: str) -> tuple[Result, dict[str, Any]]:
        result = self.run("-o", "json", "up", "all", *args)
        return result, json.loads(result.stdout)


def foreign_resources(aws: Callable[[str], Any] = aws) -> dict[str, Any]:
    """Things in the account logpipe did not make: it must never touch them."""
    aws("logs").create_log_group(logGroupName="/team/app", tags={"owner": "team"})
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    aws("iam").create_role(RoleName="team-app", AssumeRolePolicyDocument=json.dumps(trust))
    return {"log_group": "/team/app", "role": "team-app"}


def untouched_state(target: Stack | Account) -> dict[str, Any]:
    """The lab's starting point and somebody else's resources, as they are now (compare before/after)."""
    account = target.account if isinstance(target, Stack) else target
    aws = account.client
    domain = aws("opensearch").describe_domain(DomainName="demogo-opensearch")["DomainStatus"]
    acl = aws("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
    vpc = aws("ec2").describe_vpcs(VpcIds=[account.vpc_id])["Vpcs"][0]
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=account.foreign["log_group"])["logGroups"]
    role = aws("iam").get_role(RoleName=account.foreign["role"])["Role"]
    return {
        "domain": {k: domain.get(k) for k in ("ARN", "Endpoint", "EngineVersion", "AccessPolicies")},
        "web_acls": [(a["Name"], a["ARN"]) for a in acl],
        "vpc": (vpc["VpcId"], vpc.get("CidrBlock"), sorted((t["Key"], t["Value"]) for t in vpc.get("Tags", []))),
        "log_group": [(g["logGroupName"], g.get("retentionInDays")) for g in groups],
        "role": (role["Arn"], json.dumps(role["AssumeRolePolicyDocument"], sort_keys=True)),
        "all_access": account.opensearch("GET", f"{API}/rolesmapping/all_access").json(),
    }


def logpipe_leftovers(target: Stack | Account) -> list[str]:
    """Everything logpipe makes that still exists, AWS and OpenSearch side; [] after a full teardown.

    Listed by kind, not by logpipe's tags: a resource a crashed run made without them counts too.
    The lab's account has none of these kinds but the foreign log group and role, and AWS Config's
    service-linked role (which logpipe creates when missing and deliberately keeps).
    """
    account = target.account if isinstance(target, Stack) else target
    aws = account.client
    found: list[str] = []
    tagged = aws("resourcegroupstaggingapi").get_resources(TagFilters=STACK_FILTERS)["ResourceTagMappingList"]
    found += [m["ResourceARN"] for m in tagged]
    found += [f"bucket {b['Name']}" for b in aws("s3").list_buckets()["Buckets"]]
    groups = aws("logs").describe_log_groups()["logGroups"]
    found += [f"log group {g['logGroupName']}" for g in groups if g["logGroupName"] != account.foreign["log_group"]]
    roles = aws("iam").list_roles()["Roles"]
    found += [
        f"role {r['RoleName']}"
        for r in roles
        if r["RoleName"] != account.foreign["role"] and not r["Path"].startswith("/aws-service-role/")
    ]
    found += [f"lambda {f['FunctionName']}" for f in aws("lambda").list_functions()["Functions"]]
    found += [f"firehose {n}" for n in aws("firehose").list_delivery_streams()["DeliveryStreamNames"]]
    found += [f"trail {t['Name']}" for t in aws("cloudtrail").describe_trails()["trailList"]]
    found += [f"event rule {r['Name']}" for r in aws("events").list_rules()["Rules"]]
    config = aws("config")
    found += [
        f"config recorder {r['name']}" for r in config.describe_configuration_recorders()["ConfigurationRecorders"]
    ]
    found += [f"config channel {c['name']}" for c in config.describe_delivery_channels()["DeliveryChannels"]]
    found += [f"config rule {r['ConfigRuleName']}" for r in config.describe_config_rules()["ConfigRules"]]
    found += [f"guardduty detector {d}" for d in aws("guardduty").list_detectors()["DetectorIds"]]
    try:
        found.append(f"security hub {aws('securityhub').describe_hub()['HubArn']}")
    except aws("securityhub").exceptions.ClientError:
        pass
    found += [f"flow log {f['FlowLogId']}" for f in aws("ec2").describe_flow_logs()["FlowLogs"]]
    resolver = aws("route53resolver")
    found += [
        f"query log config {c['Name']}" for c in resolver.list_resolver_query_log_configs()["ResolverQueryLogConfigs"]
    ]
    associations = resolver.list_resolver_query_log_config_associations()["ResolverQueryLogConfigAssociations"]
    found += [f"query log association {a['Id']}" for a in associations]
    acl_arn = aws("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"][0]["ARN"]
    try:
        aws("wafv2").get_logging_configuration(ResourceArn=acl_arn)
        found.append(f"waf logging on {acl_arn}")
    except aws("wafv2").exceptions.WAFNonexistentItemException:
        pass
    policy = aws("opensearch").describe_domain(DomainName="demogo-opensearch")["DomainStatus"].get("AccessPolicies")
    statements = json.loads(policy).get("Statement", []) if policy else []
    found += [f"access policy statement {s['Sid']}" for s in statements if str(s.get("Sid", "")).startswith("logpipe")]
    for path in (f"{API}/roles/logpipe_writer", f"{API}/rolesmapping/logpipe_writer", "/_index_template/logpipe-*"):
        reply = account.opensearch("GET", path)
        if reply.status_code == 200 and reply.json() not in ({}, {"index_templates": []}):
            found.append(f"opensearch {path}")
    patterns = account.opensearch("GET", f"{SAVED_OBJECTS}/_find?type=index-pattern&per_page=100")
    if patterns.status_code == 200:
        found += [f"index pattern {o['id']}" for o in patterns.json().get("saved_objects", [])]
    return found
