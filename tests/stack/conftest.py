"""The whole stack in process: moto with the lab's starting point, an FGAC OpenSearch stand-in,
a few resources that belong to somebody else, and `logpipe` commands run as the CLI runs them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REGION
from tests.opensearch.conftest import fgac_domain
from tests.stack.support import Stack, foreign_resources


@pytest.fixture
def stack(lab: dict[str, Any], osmem_base: Any, write_config: Callable[..., Path]) -> Iterator[Stack]:
    from logpipe.sandbox.moto_gaps import eventual, throttling

    with fgac_domain(osmem_base, region=REGION) as standin:
        foreign = foreign_resources()
        path = write_config({"opensearch": {"endpoint_url": standin.url}})
        try:
            yield Stack(config=path, standin=standin, vpc_id=lab["vpc_id"], foreign=foreign)
        finally:
            eventual.reset()
            throttling.stop()
