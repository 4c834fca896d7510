"""Everything the CLI prints: tables and progress for people, one JSON document for scripts."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from logpipe.engine.runner import Item
from logpipe.resources.dashboard import KIND as DASHBOARD_KIND
from logpipe.resources.waiting import WaitNote

_STATE_STYLE = {
    "ok": "green",
    "external": "cyan",
    "missing": "yellow",
    "drifted": "yellow",
    "not-owned": "red",
    "error": "red",
}
_ACTION_STYLE = {
    "create": "green",
    "update": "yellow",
    "adopt": "yellow",
    "delete": "red",
    "conflict": "red",
    "missing-external": "red",
}
_VERB = {"start": "…", "done": "✓", "failed": "✗", "skipped": "-"}


class _WaitLines:
    """The live region: one line per ongoing wait, its seconds counted at each refresh."""

    def __init__(self, printer: Printer) -> None:
        self._printer = printer

    def __rich__(self) -> Group:
        # No printer lock here: rich renders under its own lock, which the printer takes while holding its.
        now = time.monotonic()
        waits = self._printer._wait_view
        # One screen line each (cut with an ellipsis), or the live region could not redraw itself.
        return Group(
            *(
                Text(f"  {text} … {now - since:.0f} s", style="yellow", no_wrap=True, overflow="ellipsis")
                for text, since in waits
            )
        )


class Printer:
    """Owns stdout/stderr for one command. JSON mode keeps stdout for the single document."""

    def __init__(self, output: str = "table", verbose: int = 0) -> None:
        self.json = output == "json"
        self.verbose = verbose
        # Piped output is read in logs and CI: don't squeeze tables into rich's 80-column default.
        width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
        self.out = Console(file=sys.stdout, highlight=False, soft_wrap=True, width=width)
        self.err = Console(file=sys.stderr, highlight=False, stderr=True, soft_wrap=True, width=width)
        self._lock = threading.RLock()
        self._started: dict[str, float] = {}
        # On a terminal each ongoing wait is one live line whose seconds tick; in logs, a line per round.
        self._waits: dict[str, tuple[str, float]] = {}
        self._wait_view: tuple[tuple[str, float], ...] = ()
        self._live: Live | None = None

    # progress (stderr) ------------------------------------------------------------
    def progress(self, message: str) -> None:
        with self._lock:
            if not isinstance(message, WaitNote) or not self.err.is_terminal:
                self.err.print(f"  {message}", markup=False)
                return
            if message.over:
                self._waits.pop(message.what, None)
                self.err.print(f"  {message}", markup=False)
            else:
                known = self._waits.get(message.what)
                since = known[1] if known else time.monotonic() - message.elapsed
                self._waits[message.what] = (message.split(" … ")[0], since)
            self._show_waits()

    def _show_waits(self) -> None:
        self._wait_view = tuple(self._waits.values())
        if self._waits and self._live is None:
            self._live = Live(_WaitLines(self), console=self.err, transient=True, refresh_per_second=4)
            self._live.start()
        elif not self._waits and self._live is not None:
            self._live.stop()
            self._live = None

    def close(self) -> None:
        """End the live wait lines (a wait cut short by an error or Ctrl-C leaves no line behind)."""
        with self._lock:
            self._waits.clear()
            self._show_waits()

    def report(self, event: str, item: Item) -> None:
        """Engine reporter: one line per resource as work starts and ends."""
        key = item.resource.key
        with self._lock:
            if event == "start":
                self._started[key] = time.monotonic()
                if self.verbose:
                    self.err.print(f"  … {item.action} {item.resource.kind} {item.resource.name}", markup=False)
                return
            took = time.monotonic() - self._started.get(key, time.monotonic())
            verb = item.result or event
            line = f"  {_VERB.get(event, ' ')} {verb} {item.resource.kind} {item.resource.name} ({took:.1f}s)"
            if item.error:
                line += f": {item.error}"
            style = "red" if event in ("failed", "skipped") else None
            self.err.print(line, style=style, markup=False)

    def note(self, message: str) -> None:
        self.err.print(message, markup=False)

    def error(self, message: str, exit_code: int) -> None:
        self.close()
        self.err.print(f"error: {message}", style="red", markup=False)
        if self.json:
            self.document({"ok": False, "error": message, "exit_code": exit_code})

    # results (stdout) -------------------------------------------------------------
    def document(self, data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def items_table(self, title: str, items: list[Item], *, column: str = "state") -> None:
        table = Table(title=title, title_justify="left", show_lines=False)
        for name in ("pipeline", "kind", "name", column, "detail"):
            table.add_column(name, overflow="fold")
        for item in items:
            value = item.state if column == "state" else (item.result or item.action)
            style = (_STATE_STYLE if column == "state" else _ACTION_STYLE).get(value)
            table.add_row(
                ",".join(item.pipelines),
                item.resource.kind,
                item.resource.name,
                f"[{style}]{value}[/]" if style else value,
                _escape(item.detail),
            )
        self.out.print(table)

    def summary_table(self, rows: list[dict[str, Any]]) -> None:
        """One line per pipeline: fits a 100-column terminal."""
        table = Table(title="pipelines", title_justify="left")
        for name in ("pipeline", "resources", "drift", "newest document", "problems"):
            table.add_column(name, overflow="fold")
        for row in rows:
            ok = row["ok"] == row["total"]
            style = "green" if ok and not row["problems"] else "yellow"
            table.add_row(
                row["pipeline"],
                f"[{style}]{row['ok']}/{row['total']} ok[/]",
                str(row["drifted"]) if row["drifted"] else "-",
                row["newest"] or "-",
                _escape(_glance(row)) or "-",
            )
        self.out.print(table)

    def not_built(self, names: list[str]) -> None:
        """The pipelines never built, and the one command that builds them."""
        if names:
            self.out.print(f"not built: {', '.join(names)}", markup=False)
            self.out.print(f"  build them with `logpipe up {' '.join(names)}`", markup=False)

    def dashboard_links(self, links: list[dict[str, str]]) -> None:
        """One line per dashboard, its URL whole (never folded, so it can be copied)."""
        if not links:
            return
        width = max(len(link["pipeline"]) for link in links)
        self.out.print("dashboards:", markup=False)
        for link in links:
            self.out.print(f"  {link['pipeline']:<{width}}  {link['url']}", markup=False)

    def plan_changes(self, items: list[Item]) -> None:
        """Terraform-style listing of what would change, with each differing property."""
        for item in items:
            style = _ACTION_STYLE.get(item.action, "")
            head = f"[{style}]{item.action:>8}[/]" if style else f"{item.action:>8}"
            self.out.print(f"{head} {item.resource.kind} {_escape(item.resource.name)}")
            for prop, (old, new) in sorted(item.changes.items()):
                self.out.print(f"           {prop}: {_escape(_short(old))} → {_escape(_short(new))}")
            note = "; ".join(n for n in (item.observed.note if item.observed else "", item.note) if n)
            if item.action in ("conflict", "missing-external"):
                note = item.detail
            if note:
                self.out.print(f"           {_escape(note)}")

    def api_calls(self, summary: dict[str, Any]) -> None:
        if not self.verbose:
            return
        self.err.print(f"API calls: {summary['read']} read, {summary['write']} write", markup=False)
        for service, counts in summary["by_service"].items():
            self.err.print(f"  {service}: {counts['read']} read, {counts['write']} write", markup=False)
        if self.verbose >= 2:
            for call in summary.get("write_calls", []):
                self.err.print(f"  write: {call}", markup=False)


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


# How many resource problems the summary names one by one; more are counted by state.
_NAMED_IN_SUMMARY = 2


def pipeline_summaries(names: list[str], items: list[Item], health: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per pipeline: resources ok of total, drifted count, age of the newest document, problems
    (its resources' first, then its failed checks), the count of each state other than ok, and
    whether it is built at all (``built``: False when none of its own resources exists)."""
    out = []
    for name in names:
        mine = [i for i in items if name in i.pipelines]
        rows = [h for h in health if h.get("pipeline") == name]
        trouble = [i for i in mine if i.state not in ("ok", "external")]
        not_ok = Counter(i.state for i in trouble)
        fresh = next((h for h in rows if h.get("check") == "freshness"), None)
        out.append(
            {
                "pipeline": name,
                "ok": len(mine) - len(trouble),
                "total": len(mine),
                "drifted": not_ok["drifted"],
                "newest": _newest(fresh),
                "problems": [f"{i.state}: {i.resource.kind} {i.resource.name}" for i in trouble]
                + [f"{h['check']}: {h['value']}" for h in rows if not h.get("ok", True)],
                "not_ok": dict(not_ok),
                "built": _built(name, mine),
            }
        )
    return out


def not_built(summaries: list[dict[str, Any]]) -> list[str]:
    """The pipelines of a status summary that have none of their own resources, in its order."""
    return [row["pipeline"] for row in summaries if not row["built"]]


def belongs_only_to(item: Item, pipelines: set[str]) -> bool:
    """Whether every pipeline ``item`` serves is among ``pipelines``; a piece the domain-wide
    ``opensearch`` side shares with pipelines belongs to those pipelines."""
    served = set(item.pipelines) - {"opensearch"} or {"opensearch"}
    return served <= pipelines


def _built(name: str, mine: list[Item]) -> bool:
    """False when every resource only this pipeline declares (beside the domain-wide
    ``opensearch`` pieces) is missing: nothing of it was ever made, or all was torn down."""
    own = [i for i in mine if set(i.pipelines) <= {name, "opensearch"} and i.state != "external"]
    return not own or any(i.state != "missing" for i in own)


def _glance(row: dict[str, Any]) -> str:
    """The summary's problems cell: short enough for one line in 100 columns; the resources
    themselves are listed under the summary."""
    if not row["built"]:
        return f"not built: logpipe up {row['pipeline']}"
    counts = row["not_ok"]
    resources = sum(counts.values())
    named, checks = row["problems"][:resources], row["problems"][resources:]
    if resources > _NAMED_IN_SUMMARY:
        named = [", ".join(f"{count} {state}" for state, count in counts.items())]
    return "; ".join(named + checks)


def dashboard_links(items: list[Item], outputs: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """pipeline, dashboard id and URL of every dashboard among ``items`` that is in place (read as
    logpipe's, or just made); ``outputs``: the run's resource outputs, where the URL is."""
    out = []
    seen: set[str] = set()
    for item in items:
        resource = item.resource
        if resource.kind != DASHBOARD_KIND or resource.key in seen or item.result in ("failed", "skipped"):
            continue
        in_place = item.result in ("created", "updated", "adopted") or item.state in ("ok", "drifted")
        url = outputs.get(resource.key, {}).get("url")
        if in_place and url:
            seen.add(resource.key)
            out.append({"pipeline": resource.pipeline, "dashboard": resource.name, "url": url})
    return out


def _newest(row: dict[str, Any] | None) -> str:
    """How long ago the newest document's time was, from a freshness row's detail."""
    if row is None:
        return ""
    stamp = row.get("newest")
    if not stamp:
        return "none"
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
