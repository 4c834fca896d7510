"""Load and validate logpipe's YAML config: the one place that knows every key and default.

Everything is checked before any AWS call. An error names the key path
(``pipelines.waf.web_acl``), says what was expected, and the CLI exits 2.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from logpipe.errors import ConfigError

DEFAULT_CONFIG_FILE = "logpipe.yaml"
CONFIG_ENV = "LOGPIPE_CONFIG"

# Names end up inside IAM role names, Lambda names and stream names: keep them short and plain.
_PREFIX_RE = r"^[a-z][a-z0-9-]{0,19}$"
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


class Buffering(_Strict):
    size_mb: Annotated[int, Field(ge=1, le=100)] = 5
    interval_seconds: Annotated[int, Field(ge=0, le=900)] = 60


Rotation = Literal["NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"]


class FirehoseSettings(_Strict):
    """Settings every Firehose → OpenSearch stream shares."""

    index_rotation: Rotation = "OneDay"
    buffering: Buffering = Buffering()
    retry_seconds: Annotated[int, Field(ge=0, le=7200)] = 300
    error_logging: bool = True


class LambdaSettings(_Strict):
    memory_mb: Annotated[int, Field(ge=128, le=10240)] = 256
    timeout_seconds: Annotated[int, Field(ge=3, le=900)] = 60


class CloudTrailConfig(_Strict):
    enabled: bool = True
    trail_name: str | None = None
    bucket: str | None = None
    log_group: str | None = None
    retention_days: Literal[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
    ] = 30
    subscription_filter: str | None = None
    index_prefix: str = "cwl"
    max_bulk_bytes: Annotated[int, Field(ge=65536, le=100 * 1024 * 1024)] = 5 * 1024 * 1024
    failed_prefix: str = "cloudtrail-failed/"
    data_events: bool = True
    indexer: LambdaSettings = LambdaSettings(memory_mb=512, timeout_seconds=300)

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET_RE.match(value):
            raise ValueError("an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens")
        return value


class DnsConfig(_Strict):
    enabled: bool = True
    vpc: str = "demogo-vpc"
    stream_name: str | None = None
    index: str = "dns-log"
    firehose: FirehoseSettings = FirehoseSettings()


class WafConfig(_Strict):
    enabled: bool = True
    web_acl: str = "demogo-webacl"
    scope: Literal["REGIONAL", "CLOUDFRONT"] = "REGIONAL"
    stream_name: str | None = None
    index: str = "waf-log"
    firehose: FirehoseSettings = FirehoseSettings()
    transform: LambdaSettings = LambdaSettings()

    @field_validator("stream_name")
    @classmethod
    def _waf_prefix(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("aws-waf-logs-"):
            raise ValueError("a Firehose stream name starting with 'aws-waf-logs-' (AWS WAF refuses any other)")
        return value


class FlowLogConfig(_Strict):
    enabled: bool = True
    vpc: str = "demogo-vpc"
    traffic_type: Literal["ACCEPT", "REJECT", "ALL"] = "ALL"
    log_format: str | None = None
    max_aggregation_interval: Literal[60, 600] = 600
    stream_name: str | None = None
    index: str = "vpc-flowlog"
    firehose: FirehoseSettings = FirehoseSettings()
    transform: LambdaSettings = LambdaSettings()

    @field_validator("log_format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(\$\{[a-z0-9-]+\}\s*)+", value.strip()):
            raise ValueError("a flow log format of ${field} tokens separated by spaces, e.g. '${version} ${srcaddr}'")
        return value


DEFAULT_CONFIG_RULES = (
    "CLOUD_TRAIL_ENABLED",
    "ROOT_ACCOUNT_MFA_ENABLED",
    "IAM_PASSWORD_POLICY",
    "IAM_ROOT_ACCESS_KEY_CHECK",
    "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS",
    "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    "RESTRICTED_INCOMING_TRAFFIC",
    "INCOMING_SSH_DISABLED",
    "VPC_FLOW_LOGS_ENABLED",
    "GUARDDUTY_ENABLED_CENTRALIZED",
    "ENCRYPTED_VOLUMES",
    "RDS_STORAGE_ENCRYPTED",
)


class SecurityHubConfig(_Strict):
    enabled: bool = True
    products: Annotated[list[str], Field(min_length=1)] = ["guardduty", "config"]
    index_prefix: str = "aws-securityhub-findings-logs"
    enable_default_standards: bool = True
    standards: list[str] = []
    config_rules: list[str] = list(DEFAULT_CONFIG_RULES)
    finding_publishing_frequency: Literal["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] = "FIFTEEN_MINUTES"
    firehose: FirehoseSettings = FirehoseSettings()
    transform: LambdaSettings = LambdaSettings()

    @field_validator("products")
    @classmethod
    def _products(cls, value: list[str]) -> list[str]:
        for item in value:
            if not (re.fullmatch(r"[a-z0-9-]+", item) or item.startswith("arn:")):
                raise ValueError(f"a product short name (guardduty, config, inspector, ...) or ARN, got {item!r}")
        if len(set(value)) != len(value):
            raise ValueError("each product once")
        return value


class Pipelines(_Strict):
    cloudtrail: CloudTrailConfig = CloudTrailConfig()
    dns: DnsConfig = DnsConfig()
    waf: WafConfig = WafConfig()
    flowlog: FlowLogConfig = FlowLogConfig()
    securityhub: SecurityHubConfig = SecurityHubConfig()


class OpenSearchConfig(_Strict):
    domain: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{2,27}$")]
    endpoint_url: str | None = None
    create_domain: bool = False
    engine_version: str = "OpenSearch_2.17"
    instance_type: str = "t3.small.search"
    access_policy: Literal["account", "ip", "open"] = "account"
    allowed_cidrs: list[str] = []
    role_mapping: Literal["logpipe_writer", "all_access"] = "logpipe_writer"
    auth: Literal["sigv4", "basic"] = "sigv4"
    master_user_secret: str | None = None
    tenant: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> OpenSearchConfig:
        if self.access_policy == "ip" and not self.allowed_cidrs:
            raise ValueError("access_policy 'ip' needs at least one entry in allowed_cidrs")
        for cidr in self.allowed_cidrs:
            if not re.fullmatch(r"[0-9a-fA-F:.]+(/\d{1,3})?", cidr):
                raise ValueError(f"allowed_cidrs: {cidr!r} is not an IP address or CIDR block")
        return self


class Config(_Strict):
    prefix: Annotated[str, Field(pattern=_PREFIX_RE)]
    region: str | None = None
    profile: str | None = None
    tags: dict[str, str] = {}
    backup_bucket: str | None = None
    opensearch: OpenSearchConfig
    pipelines: Pipelines = Pipelines()

    @field_validator("backup_bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET_RE.match(value):
            raise ValueError("an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", value):
            raise ValueError("an AWS region name such as ap-northeast-2")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.startswith("aws:") or key in ("logpipe:stack", "managed-by"):
                raise ValueError(f"tag key {key!r} is reserved")
        return value

    # Derived names: one place, so every module agrees on them.
    @property
    def backup_bucket_name(self) -> str:
        return self.backup_bucket or f"{self.prefix}-kdf-backup"


def _format_errors(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        kind = item["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "required value is missing"
        else:
            message = item["msg"].removeprefix("Value error, ")
            if "input" in item and kind not in ("model_type",):
                message += f" (got {item['input']!r})"
        lines.append(f"{source}: {path}: {message}")
    return "\n".join(lines)


def parse_config(data: Any, source: str = "config") -> Config:
    """Validate already-parsed YAML data."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


# The lab's starting point: what --sandbox uses when no config file is given.
LAB_DEFAULTS: dict[str, Any] = {
    "prefix": "demogo",
    "region": "ap-northeast-2",
    "opensearch": {"domain": "demogo-opensearch"},
}


def resolve_config_path(explicit: str | None) -> Path | None:
    """--config, then ./logpipe.yaml, then $LOGPIPE_CONFIG; None when there is none."""
    if explicit:
        return Path(explicit)
    local = Path(DEFAULT_CONFIG_FILE)
    if local.exists():
        return local
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return None


def load_config(path: Path | None, *, sandbox: bool = False) -> Config:
    if path is None:
        if sandbox:
            return parse_config(LAB_DEFAULTS, "built-in lab defaults")
        raise ConfigError(
            f"no config file: pass --config FILE, create ./{DEFAULT_CONFIG_FILE} (start from config.example.yaml), "
            f"or set {CONFIG_ENV}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, str(path))
