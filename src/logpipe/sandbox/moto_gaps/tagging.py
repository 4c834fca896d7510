"""Resource Groups Tagging API gaps.

GetResources/GetTagKeys/GetTagValues only see backends that implement moto's tagging
mixin, so tagged CloudTrail trails, EventBridge rules (only buses were reported),
GuardDuty detectors, OpenSearch domains, Route 53 Resolver query-log configs, AWS Config
rules and the Security Hub hub were missing. They are added here, region-scoped like AWS.

IAM roles are deliberately *not* added: AWS documents that GetResources does not support
IAM users and roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.core.resource_tagging import TaggedResource, make_tag_matcher, match_resource_type
from moto.events.models import EventsBackend
from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend

from ._patching import iter_existing_backends, patch


def _trails(account_id: str, region: str) -> Iterator[TaggedResource]:
    from moto.cloudtrail.models import cloudtrail_backends

    for backend in iter_existing_backends(cloudtrail_backends, account_id, region):
        for trail in backend.trails.values():
            tags = backend.tagging_service.get_tag_dict_for_resource(trail.arn)
            yield TaggedResource(arn=trail.arn, tags=tags, resource_type="cloudtrail:trail")


def _detectors(account_id: str, region: str) -> Iterator[TaggedResource]:
    from moto.guardduty.models import guardduty_backends
    from moto.utilities.utils import get_partition

    for backend in iter_existing_backends(guardduty_backends, account_id, region):
        for detector in backend.detectors.values():
            arn = f"arn:{get_partition(region)}:guardduty:{region}:{account_id}:detector/{detector.id}"
            yield TaggedResource(arn=arn, tags=dict(detector.tags or {}), resource_type="guardduty:detector")


def _domains(account_id: str, region: str) -> Iterator[TaggedResource]:
    from moto.opensearch.models import opensearch_backends

    for backend in iter_existing_backends(opensearch_backends, account_id, region):
        for domain in backend.domains.values():
            tags = backend.tagger.get_tag_dict_for_resource(domain.arn)
            yield TaggedResource(arn=domain.arn, tags=tags, resource_type="es:domain")


def _query_log_configs(account_id: str, region: str) -> Iterator[TaggedResource]:
    from moto.route53resolver.models import route53resolver_backends

    for backend in iter_existing_backends(route53resolver_backends, account_id, region):
        for config in backend.resolver_query_log_configs.values():
            tags = backend.tagger.get_tag_dict_for_resource(config.arn)
            yield TaggedResource(arn=config.arn, tags=tags, resource_type="route53resolver:resolver-query-log-config")


def _hub(account_id: str, region: str) -> Iterator[TaggedResource]:
    from moto.securityhub.models import securityhub_backends

    from .securityhub import hub_arn

    for backend in iter_existing_backends(securityhub_backends, account_id, region):
        if backend.enabled:
            tags = dict(getattr(backend, "tags", None) or {})
            yield TaggedResource(arn=hub_arn(backend), tags=tags, resource_type="securityhub:hub")


def _config_rules(account_id: str, region: str) -> Iterator[TaggedResource]:
    from moto.config.models import config_backends

    for backend in iter_existing_backends(config_backends, account_id, region):
        for rule in backend.config_rules.values():
            yield TaggedResource(
                arn=rule.config_rule_arn, tags=dict(rule.tags or {}), resource_type="config:config-rule"
            )


_EXTRA_SOURCES = (_trails, _detectors, _domains, _query_log_configs, _hub, _config_rules)


def extra_resources(account_id: str, region: str) -> Iterator[TaggedResource]:
    for source in _EXTRA_SOURCES:
        yield from source(account_id, region)


def _unique(*sources: Iterator[str]) -> Iterator[str]:
    seen: set[str] = set()
    for source in sources:
        for item in source:
            if item not in seen:
                seen.add(item)
                yield item


def install() -> None:
    orig_resources = ResourceGroupsTaggingAPIBackend._get_resources_generator
    orig_keys = ResourceGroupsTaggingAPIBackend._get_tag_keys_generator
    orig_values = ResourceGroupsTaggingAPIBackend._get_tag_values_generator
    orig_events_iter = EventsBackend.iter_tagged_resources

    def get_resources_generator(
        self: ResourceGroupsTaggingAPIBackend,
        tag_filters: list[dict[str, Any]] | None = None,
        resource_type_filters: list[str] | None = None,
        resource_arn_list: list[str] | None = None,
    ) -> Iterator[TaggedResource]:
        yield from orig_resources(self, tag_filters, resource_type_filters, resource_arn_list)
        matcher = make_tag_matcher(tag_filters)
        for resource in extra_resources(self.account_id, self.region_name):
            if not resource.tags:
                continue
            if not match_resource_type(resource.resource_type, resource_type_filters):
                continue
            if not matcher(resource.tags):
                continue
            if resource_arn_list and resource.arn not in resource_arn_list:
                continue
            yield resource

    def get_tag_keys_generator(self: ResourceGroupsTaggingAPIBackend) -> Iterator[str]:
        extra = (k for r in extra_resources(self.account_id, self.region_name) for k in r.tags)
        yield from _unique(orig_keys(self), extra)

    def get_tag_values_generator(self: ResourceGroupsTaggingAPIBackend, tag_key: str) -> Iterator[str]:
        extra = (r.tags[tag_key] for r in extra_resources(self.account_id, self.region_name) if tag_key in r.tags)
        yield from _unique(orig_values(self, tag_key), extra)

    def events_iter_tagged_resources(self: EventsBackend) -> Iterator[TaggedResource]:
        yield from orig_events_iter(self)
        for bus in self.event_buses.values():
            for rule in bus.rules.values():
                yield TaggedResource(
                    arn=rule.arn,
                    tags=self.tagger.get_tag_dict_for_resource(rule.arn),
                    resource_type="events:rule",
                )

    patch(ResourceGroupsTaggingAPIBackend, "_get_resources_generator", get_resources_generator)
    patch(ResourceGroupsTaggingAPIBackend, "_get_tag_keys_generator", get_tag_keys_generator)
    patch(ResourceGroupsTaggingAPIBackend, "_get_tag_values_generator", get_tag_values_generator)
    patch(EventsBackend, "iter_tagged_resources", events_iter_tagged_resources)
