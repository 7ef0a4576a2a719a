"""Domain errors raised by services; the HTTP and v1 doors translate them into answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a client can cause."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """The request breaks a rule; ``fields`` maps each offending field to its problem."""

    status = 400

    def __init__(self, detail: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.fields = fields or {}


class NotAuthenticated(DomainError):
    """No key, or a key that is unknown or revoked."""

    status = 401


class Forbidden(DomainError):
    """The caller is known but may not do this (a console change without its CSRF token)."""

    status = 403


class NotFound(DomainError):
    """The thing does not exist in the caller's community (whether it exists elsewhere or not)."""

    status = 404


class Conflict(DomainError):
    """The request is valid but the current state forbids it."""

    status = 409


class LimitReached(Conflict):
    """Storing this would pass one of the documented bounds (docs/api.md, "Limits"); ``limit`` names it."""

    def __init__(self, detail: str, limit: str) -> None:
        super().__init__(detail)
        self.limit = limit
