"""One exception root. User errors exit 1 with a one-line message; anything else is a bug."""
from __future__ import annotations


class RulesyncError(Exception):
    """An error the user can act on: printed as one line, exit code 1."""

    exit_code = 1


class ConfigError(RulesyncError):
    """A missing or invalid configuration, found before anything runs."""


class EvaluationError(RulesyncError):
    """A rule could not be evaluated for an event (a template or expression failed)."""


class DatabaseError(RulesyncError):
    """The database cannot be opened or used (a missing server, a locked or broken file).
    Raised by engine/storage/; here so that `serve`'s worker can tell the state itself failing
    from a sync failing without importing the storage."""

    def __init__(self, where: str, reason: str, doing: str = "use") -> None:
        super().__init__(f"cannot {doing} {where}: {reason}")
        self.where, self.reason, self.doing = where, reason, doing


# What the sync engine needs to tell apart in a connector's failures (engine/connect/ports.py); each
# connector's own errors derive from these, so the engine never imports a connector's classes.

class StoreError(RulesyncError):
    """The store could not be read or written. `status` is the API's status code, when any:
    401 (a refused token) stops a run, other failures go to the retry set."""

    status: int | None = None


class OrderNotFound(StoreError):
    """The store has no such order (any more)."""


class ActionFailed(RulesyncError):
    """One action cannot be done (the store or the OMS refused it): that action fails, the run
    goes on."""


class BadRecord(ValueError):
    """A field of a store record cannot be read; the message names it."""


class StaleOrder(Exception):
    """The store order changed since the inbound sync last read it: that change must be synced
    in first, or what a push writes would hide it."""
