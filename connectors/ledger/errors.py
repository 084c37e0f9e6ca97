"""Errors raised by the ledger. All are user errors (RulesyncError): one line, exit code 1."""
from __future__ import annotations

from engine.errors import ActionFailed


class LedgerError(ActionFailed):
    """The ledger refused a request: bad input, an unknown order, an unusable database file."""


class UnknownOrder(LedgerError):
    """The order was never imported into the ledger."""

    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} is not in the ledger (import it first)")
        self.order_id = order_id


class SchemaTooNew(LedgerError):
    """The database file was written by a newer rulesync than this one."""


class Conflict(LedgerError):
    """The change would move the order backwards (no silent downgrade): not applied.

    The caller records and shows it; nothing was written to the ledger.
    """

    def __init__(self, order_id: int, action: str, reason: str) -> None:
        super().__init__(f"order {order_id}: cannot {action}: {reason}")
        self.order_id = order_id
        self.action = action
        self.reason = reason
