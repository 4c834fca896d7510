"""Route 53 Resolver gaps.

- DisassociateResolverQueryLogConfig and DeleteResolverQueryLogConfig are not implemented
  in moto 5.2.5 (NotImplementedError). Added with AWS's behaviour: the response shows the
  association/config with status ``DELETING``; afterwards it is gone from the List/Get
  calls and the config's ``AssociationCount`` drops; unknown ids give
  ``ResourceNotFoundException``; deleting a config still associated with a VPC gives
  ``InvalidRequestException``.
- ListTagsForResource/TagResource/UntagResource on a query-log config ARN fail in moto
  ("Resolver endpoint ... does not exist") although the tags were stored at create time.
"""

from __future__ import annotations

import json

from moto.route53resolver.exceptions import InvalidRequestException, ResourceNotFoundException
from moto.route53resolver.models import (
    ResolverQueryLogConfig,
    ResolverQueryLogConfigAssociation,
    Route53ResolverBackend,
)
from moto.route53resolver.responses import Route53ResolverResponse

from ._patching import patch


def _config_or_404(backend: Route53ResolverBackend, config_id: str) -> ResolverQueryLogConfig:
    config = backend.resolver_query_log_configs.get(config_id)
    if config is None:
        raise ResourceNotFoundException(f"Resolver query log config with ID '{config_id}' does not exist")
    return config


def disassociate_resolver_query_log_config(
    self: Route53ResolverBackend, resolver_query_log_config_id: str, resource_id: str
) -> ResolverQueryLogConfigAssociation:
    config = _config_or_404(self, resolver_query_log_config_id)
    association = next(
        (
            a
            for a in self.resolver_query_log_config_associations.values()
            if a.resolver_query_log_config_id == resolver_query_log_config_id and a.resource_id == resource_id
        ),
        None,
    )
    if association is None:
        raise ResourceNotFoundException(
            f"Resolver query log config '{resolver_query_log_config_id}' is not associated with VPC '{resource_id}'"
        )
    self.resolver_query_log_config_associations.pop(association.id, None)
    config.association_count = max(0, config.association_count - 1)
    association.status = "DELETING"
    return association


def delete_resolver_query_log_config(
    self: Route53ResolverBackend, resolver_query_log_config_id: str
) -> ResolverQueryLogConfig:
    config = _config_or_404(self, resolver_query_log_config_id)
    in_use = [
        a
        for a in self.resolver_query_log_config_associations.values()
        if a.resolver_query_log_config_id == resolver_query_log_config_id
    ]
    if in_use:
        raise InvalidRequestException(
            f"Resolver query log config '{resolver_query_log_config_id}' cannot be deleted while it is "
            f"associated with {len(in_use)} VPC(s). Disassociate the VPCs first."
        )
    self.resolver_query_log_configs.pop(resolver_query_log_config_id, None)
    self.tagger.delete_all_tags_for_resource(config.arn)
    config.status = "DELETING"
    return config


def install() -> None:
    orig_matched_arn = Route53ResolverBackend._matched_arn

    def _matched_arn(self: Route53ResolverBackend, resource_arn: str) -> None:
        # Query-log configs are taggable resources in AWS; moto only knows endpoints and rules.
        if any(c.arn == resource_arn for c in self.resolver_query_log_configs.values()):
            return
        orig_matched_arn(self, resource_arn)

    def response_disassociate(self: Route53ResolverResponse) -> str:
        association = self.route53resolver_backend.disassociate_resolver_query_log_config(
            resolver_query_log_config_id=self._get_param("ResolverQueryLogConfigId"),
            resource_id=self._get_param("ResourceId"),
        )
        return json.dumps({"ResolverQueryLogConfigAssociation": association.description()})

    def response_delete(self: Route53ResolverResponse) -> str:
        config = self.route53resolver_backend.delete_resolver_query_log_config(
            resolver_query_log_config_id=self._get_param("ResolverQueryLogConfigId"),
        )
        return json.dumps({"ResolverQueryLogConfig": config.description()})

    patch(Route53ResolverBackend, "_matched_arn", _matched_arn)
    patch(Route53ResolverBackend, "disassociate_resolver_query_log_config", disassociate_resolver_query_log_config)
    patch(Route53ResolverBackend, "delete_resolver_query_log_config", delete_resolver_query_log_config)
    patch(Route53ResolverResponse, "disassociate_resolver_query_log_config", response_disassociate)
    patch(Route53ResolverResponse, "delete_resolver_query_log_config", response_delete)
