"""The retry set's side of a sync run: an order whose read, normalization, evaluation or action
failed is read or decided again when its next attempt is due, until it goes through."""
from __future__ import annotations

from engine.connect.ports import OrderChange
from engine.errors import OrderNotFound, StoreError
from engine.language.catalog import INBOUND, OUTBOUND
from engine.sync.actions import Decisions, raise_if_unauthorized
from engine.sync.progress import RETRIES
from engine.sync.summary import Summary


class Retrying(Decisions):
    """Reading an order again (a webhook's, a retry's, one found stale) and the retries."""

    def refresh(self, order_id: int, summary: Summary, *, shipments_changed: bool = False
                ) -> None:
        """Inbound for one order, read now: a webhook's order, a retry, or one found stale.

        An order the store will not give (403, 422, a 5xx after the client's retries) goes to
        the retry set; a missing one (404) and a refused token (401) raise, for the caller."""
        try:
            change = self.store.order_change(order_id, self.state.known_items_shipped)
        except StoreError as e:
            if isinstance(e, OrderNotFound):
                raise
            raise_if_unauthorized(e)
            self.fail_order(order_id, INBOUND, str(e), summary)
            return
        self.store_change(change, summary, shipments_changed=shipments_changed)

    def store_change(self, change: OrderChange, summary: Summary, *,
                     shipments_changed: bool = False) -> None:
        raise NotImplementedError  # engine/sync/run.py

    def retry_due(self, summary: Summary, direction: str | None = None) -> int:
        """Retry the orders whose next attempt is due (in `direction`, or both; not those this
        run read already); returns how many were retried."""
        due = [e for e in self.retries.due(self.clock())
               if direction in (None, e["direction"])
               and not (e["direction"] == INBOUND and e["order_id"] in summary.read)]
        for entry in self._steps(RETRIES, due):
            self.retry(entry["order_id"], entry["direction"], summary)
        return len(due)

    def retry(self, order_id: int, direction: str, summary: Summary) -> None:
        """Inbound: read the order from the store again and sync it (failed actions of events
        derived again run again). Outbound: decide the events whose evaluation failed again and
        run the failed pushes again. Success takes the order out of the retry set."""
        mark, shown = len(summary.failures), len(summary.actions)
        if direction == INBOUND:
            try:
                self.refresh(order_id, summary, shipments_changed=True)
            except OrderNotFound as e:
                self.fail_order(order_id, INBOUND, f"not in the store: {e}", summary)
        else:
            for decision in self.state.failed_decisions(order_id, OUTBOUND):
                self._decide(self.rulesets[OUTBOUND], decision["event"],
                             self.ledger.state_of(order_id), summary)
            for row in self.state.failed_actions(order_id, OUTBOUND):
                self.state.reopen_action(row["key"], self.now())
                self._execute(self.state.action(row["key"]) or {}, summary)
            if not summary.failed_since(mark, order_id, OUTBOUND):
                self._succeeded(order_id, OUTBOUND, summary)
        for action in summary.actions[shown:]:
            action["retry"] = True

    def retry_now(self, order_id: int) -> Summary:
        """Retry every entry of one order now, whatever its backoff says."""
        summary = Summary()
        with self.state.exclusive():
            for entry in self.retries.entries(order_id):
                self.retry(order_id, entry["direction"], summary)
            return self.tally(summary)
