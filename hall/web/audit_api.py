"""The audit log for managers and admins: GET /api/v1/halls/<hall>/audit (JSON) and …/audit.csv (export)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, request

from hall import audit
from hall.models import Role
from hall.web.auth import STAFF_ROLES, require, runtime
from hall.web.errors import ApiError, api_date

bp = Blueprint("audit", __name__, url_prefix="/api/v1")
DEFAULT_DAYS = 30


def _instant(name: str, zone: Any, end: bool) -> dt.datetime | None:
    """A query parameter as an instant: a date (the start, or for ``to`` the end, of that day in
    the hall's time) or an ISO 8601 time (its offset, else the hall's)."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = api_date(raw)
            start = dt.datetime.combine(day, dt.time(), zone)
            return start + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else start
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "invalid_field", f"'{name}' must be a date like 2026-11-30 or a time "
                       "like 2026-11-30T09:00:00+08:00.", name) from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _rows(code: str) -> list[dict[str, Any]]:
    rt = runtime()
    hall = rt.hall(code)
    who = require(hall, STAFF_ROLES)
    zone = hall.settings.zone
    now = rt.clock.now()
    end = _instant("to", zone, end=True) or now
    start = _instant("from", zone, end=False) or end - dt.timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise ApiError(422, "invalid_field", "'from' must not be after 'to'.", "from")
    with rt.db.read() as session:
        found = audit.entries(session, hall.id, start, end, include_global=who.role is Role.ADMIN)
        return [audit.as_dict(e, code if e.hall_id == hall.id else None, zone) for e in found]


@bp.get("/halls/<code>/audit")
def audit_log(code: str):
    return jsonify({"entries": _rows(code)})


@bp.get("/halls/<code>/audit.csv")
def audit_csv(code: str):
    text = audit.to_csv(_rows(code))
    return Response(text.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{code}.csv"'})
