"""opensearch.create_domain: a missing domain is created secure; an existing one is used as it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from logpipe.resources.opensearch_domain_create import master_arn
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.conftest import REGION
from tests.opensearch.conftest import teardown, up


def describe(name: str) -> dict[str, Any]:
    return boto3.client("opensearch", region_name=REGION).describe_domain(DomainName=name)["DomainStatus"]


def config(standin: OpenSearchStandin, name: str = "logpipe-new") -> dict[str, Any]:
    # The data plane of the new domain is the stand-in (moto's endpoint does not answer HTTP).
    return {"opensearch": {"domain": name, "create_domain": True, "endpoint_url": standin.url}}


def test_missing_domain_is_created_secure_then_left_alone(
    make_run: Callable[..., Any], lab: dict[str, Any], standin: OpenSearchStandin
) -> None:
    progress: list[str] = []
    run = make_run(config(standin))
    run.ctx.progress = progress.append

    up(run)

    status = describe("logpipe-new")
    assert status["EngineVersion"] == "OpenSearch_2.17"
    assert status["AdvancedSecurityOptions"]["Enabled"] is True
    assert status["AdvancedSecurityOptions"]["InternalUserDatabaseEnabled"] is False
    assert status["EncryptionAtRestOptions"]["Enabled"] is True
    assert status["NodeToNodeEncryptionOptions"]["Enabled"] is True
    assert status["DomainEndpointOptions"]["EnforceHTTPS"] is True
    tags = boto3.client("opensearch", region_name=REGION).list_tags(ARN=status["ARN"])["TagList"]
    assert {"Key": "managed-by", "Value": "logpipe"} in tags

    again = make_run(config(standin))
    up(again)
    assert again.counter.summary()["write"] == 0


def test_teardown_keeps_the_domain_unless_data_deletion_is_asked_for(
    make_run: Callable[..., Any], lab: dict[str, Any], standin: OpenSearchStandin
) -> None:
    up(make_run(config(standin)))

    # `teardown opensearch`: the pipelines still write to the domain, so it stays.
    [domain] = [i for i in teardown(make_run(config(standin))) if i.resource.kind == "opensearch-domain"]
    assert domain.action == "keep" and "another pipeline" in domain.note

    # `teardown all` (nothing else uses it) without --delete-data: refused, with the reason.
    run = make_run(config(standin))
    items = run.engine.teardown(run.engine.plan_teardown(run.declare(run.pipelines(("opensearch",)))))
    [domain] = [i for i in items if i.resource.kind == "opensearch-domain"]
    assert domain.result == "failed" and "--delete-data" in (domain.error or "")
    assert not describe("logpipe-new").get("Deleted")

    run = make_run(config(standin))
    run.ctx.delete_data = True
    items = run.engine.teardown(run.engine.plan_teardown(run.declare(run.pipelines(("opensearch",)))))
    assert [i.result for i in items if i.resource.kind == "opensearch-domain"] == ["deleted"]
    domains = boto3.client("opensearch", region_name=REGION).list_domain_names()["DomainNames"]
    assert "logpipe-new" not in [d["DomainName"] for d in domains]


def test_existing_domain_is_used_and_never_deleted(
    make_run: Callable[..., Any], lab: dict[str, Any], standin: OpenSearchStandin
) -> None:
    run = make_run(config(standin, "demogo-opensearch"))
    items = up(run)

    [domain] = [i for i in items if i.resource.kind == "opensearch-domain"]
    assert domain.action == "noop" and domain.state == "external"

    run = make_run(config(standin, "demogo-opensearch"))
    run.ctx.delete_data = True
    items = teardown(run)
    [domain] = [i for i in items if i.resource.kind == "opensearch-domain"]
    assert domain.action == "keep"
    assert not describe("demogo-opensearch").get("Deleted")


def test_master_user_is_the_role_behind_an_assumed_role_session() -> None:
    session = "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com"
    assert master_arn(session) == "arn:aws:iam::123456789012:role/Admin"
    assert master_arn("arn:aws:iam::123456789012:user/bob") == "arn:aws:iam::123456789012:user/bob"


def test_pipelines_in_the_same_run_write_to_the_domain_created_for_them(
    make_run: Callable[..., Any], lab: dict[str, Any], standin: OpenSearchStandin
) -> None:
    """`up all` with create_domain: the pipelines do not stop on a missing domain, they wait for it."""
    run = make_run(config(standin))
    pipes = run.pipelines(("dns", "opensearch"))
    run.preflight(pipes)
    items = run.engine.apply(run.engine.plan(run.declare(pipes)))
    assert not [i for i in items if i.result in ("failed", "skipped")]
    domain = [i for i in items if i.resource.kind == "opensearch-domain"]
    assert len(domain) == 1 and domain[0].result == "created"
    assert domain[0].pipelines == ["dns", "opensearch"]
    stream = boto3.client("firehose", region_name=REGION).describe_delivery_stream(DeliveryStreamName="demogo-dns")
    destination = stream["DeliveryStreamDescription"]["Destinations"][0]
    assert destination["AmazonopensearchserviceDestinationDescription"]["DomainARN"] == describe("logpipe-new")["ARN"]
