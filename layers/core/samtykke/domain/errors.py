"""Domain errors. Each carries a stable machine-readable code and the HTTP status it maps to.

The API layer maps every `SamtykkeError` in one exception handler; nothing matches on message text.
"""

from __future__ import annotations

from typing import Any


class SamtykkeError(Exception):
    code = "error"
    status = 400
    details: list[dict[str, Any]] | None = None  # per-item problems, e.g. each bad field with its own code

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(SamtykkeError):
    """Well-formed request that breaks a domain rule (unknown purpose, bad email...)."""

    code = "invalid_input"
    status = 422


class BadRequest(SamtykkeError):
    code = "bad_request"
    status = 400


class Unauthorized(SamtykkeError):
    code = "unauthorized"
    status = 401


class Forbidden(SamtykkeError):
    code = "forbidden"
    status = 403


class NotFound(SamtykkeError):
    code = "not_found"
    status = 404


class Conflict(SamtykkeError):
    code = "conflict"
    status = 409


class PayloadTooLarge(SamtykkeError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(SamtykkeError):
    code = "unsupported_media_type"
    status = 415


class RetryableError(SamtykkeError):
    """A transient fault (throttling, contention): the client should retry after `retry_after` seconds."""

    code = "service_unavailable"
    status = 503

    def __init__(self, message: str, *, code: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
