"""Money is a string with 4 decimals, e.g. '336.3200' (FACTS.md §4)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def money(value: object) -> str:
    """Format a number or numeric string the way v2 returns amounts."""
    try:
        return f"{Decimal(str(value)):.4f}"
    except InvalidOperation as e:
        raise ValueError(f"not an amount: {value!r}") from e


def total(*values: object) -> str:
    return money(sum((Decimal(str(v)) for v in values), Decimal(0)))


def times(price: object, quantity: int) -> str:
    return money(Decimal(str(price)) * quantity)
