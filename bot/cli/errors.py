"""The operator's commands' one error: a problem the operator can fix, reported in a line.

Its own module so that each command's module can raise it without importing the CLI's
entry point (which imports them all)."""

from __future__ import annotations


class CliError(Exception):
    """A problem the operator can fix; the message is the whole report."""
