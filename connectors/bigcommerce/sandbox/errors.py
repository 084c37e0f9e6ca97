"""One error type for the sandbox; the HTTP layer renders it as a v2 array or a v3 object."""

from __future__ import annotations


class ApiError(Exception):
    """A request the API refuses: HTTP status plus a message for the error body."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"The requested resource was not found: {what}.")
