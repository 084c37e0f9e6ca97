"""One exception root. User errors exit 1 with a one-line message; anything else is a bug."""
from __future__ import annotations


class RulesyncError(Exception):
    """An error the user can act on: printed as one line, exit code 1."""

    exit_code = 1


class ConfigError(RulesyncError):
    """A missing or invalid configuration, found before anything runs."""


class EvaluationError(RulesyncError):
    """A rule could not be evaluated for an event (a template or expression failed)."""
