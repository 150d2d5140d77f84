"""Errors of the domain: a code for programs, a sentence for people, the field at fault."""
from __future__ import annotations


class DomainError(Exception):
    """An action that cannot be done as asked; nothing was changed.

    ``kind`` tells an adapter how to answer: ``invalid`` (bad input, 400/422),
    ``not_found`` (404), ``conflict`` (the state does not allow it now, 409),
    ``forbidden`` (403).
    """

    kind = "invalid"

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class NotFound(DomainError):
    kind = "not_found"


class Conflict(DomainError):
    kind = "conflict"


class Forbidden(DomainError):
    kind = "forbidden"
