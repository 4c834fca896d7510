"""The sandbox runs logpipe's handlers with the environment AWS would give them: the Lambda
function's configuration as moto holds it, nothing inherited from the sandbox process."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from logpipe.lambdas import package
from logpipe.sandbox.delivery_emulator import HANDLER_SETTINGS, DeliveryEmulator
from logpipe.sandbox.moto_gaps.deliveries import Delivery

from .support import Search, cloudtrail_records, cwl_event, cwl_payload

REGION = "us-east-1"


def test_every_handler_setting_is_known() -> None:
    """A setting missing from HANDLER_SETTINGS would leak from the sandbox's own environment."""
    read = set()
    for path in package.LAMBDA_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        read |= set(re.findall(r'(?:env|environ)\.get\(\s*"([A-Z][A-Z0-9_]+)"', source))
        read |= set(re.findall(r'_env_int\(\s*env,\s*"([A-Z][A-Z0-9_]+)"', source))
    assert "FLAT_OBJECT_MODE" in read and "LOG_FORMAT" in read
    assert read - {"AWS_REGION", "AWS_DEFAULT_REGION"} <= set(HANDLER_SETTINGS)


@pytest.fixture
def lambda_client(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(RoleName="indexer", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}))
        yield boto3.client("lambda", region_name=REGION)


def _function(client: Any, module: str, variables: dict[str, str]) -> str:
    return client.create_function(
        FunctionName=module.replace("_", "-"),
        Runtime="python3.12",
        Role="arn:aws:iam::123456789012:role/indexer",
        Handler=package.build(module).handler,
        Code={"ZipFile": package.build(module).zip_bytes},
        Environment={"Variables": variables},
        Timeout=60,  # the default 3 s is less than the indexer's safety margin
    )["FunctionArn"]


def test_flat_object_mode_comes_from_the_function_configuration(
    samples: Path, opensearch: Search, lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = cloudtrail_records(samples)
    console_login, rotate_key = records[0], records[9]  # both have requestParameters: null
    settings = {"OPENSEARCH_ENDPOINT": opensearch.url, "OPENSEARCH_AUTH": "none", "FLAT_OBJECT_MODE": "no-nulls"}
    arn = _function(lambda_client, "cloudtrail_indexer", settings)
    emulator = DeliveryEmulator(
        opensearch_url=opensearch.url, user="u", password="p", aws_endpoint_url="http://unused", region=REGION
    )

    def deliver(record: dict[str, Any]) -> dict[str, Any]:
        event = json.dumps(cwl_event(cwl_payload([json.dumps(record)]))).encode()
        emulator(Delivery(target_arn=arn, origin="logs:test", payloads=(event,)))
        (hit,) = opensearch.search("cwl-*", {"ids": {"values": [record["eventID"]]}})
        return hit["_source"]

    assert "requestParameters" not in deliver(console_login)  # no-nulls, as configured

    # The setting removed from the function: the sandbox's own environment does not stand in.
    lambda_client.update_function_configuration(
        FunctionName=arn, Environment={"Variables": {k: v for k, v in settings.items() if k != "FLAT_OBJECT_MODE"}}
    )
    monkeypatch.setenv("FLAT_OBJECT_MODE", "no-nulls")
    assert deliver(rotate_key)["requestParameters"] is None  # native
