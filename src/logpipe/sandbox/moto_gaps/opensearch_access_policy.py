"""OpenSearch Service gap: clearing a domain's access policy.

UpdateDomainConfig with ``AccessPolicies=""`` removes the domain's resource policy on AWS (the
member's minimum length is 0; DescribeDomain then reports ``""``). moto keeps the old policy
because it treats an empty value as "not given". Filled in the response layer, where an empty
string can still be told apart from an absent member.
"""

from __future__ import annotations

import json
from typing import Any

from moto.opensearch.responses import OpenSearchServiceResponse

from ._patching import original, patch


def install() -> None:
    def update_domain_config(self: OpenSearchServiceResponse) -> Any:
        clear = self._get_param("AccessPolicies") == ""
        result = original(OpenSearchServiceResponse, "update_domain_config")(self)
        if not clear:
            return result
        domain = self.opensearch_backend.describe_domain(self._get_param("DomainName"))
        domain.access_policies = ""
        return json.dumps({"DomainConfig": domain.to_config_dict()})

    patch(OpenSearchServiceResponse, "update_domain_config", update_domain_config)
