"""End-to-end check: send a marked test record into each pipeline, wait for it in OpenSearch, and
say why at once when it cannot arrive.

Each pipeline declares its probes (how to inject a record that carries a unique marker, which
field of which index pattern holds the marker once indexed, and where its data path records
failures). Before sending, the pipeline's OpenSearch pieces are read: a missing template or role
mapping, and an index whose fields are typed otherwise than the template says, fail the probe
with the fix, without waiting. While waiting, the failure records (the stream's error log, the
backup bucket's failure prefix, the Lambda's errors) are read each round; one written since the
record was sent fails the probe with what it says.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from logpipe.aws import error_message
from logpipe.engine.context import Context
from logpipe.engine.runner import Engine, Item
from logpipe.errors import LogpipeError
from logpipe.opensearch import indices
from logpipe.pipelines import search
from logpipe.pipelines.base import BucketFailures, ErrorSource, LogGroupErrors, Pipeline, Probe

# Objects written a little before the send still belong to it (clocks of S3 and this machine differ).
CLOCK_SKEW_SECONDS = 5.0


def new_marker() -> str:
    return f"logpipe-verify-{uuid.uuid4().hex[:16]}"


def preflight(ctx: Context, engine: Engine, pipelines: list[Pipeline]) -> dict[str, str]:
    """pipeline -> why its record cannot arrive, found before sending anything (pieces and mappings)."""
    declared = {p.name: search.pieces(ctx, p).resources for p in pipelines}
    reported = [
        item
        for item in engine.status(declared)
        if item.resource.pipeline in declared and item.state in ("missing", "drifted", "error", "not-owned")
    ]
    problems: dict[str, list[str]] = {}
    for owner in declared:
        mine = [item for item in reported if item.resource.pipeline == owner]
        # What `up` makes again is listed by state, with the one fix at the end.
        fixable = {state: [_piece(i) for i in mine if i.state == state] for state in ("missing", "drifted")}
        found = "; ".join(f"{state}: {', '.join(pieces)}" for state, pieces in fixable.items() if pieces)
        problems[owner] = ([f"{found}; run `logpipe up {owner}`"] if found else []) + [
            f"{_piece(i)} is {i.state}" for i in mine if i.state in ("error", "not-owned")
        ]
    for pipeline in pipelines:
        spec = pipeline.index(ctx)
        try:
            wrong = indices.mismapped(ctx.opensearch, spec.pattern, spec.expected_types(), required=spec.time_field)
        except LogpipeError as exc:
            problems.setdefault(pipeline.name, []).append(str(exc))
            continue
        for found in wrong:
            problems.setdefault(pipeline.name, []).append(
                f"index {found.index}: {found.reason}; repair with `{search.repair_command(pipeline.name)}`"
            )
    return {name: "; ".join(lines) for name, lines in problems.items() if lines}


def _piece(item: Item) -> str:
    return item.resource.describe() + (f" ({item.detail})" if item.detail else "")


def run_probes(
    ctx: Context,
    probes: list[Probe],
    *,
    blocked: dict[str, str] | None = None,
    timeout: float = 300.0,
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Probe]:
    """Send every probe (but those of ``blocked`` pipelines, which fail with the reason given), then
    poll until each is found, a failure record explains it, or the timeout."""
    blocked = blocked or {}
    for probe in probes:
        probe.marker = new_marker()
        if probe.pipeline in blocked:
            probe.error = f"not sent: {blocked[probe.pipeline]}"
            continue
        probe.sent_at = time.monotonic()
        probe.sent_epoch = time.time()
        try:
            probe.send(ctx, probe.marker)
            ctx.progress(f"{probe.pipeline}: sent {probe.marker} into {probe.entry}")
        except Exception as exc:  # one pipeline's failure must not hide the others
            probe.error = f"could not send the test record: {_describe(exc)}"
    deadline = time.monotonic() + timeout
    waiting = [p for p in probes if p.error is None]
    while waiting:
        for probe in list(waiting):
            if _arrived(ctx, probe) or _explained(ctx, probe):
                waiting.remove(probe)
        if not waiting or time.monotonic() >= deadline:
            break
        ctx.progress(f"waiting for {', '.join(p.pipeline for p in waiting)} ...")
        sleep(interval)
    for probe in waiting:
        probe.error = (
            f"not in {probe.index_pattern} after {int(timeout)} s (field {probe.field} = {probe.marker}); "
            "no delivery error was recorded: the source may still be buffering (Firehose waits up to its "
            "buffer interval), try a longer --timeout"
        )
    return probes


def _arrived(ctx: Context, probe: Probe) -> bool:
    try:
        document = indices.find_marker(ctx.opensearch, probe.index_pattern, probe.field, probe.marker)
    except LogpipeError as exc:
        probe.error = f"cannot search {probe.index_pattern}: {exc}"
        return True
    if document is None:
        return False
    probe.found_after = time.monotonic() - probe.sent_at
    probe.document = document
    ctx.progress(f"{probe.pipeline}: found in {probe.index_pattern} after {probe.found_after:.0f} s")
    return True


def _explained(ctx: Context, probe: Probe) -> bool:
    """Whether a failure record written since the probe was sent says why it did not arrive."""
    for source in probe.errors:
        try:
            reason = _recorded_failure(ctx, source, probe.sent_epoch - CLOCK_SKEW_SECONDS)
        except (ClientError, BotoCoreError) as exc:
            ctx.progress(f"{probe.pipeline}: cannot read {_where(source)}: {_describe(exc)}")
            continue
        if reason:
            probe.error = f"{source.what} recorded a failure since the record was sent: {reason}"
            return True
    return False


def _recorded_failure(ctx: Context, source: ErrorSource, since: float) -> str | None:
    if isinstance(source, BucketFailures):
        return _bucket_failure(ctx, source, since)
    return _log_failure(ctx, source, since)


def _bucket_failure(ctx: Context, source: BucketFailures, since: float) -> str | None:
    s3 = ctx.aws.client("s3")
    try:
        listing = s3.list_objects_v2(Bucket=source.bucket, Prefix=source.prefix)
    except ClientError as exc:
        if "NoSuchBucket" in error_message(exc):
            return None
        raise
    fresh = [o for o in listing.get("Contents") or [] if o["LastModified"].timestamp() >= since]
    if not fresh:
        return None
    newest = max(fresh, key=lambda o: o["LastModified"])
    text = s3.get_object(Bucket=source.bucket, Key=newest["Key"])["Body"].read(65536).decode("utf-8", "replace")
    where = f"s3://{source.bucket}/{newest['Key']}"
    return f"{len(fresh)} object(s) of failed records, newest {where}: {_failure_reason(text)}"


def _failure_reason(text: str) -> str:
    """The error a parked record carries (Firehose: errorCode/errorMessage; logpipe's: error.reason)."""
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("errorMessage") or entry.get("errorCode"):
            return f"{entry.get('errorCode', '')}: {entry.get('errorMessage', '')}".strip(": ")
        error = entry.get("error") or entry.get("reason")
        if isinstance(error, dict):
            return f"{error.get('type', '')}: {error.get('reason', '')}".strip(": ")
        if error:
            return str(error)[:500]
    return text[:300]


def _log_failure(ctx: Context, source: LogGroupErrors, since: float) -> str | None:
    logs = ctx.aws.client("logs")
    try:
        found = logs.filter_log_events(
            logGroupName=source.log_group, startTime=int(since * 1000), filterPattern=source.pattern, limit=5
        )
    except ClientError as exc:
        if "ResourceNotFoundException" in error_message(exc):
            return None
        raise
    events = found.get("events") or []
    if not events:
        return None
    return f"{source.log_group}: {events[0].get('message', '').strip()[:500]}"


def _where(source: ErrorSource) -> str:
    if isinstance(source, BucketFailures):
        return f"s3://{source.bucket}/{source.prefix}"
    return source.log_group


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return error_message(exc)
    return str(exc) or type(exc).__name__
