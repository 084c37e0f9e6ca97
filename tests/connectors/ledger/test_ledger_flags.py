from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.ledger import Ledger, LedgerError, UnknownOrder

FLAG_METHODS = [("mark_paid", "paid", "paid"), ("mark_packed", "packed", "packed"),
                ("close_order", "closed", "closed"), ("void", "void", "voided")]


@pytest.mark.parametrize(("method", "flag", "kind"), FLAG_METHODS)
def test_each_flag_is_set_once(imported: Ledger, method: str, flag: str, kind: str) -> None:
    mark: Callable[..., bool] = getattr(imported, method)
    assert mark(101, origin="user", note="by hand") is True
    assert mark(101, origin="store") is False
    state = imported.state_of(101)
    assert state[flag] is True
    assert [k for k, v in state.items() if v is True] == sorted(
        {"imported", "billed", flag}, key=list(state).index)
    assert [(e.kind, e.origin, e.note) for e in imported.history(101)[1:]] == [
        (kind, "user", "by hand")]


def test_refund_a_paid_order(imported: Ledger) -> None:
    imported.mark_paid(101, origin="store")
    assert imported.refund(101, origin="user") is True
    assert imported.refund(101, origin="user") is False
    assert imported.state_of(101)["refunded"] is True
    assert [e.kind for e in imported.history(101)] == ["imported", "paid", "refunded"]


@pytest.mark.parametrize("method", ["mark_paid", "mark_packed", "close_order", "void", "refund"])
def test_an_unknown_order_is_a_clear_error(ledger: Ledger, method: str) -> None:
    with pytest.raises(UnknownOrder) as info:
        getattr(ledger, method)(404, origin="store")
    assert str(info.value) == "order 404 is not in the ledger (import it first)"
    assert info.value.order_id == 404


def test_unknown_origin_is_refused(imported: Ledger) -> None:
    with pytest.raises(LedgerError) as info:
        imported.mark_paid(101, origin="webhook")
    assert str(info.value) == "origin must be one of store, user, rulesync, got 'webhook'"
    assert imported.state_of(101)["paid"] is False


def test_change_time_is_stored_in_utc(imported: Ledger) -> None:
    at = datetime(2026, 11, 27, 12, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    imported.mark_paid(101, origin="store", at=at)
    assert imported.history(101)[-1].at == "2026-11-27T10:00:05+00:00"


def test_naive_change_time_is_refused(imported: Ledger) -> None:
    with pytest.raises(LedgerError, match="must carry a timezone"):
        imported.mark_paid(101, origin="store", at=datetime(2026, 11, 27, 10, 0))


def test_default_change_time_is_now(imported: Ledger) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    imported.mark_packed(101, origin="user")
    assert datetime.fromisoformat(imported.history(101)[-1].at) >= before
