"""Click commands only: parse options, call the session/engine, hand results to the printer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from logpipe import __version__, orphans
from logpipe import pipelines as registry
from logpipe.errors import LogpipeError, UsageError
from logpipe.render import Printer, dashboard_links
from logpipe.session import Options, Run

TARGETS_HELP = registry.targets_help()


def _command(func: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body, turning logpipe's errors into messages and exit codes."""

    @wraps(func)
    @click.pass_context
    def wrapper(click_ctx: click.Context, *args: Any, **kwargs: Any) -> None:
        options: Options = click_ctx.obj
        # Like the AWS CLI, --output and -v may also follow the command name.
        override = kwargs.pop("output_override", None)
        if override:
            options.output = override
        options.verbose += kwargs.pop("verbose_extra", 0)
        printer = Printer(options.output, options.verbose)
        try:
            code = func(options, printer, *args, **kwargs) or 0
        except LogpipeError as exc:
            printer.error(str(exc), exc.exit_code)
            code = exc.exit_code
        except KeyboardInterrupt:
            printer.error("interrupted; run the same command again to finish", 1)
            code = 130
        except click.exceptions.Abort:
            printer.error("cancelled", 1)
            code = 1
        except Exception as exc:  # a bug or an unexpected AWS/botocore fault: a message, not a traceback
            if options.verbose:
                import traceback

                traceback.print_exc(file=sys.stderr)
            hint = "" if options.verbose else " (run with -v for the traceback)"
            printer.error(f"unexpected error: {type(exc).__name__}: {exc}{hint}", 1)
            code = 1
        finally:
            printer.close()
        sys.exit(code)

    wrapper = click.option("-v", "--verbose", "verbose_extra", count=True, help="Same as the global -v.")(wrapper)
    return click.option(
        "-o", "--output", "output_override", type=click.Choice(["table", "json"]), help="Same as the global --output."
    )(wrapper)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-c", "--config", metavar="FILE", help="Config file [default: ./logpipe.yaml, then $LOGPIPE_CONFIG].")
@click.option("--profile", metavar="NAME", help="AWS named profile (as the AWS CLI's --profile).")
@click.option("--region", metavar="REGION", help="AWS region; overrides the config file.")
@click.option("--endpoint-url", metavar="URL", help="Send AWS API calls to this endpoint (e.g. a local emulator).")
@click.option("--sandbox", is_flag=True, help="Use the built-in local emulator (started on demand); no AWS account.")
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format."
)
@click.option("-v", "--verbose", count=True, help="Show each step and the API calls made (-vv: every write call).")
@click.version_option(__version__, prog_name="logpipe")
@click.pass_context
def main(click_ctx: click.Context, **kwargs: Any) -> None:
    """Build, check and remove AWS security-log pipelines into Amazon OpenSearch Service.

    \b
    Each pipeline brings its own OpenSearch pieces (index template, writer role
    mapping, index pattern, dashboard); `opensearch` shows them all and owns the
    access policy.

    \b
    Exit codes: 0 success/healthy; 1 a command ran and found trouble;
    2 usage, config or preflight error (nothing was changed).
    """
    click_ctx.obj = Options(**kwargs)


def _whole_stack(targets: tuple[str, ...]) -> bool:
    """Leftovers can only be told apart when every pipeline is in view."""
    return not targets or "all" in targets


def _leftover_lines(printer: Printer, leftovers: list[Any], verb: str) -> None:
    for orphan in leftovers:
        printer.note(f"  {verb} {orphan.service} {orphan.resource}")


def _summary(run: Run) -> dict[str, Any]:
    return run.counter.summary()


def _targets_argument() -> Callable:
    return click.argument("targets", nargs=-1, metavar="[TARGET]...")


@main.command(epilog=TARGETS_HELP)
@_targets_argument()
@click.option("--adopt", is_flag=True, help="Take over resources that exist under logpipe's names without its tags.")
@click.option(
    "--prune", is_flag=True, help="Delete leftovers: resources tagged as this stack's that no pipeline declares."
)
@_command
def up(options: Options, printer: Printer, targets: tuple[str, ...], adopt: bool, prune: bool) -> int:
    """Create or converge pipelines (idempotent). A second run changes nothing."""
    if prune and not _whole_stack(targets):
        raise UsageError("--prune needs every pipeline in view: use it with `up all` (or no target)")
    run = Run(options, reporter=printer.report, progress=printer.progress)
    pipelines = run.pipelines(targets)
    run.preflight(pipelines)
    printer.note(f"logpipe up: {', '.join(p.name for p in pipelines)} in {run.aws.region} (prefix {run.config.prefix})")
    items = run.engine.plan(run.declare(pipelines), adopt=adopt)
    run.engine.apply(items)
    failed = [i for i in items if i.result in ("failed", "skipped")]
    changed = [i for i in items if i.result in ("created", "updated", "adopted", "failed", "skipped")]
    leftovers = run.leftovers(items) if _whole_stack(targets) and not failed else []
    pruned = orphans.delete_all(run.ctx, leftovers) if prune else []
    prune_failed = [p for p in pruned if p["result"] != "deleted"]
    links = dashboard_links(items, run.ctx.outputs)
    summary = _summary(run)
    if printer.json:
        printer.document(
            {
                "ok": not failed and not prune_failed,
                "changes": [i.as_dict() for i in changed],
                "leftovers": [o.as_dict() for o in leftovers] if not prune else [],
                "pruned": pruned,
                "dashboards": links,
                "api_calls": summary,
            },
        )
    else:
        if not changed:
            printer.out.print("Everything is up to date: no changes made.")
        else:
            printer.items_table("changes", changed, column="result")
        printer.dashboard_links(links)
        if failed:
            printer.note(f"{len(failed)} resource(s) failed or were not attempted; run `logpipe up` again to finish.")
        if leftovers and not prune:
            printer.note(f"{len(leftovers)} leftover(s) from an earlier config (pass --prune to delete them):")
            _leftover_lines(printer, leftovers, "leftover")
    printer.api_calls(summary)
    return 1 if failed or prune_failed else 0


@main.command(epilog=TARGETS_HELP)
@_targets_argument()
@click.option("--adopt", is_flag=True, help="Plan as `up --adopt` would.")
@_command
def plan(options: Options, printer: Printer, targets: tuple[str, ...], adopt: bool) -> int:
    """Show what `up` would change; makes no change."""
    run = Run(options, progress=printer.progress)
    pipelines = run.pipelines(targets)
    run.preflight(pipelines)
    items = run.engine.plan(run.declare(pipelines), adopt=adopt)
    changes = [i for i in items if i.action != "noop"]
    problems = run.engine.problems(items)
    summary = _summary(run)
    if printer.json:
        printer.document(
            {
                "ok": not problems,
                "changes": [i.as_dict() for i in changes],
                "problems": problems,
                "api_calls": summary,
            }
        )
    elif changes:
        printer.plan_changes(changes)
        counts = {a: sum(1 for i in changes if i.action == a) for a in ("create", "update", "adopt")}
        printer.out.print(
            f"Plan: {counts['create']} to create, {counts['update']} to update, {counts['adopt']} to adopt"
            + (f", {len(problems)} problem(s) that stop `up`:" if problems else "")
        )
        for problem in problems:
            printer.out.print(f"  - {problem}", markup=False)
    else:
        printer.out.print("No changes: everything matches the config.")
    printer.api_calls(summary)
    if summary["write"]:
        raise LogpipeError(f"internal error: plan made {summary['write']} write call(s)")
    return 2 if problems else 0


@main.command(epilog=TARGETS_HELP)
@_targets_argument()
@click.option("-a", "--all", "show_all", is_flag=True, help="List every resource (also with -v), not only trouble.")
@_command
def status(options: Options, printer: Printer, targets: tuple[str, ...], show_all: bool) -> int:
    """One line per pipeline (resources, drift, newest document, problems), each dashboard's URL,
    then what is not ok.

    Resource states: ok / missing / drifted / not-owned / external. Exit 1 when anything is
    missing or drifted, an index is mis-mapped, or a pipeline had no document in 24 hours.
    """
    from logpipe.render import belongs_only_to, not_built, pipeline_summaries

    run = Run(options, progress=printer.progress)
    pipelines = run.pipelines(targets)
    run.preflight(pipelines)
    items = run.engine.status(run.declare(pipelines))
    health = [row for pipeline in pipelines for row in pipeline.health(run.ctx)]
    bad = [i for i in items if i.state in ("missing", "drifted", "not-owned", "error")]
    unhealthy = [h for h in health if not h.get("ok", True)]
    leftovers = run.leftovers(items) if _whole_stack(targets) else []
    healthy = not bad and not unhealthy and not leftovers
    summaries = pipeline_summaries([p.name for p in pipelines], items, health)
    links = dashboard_links(items, run.ctx.outputs)
    if printer.json:
        printer.document(
            {
                "healthy": healthy,
                "pipelines": summaries,
                "resources": [i.as_dict() for i in items],
                "health": health,
                "leftovers": [o.as_dict() for o in leftovers],
                "dashboards": links,
                "api_calls": _summary(run),
            }
        )
    else:
        printer.summary_table(summaries)
        printer.dashboard_links(links)
        if show_all or options.verbose:
            printer.items_table("resources", items)
            if health:
                _health_table(printer, health)
        else:
            # A pipeline never built is one line in the summary, not a list of every resource it lacks.
            unbuilt = not_built(summaries)
            listed = [i for i in bad if not belongs_only_to(i, set(unbuilt))]
            if listed:
                printer.items_table("not ok", listed)
            checks = [h for h in unhealthy if h.get("pipeline") not in unbuilt]
            if checks:
                _health_table(printer, checks)
            printer.not_built(unbuilt)
        if leftovers:
            printer.out.print(f"{len(leftovers)} leftover(s) tagged as this stack's that no pipeline declares:")
            for orphan in leftovers:
                printer.out.print(f"  {orphan.service} {orphan.resource}", markup=False)
            printer.out.print("  delete them with `logpipe up --prune` (or `logpipe teardown`)")
        printer.out.print(
            "healthy"
            if healthy
            else f"degraded: {len(bad)} resource(s), {len(unhealthy)} check(s), {len(leftovers)} leftover(s)"
        )
    printer.api_calls(_summary(run))
    return 0 if healthy else 1


def _health_table(printer: Printer, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="checks", title_justify="left")
    for name in ("pipeline", "check", "value", "detail"):
        table.add_column(name, overflow="fold")
    for row in rows:
        value = str(row.get("value", ""))
        style = "green" if row.get("ok", True) else "yellow"
        table.add_row(row.get("pipeline", ""), row.get("check", ""), f"[{style}]{value}[/]", row.get("detail", ""))
    printer.out.print(table)


@main.command(epilog=TARGETS_HELP)
@_targets_argument()
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (required without a terminal).")
@click.option(
    "--delete-data",
    is_flag=True,
    help="Also delete the pipelines' indices (their documents) and empty logpipe's buckets that hold objects.",
)
@_command
def teardown(options: Options, printer: Printer, targets: tuple[str, ...], yes: bool, delete_data: bool) -> int:
    """Remove what logpipe created, newest first; leaves everything else.

    The pipelines' indices and their documents are kept (OpenSearch holds your data, not
    logpipe) unless --delete-data.
    """
    from logpipe import maintenance

    run = Run(options, reporter=printer.report, progress=printer.progress)
    pipelines = run.pipelines(targets, for_teardown=True)
    run.preflight([])
    run.ctx.delete_data = delete_data
    items = run.engine.plan_teardown(run.declare(pipelines), keep=run.others_keys(pipelines))
    doomed = [i for i in items if i.action == "delete"]
    kept = [i for i in items if i.action == "keep"]
    leftovers = run.leftovers(items) if _whole_stack(targets) else []
    try:
        data = maintenance.pipeline_indices(run, pipelines)
    except LogpipeError as exc:  # a domain that is gone or refuses us holds no data we could delete
        printer.note(f"the pipelines' indices could not be listed: {exc}")
        data = {}
    if (doomed or leftovers or (delete_data and data)) and not yes:
        if not sys.stdin.isatty():
            raise UsageError("teardown deletes resources: pass --yes to confirm when not running in a terminal")
        printer.items_table("to delete", doomed, column="action")
        _leftover_lines(printer, leftovers, "leftover to delete:")
        if delete_data:
            for index, documents in sorted(data.items()):
                printer.note(f"  index to delete: {index} ({documents} document(s))")
        count = len(doomed) + len(leftovers) + (len(data) if delete_data else 0)
        if not click.confirm(f"Delete these {count} resource(s)?", default=False, err=True):
            raise UsageError("teardown cancelled; nothing was deleted")
    # Before the access policy statements go: without them the domain may no longer let us in.
    removed_indices = maintenance.delete_indices(run, sorted(data)) if delete_data else []
    if doomed:
        run.engine.teardown(items)
    pruned = orphans.delete_all(run.ctx, leftovers)
    failed = [i for i in doomed if i.result in ("failed", "skipped")] + [p for p in pruned if p["result"] != "deleted"]
    summary = _summary(run)
    if printer.json:
        printer.document(
            {
                "ok": not failed,
                "changes": [i.as_dict() for i in doomed],
                "leftovers": pruned,
                "kept": [i.as_dict() for i in kept],
                "indices_deleted": removed_indices,
                "indices_kept": {} if delete_data else data,
                "api_calls": summary,
            }
        )
    else:
        if doomed:
            printer.items_table("teardown", doomed, column="result")
        for entry in pruned:
            printer.out.print(f"{entry['result']} leftover {entry['service']} {entry['resource']}", markup=False)
        if not doomed and not pruned:
            printer.out.print("Nothing to delete: logpipe owns no resources for these targets.")
        for item in kept:
            printer.note(f"kept {item.resource.kind} {item.resource.name}: {item.detail or 'not created by logpipe'}")
        for index in removed_indices:
            printer.out.print(f"deleted index {index} ({data[index]} document(s))", markup=False)
        if data and not delete_data:
            documents = sum(data.values())
            printer.note(
                f"kept {len(data)} index(es) with {documents} document(s): OpenSearch holds your data; "
                "`logpipe teardown --delete-data` deletes them"
            )
    printer.api_calls(summary)
    return 1 if failed else 0


@main.command(epilog=registry.targets_help(data_only=True))
@_targets_argument()
@click.option("--timeout", default=300, show_default=True, type=click.IntRange(1, 3600), help="Seconds to wait.")
@_command
def verify(options: Options, printer: Printer, targets: tuple[str, ...], timeout: int) -> int:
    """Send a marked test record through each pipeline and wait for it in OpenSearch.

    A missing template or role mapping, an index typed otherwise than the template says, or a
    delivery failure the pipeline recorded ends the wait at once, with what to do about it.
    """
    from logpipe.verify import preflight, run_probes

    run = Run(options, progress=printer.progress)
    pipelines = [p for p in run.pipelines(targets) if p.carries_data]
    run.preflight(pipelines)
    probes = [probe for pipeline in pipelines for probe in pipeline.probes(run.ctx)]
    if not probes:
        raise UsageError("nothing to verify: none of these targets carries log data")
    blocked = preflight(run.ctx, run.engine, pipelines)
    run_probes(run.ctx, probes, blocked=blocked, timeout=timeout, interval=1.0 if run.ctx.sandbox else 10.0)
    ok = all(p.found_after is not None for p in probes)
    if printer.json:
        printer.document({"ok": ok, "probes": [p.as_dict() for p in probes], "api_calls": _summary(run)})
    else:
        from rich.table import Table

        table = Table(title="verify", title_justify="left")
        for name in ("pipeline", "entry", "index", "result"):
            table.add_column(name, overflow="fold")
        for probe in probes:
            result = (
                f"[green]arrived after {probe.found_after:.0f} s[/]"
                if probe.found_after is not None
                else f"[red]{_escape(probe.error or '')}[/]"
            )
            table.add_row(probe.pipeline, probe.entry, probe.index_pattern, result)
        printer.out.print(table)
    printer.api_calls(_summary(run))
    return 0 if ok else 1


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


# sandbox ----------------------------------------------------------------------
@main.group()
def sandbox() -> None:
    """The local emulator used by --sandbox (moto + osmem-server + OpenSearch stand-in, loopback only)."""


@sandbox.command("start")
@click.option(
    "--engine",
    type=click.Choice(["emulator", "opensearch"]),
    help="emulator: embedded, no Java (default); opensearch: the real engine from the cache "
    "(fetch: python -m logpipe.sandbox.real_engine fetch). Env: LOGPIPE_SANDBOX_ENGINE.",
)
@click.option(
    "--engine-version",
    metavar="VERSION",
    help="The domain's engine, e.g. OpenSearch_2.11 or Elasticsearch_7.10 (the emulator then refuses what "
    "that version refuses) [default: OpenSearch_2.17; real: 2.19]. Env: LOGPIPE_SANDBOX_ENGINE_VERSION.",
)
@_command
def sandbox_start(options: Options, printer: Printer, engine: str | None, engine_version: str | None) -> int:
    """Start the emulator in the background, seeded with the lab's starting point."""
    from logpipe.sandbox import control

    info = control.ensure_running(
        region=options.region or "ap-northeast-2",
        progress=printer.progress,
        engine=engine,
        engine_version=engine_version,
    )
    _print_sandbox(printer, info)
    return 0


@sandbox.command("stop")
@_command
def sandbox_stop(options: Options, printer: Printer) -> int:
    """Stop the emulator; its state is discarded."""
    from logpipe.sandbox import control

    stopped = control.stop()
    if printer.json:
        printer.document({"stopped": stopped})
    else:
        printer.out.print("sandbox stopped" if stopped else "sandbox was not running")
    return 0


@sandbox.command("status")
@_command
def sandbox_status(options: Options, printer: Printer) -> int:
    """Show whether the emulator runs and its endpoints (exit 1 when it is not running)."""
    from logpipe.sandbox import control

    info = control.status()
    if info is None:
        if printer.json:
            printer.document({"running": False})
        else:
            printer.out.print("sandbox is not running (start it with `logpipe sandbox start`)")
        return 1
    _print_sandbox(printer, info)
    return 0


def _print_sandbox(printer: Printer, info: dict[str, Any]) -> None:
    if printer.json:
        printer.document({"running": True, **info})
        return
    for key in ("aws_endpoint_url", "opensearch_url", "engine", "engine_version", "region", "pid", "state_dir"):
        if key in info:
            printer.out.print(f"{key}: {info[key]}")


# securityhub ------------------------------------------------------------------
@main.group()
def securityhub() -> None:
    """Security Hub pipeline helpers."""


@securityhub.command("sample-findings")
@click.option(
    "--type",
    "finding_types",
    multiple=True,
    metavar="TYPE",
    help="GuardDuty finding type, e.g. Recon:EC2/PortProbeUnprotectedPort (repeatable) [default: every type].",
)
@_command
def securityhub_sample_findings(options: Options, printer: Printer, finding_types: tuple[str, ...]) -> int:
    """Ask GuardDuty for sample findings, to watch them flow through Security Hub to OpenSearch."""
    from logpipe.securityhub_findings import create_sample_findings

    run = Run(options, progress=printer.progress)
    run.preflight([])
    result = create_sample_findings(run.ctx, list(finding_types))
    if printer.json:
        printer.document({"ok": True, **result, "api_calls": _summary(run)})
    else:
        from rich.table import Table

        table = Table(title="sample findings requested", title_justify="left")
        for name in ("region", "detector", "finding types"):
            table.add_column(name, overflow="fold")
        types = result["finding_types"]
        table.add_row(result["region"], result["detector_id"], "all" if types == "all" else "\n".join(types))
        printer.out.print(table)
        printer.note(result["note"])
    printer.api_calls(_summary(run))
    return 0


# opensearch -------------------------------------------------------------------
@main.group()
def opensearch() -> None:
    """The OpenSearch side: access policy, every pipeline's templates, roles and patterns, repairs.

    `logpipe up P` builds P's pieces; `up opensearch` builds every enabled pipeline's at once.
    These commands inspect them and repair indices created with a wrong mapping.
    """


@opensearch.command("status")
@_command
def opensearch_status(options: Options, printer: Printer) -> int:
    """Access policy, templates, writer roles, role mappings, index patterns, dashboards; mapping and freshness."""
    from logpipe import maintenance

    run = Run(options, progress=printer.progress)
    items, rows = maintenance.status(run)
    bad = [i for i in items if i.state in ("missing", "drifted", "not-owned", "error")]
    healthy = not bad and all(r.get("ok", True) for r in rows)
    if printer.json:
        printer.document(
            {"healthy": healthy, "resources": [i.as_dict() for i in items], "health": rows, "api_calls": _summary(run)}
        )
    else:
        printer.items_table("opensearch", items)
        _health_table(printer, rows)
        unhealthy = sum(1 for r in rows if not r.get("ok", True))
        printer.out.print("healthy" if healthy else f"degraded: {len(bad)} resource(s), {unhealthy} check(s)")
    printer.api_calls(_summary(run))
    return 0 if healthy else 1


@opensearch.command("policy")
@_command
def opensearch_policy(options: Options, printer: Printer) -> int:
    """Show the domain access policy now and as `up` would leave it (changes nothing)."""
    import json

    from logpipe import maintenance

    run = Run(options, progress=printer.progress)
    preview = maintenance.policy_preview(run)
    if printer.json:
        printer.document(preview)
    else:
        printer.out.print(f"access_policy mode: {preview['mode']}")
        printer.out.print("current:", markup=False)
        printer.out.print(json.dumps(preview["current"], indent=2), markup=False)
        printer.out.print("after `logpipe up`:" if preview["changes"] else "no change needed", markup=False)
        if preview["changes"]:
            printer.out.print(json.dumps(preview["after"], indent=2), markup=False)
        for problem in preview["problems"]:
            printer.note(f"problem: {problem}")
    return 2 if preview["problems"] else 0


@opensearch.command("repair", epilog=f"PIPELINE: one of {', '.join(registry.REGISTRY)}.")
@click.argument("pipeline_name", metavar="PIPELINE")
@click.option("--reindex", "mode", flag_value="reindex", help="Rebuild each index from the template, keeping its data.")
@click.option("--delete", "mode", flag_value="delete", help="Delete each index and its data (the lab's clean-up).")
@click.option("-y", "--yes", is_flag=True, help="Do it without asking (required without a terminal).")
@click.option("--dry-run", is_flag=True, help="Only list the indices that would be repaired.")
@_command
def opensearch_repair(
    options: Options, printer: Printer, pipeline_name: str, mode: str | None, yes: bool, dry_run: bool
) -> int:
    """Repair PIPELINE's indices whose fields are typed otherwise than its template says.

    Such an index got its mapping by guesswork (documents arrived before the template). Choose
    --reindex to rebuild it with the template's mapping and keep its documents, or --delete to
    remove it. Indices mapped right are never touched.
    """
    return _repair(options, printer, pipeline_name, mode, yes, dry_run)


@opensearch.command("purge-flowlog")
@click.option("-y", "--yes", is_flag=True, help="Delete without asking (required without a terminal).")
@click.option("--dry-run", is_flag=True, help="Only list the indices that would be deleted.")
@_command
def opensearch_purge_flowlog(options: Options, printer: Printer, yes: bool, dry_run: bool) -> int:
    """The lab's FlowLog clean-up: `opensearch repair flowlog --delete`."""
    return _repair(options, printer, "flowlog", "delete", yes, dry_run)


def _repair(options: Options, printer: Printer, name: str, mode: str | None, yes: bool, dry_run: bool) -> int:
    from logpipe import maintenance

    if mode is None and not dry_run:
        raise UsageError("choose --reindex (keeps the documents) or --delete (removes them), or --dry-run")
    run = Run(options, progress=printer.progress)
    pipeline = maintenance.data_pipeline(run, name)
    candidates, good = maintenance.repair_candidates(run, pipeline)
    listing = [{"index": c.index, "documents": c.documents, "reason": c.reason} for c in candidates]
    if not printer.json:
        for entry in listing:
            printer.out.print(f"  {entry['index']}: {entry['documents']} document(s), {entry['reason']}", markup=False)
        if not candidates:
            printer.out.print(f"Nothing to repair: every {pipeline.index(run.ctx).pattern} index is mapped right.")
    done: list[str] = []
    if candidates and not dry_run:
        verb = "Rebuild" if mode == "reindex" else "Delete"
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError("repair changes indices: pass --yes to confirm when not running in a terminal")
            count = sum(c.documents for c in candidates)
            if not click.confirm(
                f"{verb} these {len(candidates)} index(es) ({count} documents)?", default=False, err=True
            ):
                raise UsageError("repair cancelled; nothing was changed")
        done = maintenance.repair_indices(run, pipeline, candidates, reindex=mode == "reindex")
        if not printer.json:
            past = "Rebuilt" if mode == "reindex" else "Deleted"
            printer.out.print(f"{past} {len(done)} index(es); {len(good)} correctly mapped index(es) untouched.")
    if printer.json:
        printer.document(
            {
                "pipeline": name,
                "mode": mode,
                "candidates": listing,
                "repaired": done,
                "kept": good,
                "dry_run": dry_run,
                "api_calls": _summary(run),
            }
        )
    printer.api_calls(_summary(run))
    return 0


if __name__ == "__main__":  # pragma: no cover
    main()
