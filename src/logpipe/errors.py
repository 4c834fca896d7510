"""Errors that map to logpipe's exit codes (DESIGN.md §2)."""

from __future__ import annotations


class LogpipeError(Exception):
    """A command ran and found trouble: exit 1."""

    exit_code = 1


class UsageError(LogpipeError):
    """Bad input that was refused before anything changed: exit 2."""

    exit_code = 2


class ConfigError(UsageError):
    """The config file is wrong; the message names the key path."""


class PreflightError(UsageError):
    """One or more preflight checks failed; nothing was changed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("preflight failed, nothing was changed:\n" + "\n".join(f"  - {p}" for p in problems))
