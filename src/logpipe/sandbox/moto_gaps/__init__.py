"""What moto 5.2.5 lacks for logpipe, filled once for tests and for ``--sandbox``.

Call :func:`install` once per process, before the first mocked call and before starting a
``ThreadedMotoServer``. It patches moto's backend and response classes (not boto3), so the
in-process ``mock_aws`` and the moto server share the same behaviour. Each service module
says which gaps it fills; AWS request/response shapes and error codes are kept.

Besides :func:`install`:

- :func:`set_domain_endpoint` points an OpenSearch domain's ``Endpoint`` at a local server;
- :mod:`.deliveries` exposes what AWS would have delivered to Firehose streams and Lambda
  functions (moto drops it or needs Docker): :func:`add_delivery_listener`,
  :func:`recent_deliveries`, :func:`clear_deliveries`.
"""

from __future__ import annotations

import threading

from .deliveries import (
    Delivery,
    add_delivery_listener,
    clear_deliveries,
    recent_deliveries,
    remove_delivery_listener,
)
from .opensearch import set_domain_endpoint

__all__ = [
    "Delivery",
    "add_delivery_listener",
    "clear_deliveries",
    "install",
    "installed",
    "recent_deliveries",
    "remove_delivery_listener",
    "set_domain_endpoint",
]

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Patch moto in this process. Idempotent and thread-safe."""
    global _installed
    with _lock:
        if _installed:
            return
        from . import (
            _patching,
            awsconfig,
            cloudtrail,
            cloudtrail_delivery,
            events,
            eventual,
            firehose,
            guardduty,
            logs,
            opensearch,
            opensearch_access_policy,
            route53resolver,
            s3,
            securityhub,
            tagging,
            throttling,
            wafv2,
        )

        for module in (
            firehose,
            wafv2,
            logs,
            route53resolver,
            guardduty,
            securityhub,
            events,
            cloudtrail,
            cloudtrail_delivery,
            tagging,
            opensearch,
            opensearch_access_policy,
            awsconfig,
            eventual,
            throttling,
            s3,
        ):
            module.install()
        _patching.serialize_actions()
        _installed = True


def installed() -> bool:
    return _installed
