"""Where a resource's tags come from: the run's one listing of this stack, or the resource's own API.

The Resource Groups Tagging API answers in one paginated call with every resource tagged
``logpipe:stack=<prefix>`` and ``managed-by=logpipe``, with all their tags; logpipe asks it once
per run (leftovers use the same answer). It is an index AWS keeps beside the services, and it
may lag behind them for a resource tagged moments ago. So it only ever *confirms* the steady
state: a resource it lists with logpipe's ownership tags and every tag logpipe wants there is
logpipe's, with those tags. Anything else (not listed, listed with other values, a service
the API does not cover, the API refused) is read from the resource's own API, which decides.
``teardown`` never takes the index's word (``ctx.confirm_ownership``): before deleting, every
resource's tags are read from its own API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from logpipe.engine.context import OWNER_TAG, OWNER_VALUE, STACK_TAG
from logpipe.resources.common import tag_dict

if TYPE_CHECKING:
    from logpipe.engine.context import Context


def stack_listing(ctx: Context) -> dict[str, dict[str, str]]:
    """ARN -> tags of every resource the tagging API lists as this stack's; {} when it cannot be asked."""
    filters = [{"Key": STACK_TAG, "Values": [ctx.prefix]}, {"Key": OWNER_TAG, "Values": [OWNER_VALUE]}]
    mappings = ctx.aws.pages_once(
        "resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList", TagFilters=filters
    )
    return {m["ResourceARN"]: tag_dict(m.get("Tags")) for m in mappings}


def tags_of(ctx: Context, arn: str, want: dict[str, str], read: Callable[[], dict[str, str]]) -> dict[str, str]:
    """The tags of ``arn``: as listed for this stack when that shows logpipe's steady state, else ``read()``."""
    if not ctx.confirm_ownership:
        try:
            listed = stack_listing(ctx).get(arn)
        except (ClientError, BotoCoreError):
            listed = None
        if listed is not None and ctx.owns(listed) and all(listed.get(k) == v for k, v in want.items()):
            return listed
    return read()
