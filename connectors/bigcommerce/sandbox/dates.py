"""Dates: v2 speaks RFC 2822, UTC, whole seconds ([v2] order_RespOnly.date_modified)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime


def rfc2822(epoch: int | None) -> str:
    """Epoch seconds as 'Tue, 20 Nov 2012 00:00:00 +0000'; None becomes '' (date_shipped)."""
    if epoch is None:
        return ""
    return format_datetime(datetime.fromtimestamp(int(epoch), tz=UTC)).replace("-0000", "+0000")


def parse_date(text: str) -> int:
    """Parse an RFC 2822 or ISO 8601 date filter ([v2] components.parameters.min_date_modified).

    A date without a zone is taken as UTC. Raises ValueError when it is neither format.
    """
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError) as e:
            raise ValueError(f"not an RFC 2822 or ISO 8601 date: {text!r}") from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())
