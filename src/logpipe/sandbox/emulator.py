"""The sandbox process: moto server (gaps filled) + osmem-server + the OpenSearch stand-in.

Run as ``python -m logpipe.sandbox.emulator --state-dir DIR``; ``logpipe sandbox start``
does that in the background. Everything listens on 127.0.0.1 only. As on AWS, a new IAM role
takes a moment before services can use it (``LOGPIPE_SANDBOX_IAM_PROPAGATION_SECONDS``, 2 by
default) and a domain or Config recorder change takes a while to apply
(``LOGPIPE_SANDBOX_SLOW_CHANGE_SECONDS``, 2 by default); 0 turns either off. The account is seeded
with the lab's starting point: an OpenSearch domain with fine-grained access control
whose endpoint is the local stand-in, a VPC tagged ``Name=demogo-vpc``, and a regional
web ACL, and nothing else.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from logpipe.sandbox.control import SANDBOX_CREDENTIALS, STATE_FILE

DEFAULT_ENGINE_VERSION = "OpenSearch_2.17"

LAB_SEED: dict[str, Any] = {
    "domain": "demogo-opensearch",
    "vpcs": ["demogo-vpc"],
    "web_acls": [{"name": "demogo-webacl", "scope": "REGIONAL"}],
}
MASTER_USER = "admin"
SANDBOX_IAM_ARN = "arn:aws:iam::123456789012:user/moto"


def seed_account(
    endpoint_url: str | None,
    region: str,
    seed: dict[str, Any],
    opensearch_host: str,
    password: str,
    *,
    engine_version: str = DEFAULT_ENGINE_VERSION,
) -> None:
    """Create the lab's pre-existing resources through the AWS APIs, as CloudFormation did in the lab.

    ``endpoint_url`` None seeds the in-process ``mock_aws`` backend (tests).
    """
    import boto3

    session = boto3.Session(
        aws_access_key_id=SANDBOX_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    )
    ec2 = session.client("ec2", endpoint_url=endpoint_url)
    for index, name in enumerate(dict.fromkeys(seed.get("vpcs", []))):
        vpc = ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": name}])
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{index}.1.0/24")
    wafv2 = session.client("wafv2", endpoint_url=endpoint_url)
    for acl in seed.get("web_acls", []):
        wafv2.create_web_acl(
            Name=acl["name"],
            Scope=acl.get("scope", "REGIONAL"),
            DefaultAction={"Allow": {}},
            Rules=[],
            VisibilityConfig={
                "SampledRequestsEnabled": True,
                "CloudWatchMetricsEnabled": True,
                "MetricName": acl["name"].replace("-", ""),
            },
        )
    opensearch = session.client("opensearch", endpoint_url=endpoint_url)
    domain = seed.get("domain")
    if domain:
        opensearch.create_domain(
            DomainName=domain,
            EngineVersion=engine_version,
            ClusterConfig={"InstanceType": "t3.small.search", "InstanceCount": 1},
            EBSOptions={"EBSEnabled": True, "VolumeType": "gp3", "VolumeSize": 10},
            EncryptionAtRestOptions={"Enabled": True},
            NodeToNodeEncryptionOptions={"Enabled": True},
            DomainEndpointOptions={"EnforceHTTPS": True},
            AdvancedSecurityOptions={
                "Enabled": True,
                "InternalUserDatabaseEnabled": True,
                "MasterUserOptions": {"MasterUserName": MASTER_USER, "MasterUserPassword": password},
            },
        )
        from logpipe.sandbox.moto_gaps import set_domain_endpoint

        set_domain_endpoint(domain, opensearch_host, region=region)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="logpipe-sandbox")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--region", default="ap-northeast-2")
    parser.add_argument("--seed", default=None, help="JSON: domain, vpcs, web_acls (default: the lab's)")
    parser.add_argument("--engine", choices=("emulator", "opensearch"), default="emulator")
    parser.add_argument("--engine-version", default=None, help="OpenSearch_2.11, Elasticsearch_7.10, ...")
    args = parser.parse_args(argv)
    folder = Path(args.state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    seed = {**LAB_SEED, **(json.loads(args.seed) if args.seed else {})}

    from moto.server import ThreadedMotoServer
    from osmem_server import OsmemServer

    from logpipe.sandbox import moto_gaps
    from logpipe.sandbox.delivery_emulator import DeliveryEmulator
    from logpipe.sandbox.opensearch_standin import OpenSearchStandin

    # One line per request would drown the log that `sandbox start` points to on failure.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Like AWS, the sandbox takes a moment to propagate IAM changes and to apply slow changes
    # (see moto_gaps.eventual); the environment may set other delays, 0 turning them off.
    from logpipe.sandbox.moto_gaps.eventual import SANDBOX_DEFAULTS

    for name, seconds in SANDBOX_DEFAULTS.items():
        os.environ.setdefault(name, str(seconds))
    moto_gaps.install()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws_url = f"http://{host}:{port}"

    password_file = folder / "master-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(18))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    # The sandbox's credentials belong to moto's default IAM user; as on a lab domain, that
    # identity is the IAM master user, so SigV4 calls from logpipe may manage the security API.
    identity = {
        "master_user": MASTER_USER,
        "master_password": password,
        "master_iam_arn": SANDBOX_IAM_ARN,
        "iam_identities": {SANDBOX_CREDENTIALS["AWS_ACCESS_KEY_ID"]: SANDBOX_IAM_ARN},
        "region": args.region,
    }
    osmem = real = None
    if args.engine == "opensearch":
        from logpipe.sandbox import real_engine

        version = real_engine.version_for(args.engine_version)
        real = real_engine.start(
            version, workdir=folder / "engine", admin_password=real_engine.new_password(), watch_pid=os.getpid()
        )
        major, minor = version.split(".")[:2]
        engine_version = f"OpenSearch_{major}.{minor}"
        # The real node answers for its own version (and its security plugin for the security API).
        standin = OpenSearchStandin(
            real.url, upstream_ca=real.ca_cert, upstream_auth=real.auth, security_upstream=True, **identity
        )
        upstream_url = real.url
    else:
        engine_version = args.engine_version or DEFAULT_ENGINE_VERSION
        osmem = OsmemServer.start(japanese=False)
        standin = OpenSearchStandin(osmem.url, engine_version=engine_version, **identity)
        upstream_url = osmem.url
    opensearch_url = standin.start()
    seed_account(
        aws_url, args.region, seed, opensearch_url.removeprefix("http://"), password, engine_version=engine_version
    )
    # Handlers run in this process (see delivery_emulator) and call AWS with these keys.
    os.environ.update(SANDBOX_CREDENTIALS)
    moto_gaps.add_delivery_listener(
        DeliveryEmulator(
            opensearch_url=opensearch_url,
            user=MASTER_USER,
            password=password,
            aws_endpoint_url=aws_url,
            region=args.region,
        )
    )

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    state = {
        "pid": os.getpid(),
        "aws_endpoint_url": aws_url,
        "opensearch_url": opensearch_url,
        "upstream_url": upstream_url,
        "engine": args.engine,
        "engine_version": engine_version,
        "region": args.region,
        "domain": seed.get("domain"),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    temp = folder / f"{STATE_FILE}.tmp"
    temp.write_text(json.dumps(state, indent=2))
    temp.replace(folder / STATE_FILE)
    print(json.dumps(state), flush=True)
    stop.wait()
    standin.stop()
    if osmem is not None:
        osmem.close()
    if real is not None:
        real.stop()
    moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
