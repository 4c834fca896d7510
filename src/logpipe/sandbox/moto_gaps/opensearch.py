"""OpenSearch Service gaps.

- ``AdvancedSecurityOptions`` is stored exactly as sent, so the master user's password
  (``MasterUserOptions``) sits in the domain and ``AnonymousAuthEnabled`` is missing; AWS
  never returns ``MasterUserOptions`` and always reports the three flags. Normalized on
  create and update.
- UpdateDomainConfig on an unknown domain raises a bare ``KeyError`` (HTTP 500); AWS
  answers ``ResourceNotFoundException``.
- :func:`set_domain_endpoint` lets the sandbox point a domain's ``Endpoint`` at a local
  OpenSearch-compatible server (e.g. ``127.0.0.1:9200``).
"""

from __future__ import annotations

from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.opensearch.exceptions import ResourceNotFoundException
from moto.opensearch.models import OpenSearchDomain, OpenSearchServiceBackend, opensearch_backends

from ._patching import patch

_SECURITY_FLAGS = ("Enabled", "InternalUserDatabaseEnabled", "AnonymousAuthEnabled")


def normalize_security_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """AdvancedSecurityOptions as DescribeDomain returns them."""
    result = {k: v for k, v in (options or {}).items() if k != "MasterUserOptions"}
    for flag in _SECURITY_FLAGS:
        result.setdefault(flag, False)
    return result


def set_domain_endpoint(
    domain_name: str,
    endpoint: str,
    *,
    region: str,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Make DescribeDomain report ``endpoint`` (host[:port], no scheme) for the domain.

    For a VPC domain the ``Endpoints["vpc"]`` entry is set instead, as AWS reports it there.
    Raises ``KeyError`` when the domain does not exist.
    """
    backend = opensearch_backends[account_id][region]
    domain = backend.domains.get(domain_name)
    if domain is None:
        raise KeyError(f"OpenSearch domain {domain_name!r} does not exist in {account_id}/{region}")
    if domain.endpoints is not None:
        domain.endpoints = {**domain.endpoints, "vpc": endpoint}
    else:
        domain.endpoint = endpoint


def install() -> None:
    orig_init = OpenSearchDomain.__init__
    orig_update = OpenSearchServiceBackend.update_domain_config

    def domain_init(self: OpenSearchDomain, *args: Any, **kwargs: Any) -> None:
        orig_init(self, *args, **kwargs)
        self.advanced_security_options = normalize_security_options(self.advanced_security_options)

    def update_domain_config(self: OpenSearchServiceBackend, domain_name: str, *args: Any, **kwargs: Any) -> Any:
        if domain_name not in self.domains:
            raise ResourceNotFoundException(domain_name)
        domain = orig_update(self, domain_name, *args, **kwargs)
        domain.advanced_security_options = normalize_security_options(domain.advanced_security_options)
        return domain

    patch(OpenSearchDomain, "__init__", domain_init)
    patch(OpenSearchServiceBackend, "update_domain_config", update_domain_config)
