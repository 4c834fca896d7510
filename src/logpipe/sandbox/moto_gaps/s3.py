"""S3 gap: tags given when a bucket is created.

``CreateBucket`` takes the bucket's tags in ``CreateBucketConfiguration.Tags`` (general purpose
buckets; the caller needs ``s3:TagResource``), so a bucket is never, even for a moment, without
them. moto ignores them; they are applied here as ``PutBucketTagging`` would.
"""

from __future__ import annotations

from typing import Any

import xmltodict
from moto.s3.responses import S3Response

from ._patching import original, patch


def _creation_tags(body: Any) -> dict[str, str]:
    if not body:
        return {}
    try:
        config = xmltodict.parse(body).get("CreateBucketConfiguration") or {}
    except Exception:  # not XML: not a configuration with tags
        return {}
    tags = (config.get("Tags") or {}).get("Tag") or []
    if isinstance(tags, dict):
        tags = [tags]
    return {t["Key"]: t.get("Value") or "" for t in tags}


def install() -> None:
    def bucket_response_put(self: S3Response, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        answer = original(S3Response, "_bucket_response_put")(self, request, bucket_name, querystring)
        if not querystring:  # CreateBucket: no sub-resource in the query string
            tags = _creation_tags(self.body)
            if tags:
                self.backend.put_bucket_tagging(bucket_name, tags)
        return answer

    patch(S3Response, "_bucket_response_put", bucket_response_put)
