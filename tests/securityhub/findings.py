"""Security Hub findings to route: the real events and ASFF findings in samples/, and synthetic
variants of them (other regions, other products, partner and custom products, look-alikes)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from tests.conftest import SAMPLES

REGIONS = ("us-west-2", "us-east-1", "eu-central-1", "ap-northeast-2", "sa-east-1")
#: AWS's own products that send findings to Security Hub (``product/aws/<name>``).
AWS_PRODUCTS = (
    "guardduty",
    "config",
    "securityhub",
    "inspector",
    "macie",
    "access-analyzer",
    "firewall-manager",
    "health",
    "ssm-patch-manager",
    "detective",
)
PARTNER = "arn:aws:securityhub:{region}:955745153808:product/crowdstrike/crowdstrike-falcon"
CUSTOM = "arn:aws:securityhub:{region}:111122223333:product/111122223333/default"
#: ProductArns no product rule may take: typos, look-alikes, other partitions, anonymised values.
LOOKALIKES = (
    "arn:aws::securityhub:us-east-1::product/aws/guardduty",  # the GuardDuty guide's typo
    "arn:aws:securityhub:us-east-1::product/aws/guardduty-x",
    "arn:aws:securityhub:us-east-1::product/aws/GuardDuty",
    "arn:aws:securityhub:us-east-1:123456789012:product/aws/config",
    "arn:aws:securityhub:us-east-1::product/aws/config/x",
    "arn:aws-cn:securityhub:cn-north-1::product/aws/guardduty",
    "arn:aws:securityhub:us-east-1:955745153808:product/crowdstrike/crowdstrike-falcon-x",
    "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default2",
    "xxx",
    "",
)


def load_event() -> dict[str, Any]:
    return json.loads((SAMPLES / "securityhub_imported_event.json").read_text())


def load_events() -> list[dict[str, Any]]:
    lines = (SAMPLES / "securityhub_imported_events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def asff(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"asff_{name}.json").read_text())


def envelope(finding: dict[str, Any]) -> dict[str, Any]:
    """The sample event's envelope around another finding, as Security Hub would send it."""
    event = load_event()
    event["region"] = finding.get("Region", "us-east-1")
    event["account"] = finding["AwsAccountId"]
    event["resources"] = [f"{finding['ProductArn']}/{finding['Id']}"]
    event["detail"] = {"findings": [finding]}
    return event


def guardduty_finding() -> dict[str, Any]:
    """The GuardDuty guide's finding, with its ARNs' published typo fixed.

    The guide prints ``arn:aws::securityhub:…`` (an extra colon); real findings read
    ``arn:aws:securityhub:…``. The published text is kept in samples/ and routed as is too.
    """
    return json.loads(json.dumps(asff("guardduty")).replace("arn:aws::", "arn:aws:"))


def sample_events() -> list[dict[str, Any]]:
    """The real events (Security Hub's own control findings) and the two ASFF findings, enveloped."""
    return [load_event(), *load_events(), envelope(asff("config")), envelope(guardduty_finding())]


def with_product(event: dict[str, Any], product_arn: str) -> dict[str, Any]:
    """``event`` as the same finding imported from ``product_arn`` (its region in ARN and envelope)."""
    out = copy.deepcopy(event)
    finding = out["detail"]["findings"][0]
    finding["ProductArn"] = product_arn
    parts = product_arn.split(":")
    if len(parts) > 3 and parts[3]:
        finding["Region"] = out["region"] = parts[3]
    out["resources"] = [f"{product_arn}/{finding['Id']}"]
    return out


def product_arns() -> Iterator[str]:
    """Every product of AWS_PRODUCTS, the partner and the custom product, in every region; then the
    look-alikes."""
    for region in REGIONS:
        for name in AWS_PRODUCTS:
            yield f"arn:aws:securityhub:{region}::product/aws/{name}"
        yield PARTNER.format(region=region)
        yield CUSTOM.format(region=region)
    yield from LOOKALIKES


def corpus() -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, event): the samples as they are, then each sample from every product ARN above."""
    samples = sample_events()
    samples.append(envelope(asff("guardduty")))  # as published, malformed ARN included
    for i, event in enumerate(samples):
        yield f"sample {i}: {event['detail']['findings'][0]['ProductArn']}", event
    for i, event in enumerate(samples):
        for arn in product_arns():
            yield f"sample {i} from {arn!r}", with_product(event, arn)
