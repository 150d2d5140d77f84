"""Every error as JSON ``{"error": {"code", "message", "field"}}``: never an HTML page, never a 500 for bad input."""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy.exc
from flask import Flask, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from hall.errors import DomainError

log = logging.getLogger(__name__)

FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


def api_date(raw: str) -> dt.date:
    """A date given in a query (ISO, e.g. 2026-11-30) within 2000–2099: beyond, date arithmetic in
    a hall's time zone overflows and no hall has data. ValueError otherwise (callers answer 422)."""
    day = dt.date.fromisoformat(raw)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{raw} is outside {FIRST_DAY} – {LAST_DAY}")
    return day


STATUS = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403}
# Personal data: an error about these fields never repeats what was sent (pydantic may quote it).
PERSONAL_FIELDS = frozenset({"phone", "id_number"})
SQLITE_FULL = 13
PG_DISK_FULL = "53100"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None):
    body = {"code": code, "message": message}
    if field:
        body["field"] = field
    return jsonify({"error": body}), status, headers or {}


def validation_message(err: ValidationError) -> tuple[str, str | None]:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    kind = first["type"]
    if field in PERSONAL_FIELDS:
        return f"{field!r} is not valid: {_personal_hint(field)}", field
    if kind == "extra_forbidden":
        return f"Unknown field {field!r}; check its spelling against the API documentation.", field
    if kind == "missing":
        return f"The field {field!r} is required.", field
    if kind == "literal_error":
        allowed = first.get("ctx", {}).get("expected", "")
        return f"{field!r} must be one of {allowed}.", field
    return f"{field!r}: {first['msg']}.", field


def _personal_hint(field: str) -> str:
    if field == "phone":
        return "send a mainland mobile number of 11 digits as text, e.g. \"13812345678\"."
    return "send the 18 characters of the ID number as text (17 digits and a digit or X)."


def disk_full(err: sqlalchemy.exc.OperationalError) -> bool:
    """SQLite's 'database or disk is full', or PostgreSQL's disk_full."""
    orig = err.orig
    return (getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
            or getattr(orig, "sqlstate", None) == PG_DISK_FULL
            or "disk is full" in str(orig))


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api(err: ApiError):
        return error_response(err.status, err.code, err.message, err.field, err.headers)

    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        return error_response(STATUS[err.kind], err.code, err.message, err.field)

    @app.errorhandler(ValidationError)
    def _validation(err: ValidationError):
        message, field = validation_message(err)
        return error_response(422, "invalid_field", message, field)

    @app.errorhandler(sqlalchemy.exc.OperationalError)
    def _database(err: sqlalchemy.exc.OperationalError):
        # err.orig is the driver's message only: never the statement or its parameters.
        log.error("database unavailable on %s %s: %s", request.method, request.path, err.orig)
        if disk_full(err):
            return error_response(507, "storage_full", "The server's disk is full, so nothing could "
                                  "be saved (nothing was changed); tell the hall's administrator "
                                  "to free space on the database disk.")
        return error_response(503, "database_unavailable", "The database is busy or unavailable "
                              "(nothing was changed); please try again in a moment.")

    @app.errorhandler(sqlalchemy.exc.TimeoutError)
    def _pool_exhausted(err: sqlalchemy.exc.TimeoutError):
        # Every pooled connection is busy (a burst waiting on one hall's row lock, say): nothing
        # was done, so the kiosk or clerk may simply try again — a 503, not a 500.
        log.error("no database connection free on %s %s: %s", request.method, request.path, err)
        return error_response(503, "database_unavailable", "The database is busy or unavailable "
                              "(nothing was changed); please try again in a moment.")

    @app.errorhandler(OverflowError)
    def _overflow(err: OverflowError):
        # An id in the URL too large for the database's integers: there is no such thing.
        return error_response(404, "not_found", f"There is nothing at {request.path}.")

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        code = (err.name or "error").lower().replace(" ", "_")
        message = err.description or err.name
        if err.code == 429:
            code = "rate_limited"
            message = ("Too many requests from this device in a short time; wait a moment and try "
                       f"again (limit: {err.description}).")
        elif err.code == 405:
            message = f"{request.method} is not allowed here; actions are POST, reads are GET."
        elif err.code == 404:
            message = f"There is nothing at {request.path}."
        return error_response(err.code or 500, code, message)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on the server; the error "
                              "has been logged. Check the ticket or window before trying again.")
