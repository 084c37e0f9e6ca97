"""Exact money and UTC dates from BigCommerce's wire formats (FACTS §4)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from engine.errors import BadRecord

_FOUR_PLACES = Decimal("0.0001")
# The form every BigCommerce date takes (FACTS §4), read without the general RFC 2822 parser;
# any other form goes through that parser.
_UTC_RFC2822 = re.compile(r"[A-Z][a-z]{2}, (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) \+0000")
_MONTHS = {name: n for n, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# Bounds on what a store may send as a number. Decimal accepts "1e1000000" as a finite value, and
# turning that into an int builds a million-digit number (tens of seconds of CPU): refuse it first.
MAX_INTEGER_DIGITS = 18  # ids and quantities fit in 64 bits
MAX_AMOUNT_DIGITS = 15  # a trillion in any currency, with four places, is still exact
MAX_PLACES = 12
_INTEGER_LIMIT = 10 ** MAX_INTEGER_DIGITS


class InvalidValue(BadRecord):
    """A field that cannot be read; the message names the field."""


def money(value: Any, field: str) -> Decimal:
    """'336.3200', 336.32 or 336 -> Decimal; the spec allows all three (FACTS §4)."""
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidValue(f"{field}: missing or not an amount ({value!r})")
    try:
        # str() first: Decimal(0.1) would carry the float's binary error into the amount.
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidValue(f"{field}: not an amount ({value!r})") from None
    if not amount.is_finite() or not _bounded(amount, MAX_AMOUNT_DIGITS, MAX_PLACES):
        raise InvalidValue(f"{field}: not an amount ({_short(value)})")
    return amount


def _bounded(number: Decimal, digits: int, places: int) -> bool:
    """At most `digits` digits before the point and `places` after it, checked without
    expanding the number."""
    exponent = number.as_tuple().exponent
    return (isinstance(exponent, int) and exponent >= -places
            and (number.is_zero() or number.adjusted() < digits))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def money_str(amount: Decimal) -> str:
    """Four places like the API ('5.1' -> '5.1000'); more places are kept, never rounded."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -4:
        amount = amount.quantize(_FOUR_PLACES)
    return format(amount, "f")


def utc_datetime(value: Any, field: str) -> datetime | None:
    """RFC 2822 (or ISO 8601) -> aware UTC; '' or None -> None (e.g. `date_shipped`)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidValue(f"{field}: not a date ({value!r})")
    usual = _UTC_RFC2822.fullmatch(value)
    if usual and usual[2] in _MONTHS:
        day, month, year, hour, minute, second = usual.groups()
        try:
            return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute),
                            int(second), tzinfo=UTC)
        except ValueError:
            pass  # no such day or time: the general parser says so
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidValue(f"{field}: not an RFC 2822 date ({value!r})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # responses are always UTC (FACTS §4)
    return parsed.astimezone(UTC)


def iso(value: Any, field: str, *, required: bool = False) -> str | None:
    parsed = utc_datetime(value, field)
    if parsed is None and required:
        raise InvalidValue(f"{field}: missing ({value!r})")
    return parsed.isoformat() if parsed else None


def _absent(value: Any) -> bool:
    """null, "" or an empty container: PHP-made JSON writes an empty object as [] too."""
    return value is None or (isinstance(value, str | list | dict) and not value)


def json_object(value: Any, field: str) -> Mapping[str, Any]:
    """A nested JSON object; an absent one (`_absent`) reads as {}."""
    if _absent(value):
        return {}
    if not isinstance(value, Mapping):
        raise InvalidValue(f"{field}: not an object ({_short(value)})")
    return value


def json_objects(value: Any, field: str) -> list[Mapping[str, Any]]:
    """A nested JSON array of objects; an absent one reads as []. `field[n]` names a bad one."""
    if _absent(value):
        return []
    if not isinstance(value, list):
        raise InvalidValue(f"{field}: not a list ({_short(value)})")
    for n, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise InvalidValue(f"{field}[{n}]: not an object ({_short(item)})")
    return value


def integer(value: Any, field: str, default: int | None = None) -> int:
    if type(value) is int and -_INTEGER_LIMIT < value < _INTEGER_LIMIT:
        return value  # what a JSON integer within bounds reads as, without a Decimal
    if value is None and default is not None:
        return default
    if isinstance(value, bool):
        raise InvalidValue(f"{field}: not an integer ({value!r})")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidValue(f"{field}: not an integer ({_short(value)})") from None
    if (not number.is_finite() or not _bounded(number, MAX_INTEGER_DIGITS, MAX_PLACES)
            or number != number.to_integral_value()):
        raise InvalidValue(f"{field}: not an integer ({_short(value)})")
    return int(number)
