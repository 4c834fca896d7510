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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

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


class PipelineSettings(_Strict):
    """What every pipeline's config section has; each pipeline module extends it with its own keys."""

    enabled: bool = True


BUCKET_NAME_RULE = "an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens"


def check_bucket_name(value: str | None) -> str | None:
    """A pydantic validator body for optional bucket-name keys."""
    if value is not None and not _BUCKET_RE.match(value):
        raise ValueError(BUCKET_NAME_RULE)
    return value


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
    """The whole file. ``pipelines`` holds one section per registered pipeline: the registry builds
    the concrete model with :func:`config_model`, from each pipeline module's own section class."""

    prefix: Annotated[str, Field(pattern=_PREFIX_RE)]
    region: str | None = None
    profile: str | None = None
    tags: dict[str, str] = {}
    backup_bucket: str | None = None
    opensearch: OpenSearchConfig
    pipelines: Any = None

    @field_validator("backup_bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        return check_bucket_name(value)

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


Sections = dict[str, type[PipelineSettings]]
_models: dict[tuple[tuple[str, type], ...], type[Config]] = {}


def config_model(sections: Sections) -> type[Config]:
    """The Config model whose ``pipelines`` has exactly ``sections`` (name -> section class)."""
    key = tuple(sections.items())
    if key not in _models:
        fields: dict[str, Any] = {name: (cls, cls()) for name, cls in sections.items()}
        pipelines = create_model("Pipelines", __base__=_Strict, **fields)
        _models[key] = create_model("Config", __base__=Config, pipelines=(pipelines, pipelines()))
    return _models[key]


def parse_config(data: Any, source: str, *, sections: Sections) -> Config:
    """Validate already-parsed YAML data."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(data).__name__}")
    try:
        return config_model(sections).model_validate(data)
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


def load_config(path: Path | None, *, sections: Sections, sandbox: bool = False) -> Config:
    if path is None:
        if sandbox:
            return parse_config(LAB_DEFAULTS, "built-in lab defaults", sections=sections)
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
    return parse_config(data, str(path), sections=sections)
