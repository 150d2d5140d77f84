"""Manager calls of the live hall: the hall screen's scrolling notices (PUT /api/v1/halls/<hall>/notices)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic import BaseModel, ConfigDict

from hall import notices
from hall.web.api import body
from hall.web.auth import STAFF_ROLES, require, runtime

bp = Blueprint("manage", __name__, url_prefix="/api/v1")


class NoticesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notices: list[str]


@bp.get("/halls/<code>/notices")
def get_notices(code: str):
    rt = runtime()
    hall = rt.hall(code)
    require(hall)
    with rt.db.read() as db:
        return jsonify({"notices": notices.get_notices(db, hall)})


@bp.put("/halls/<code>/notices")
def put_notices(code: str):
    """Replace the notices; every hall screen shows them at once (notices.changed)."""
    rt = runtime()
    hall = rt.hall(code)
    who = require(hall, STAFF_ROLES)
    data = body(NoticesBody)
    with rt.db.write() as db:
        saved = notices.set_notices(db, hall, data.notices, who.actor, rt.clock.now())
    return jsonify({"notices": saved})
