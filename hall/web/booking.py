"""Appointments (预约) on the web: public slots, booking and cancelling, kiosk check-in, the /book page."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, jsonify, render_template, request
from flask_babel import gettext as _

from hall import appointment_checkin, appointments, calendar
from hall.models import Role
from hall.web import schemas
from hall.web.api import body
from hall.web.auth import STAFF_ROLES, require, runtime
from hall.web.errors import ApiError, api_date

bp = Blueprint("booking", __name__)
API = "/api/v1"
LIMITED = ("booking.book", "booking.cancel", "booking.check_in")


def _date(raw: str | None, field: str = "date") -> dt.date:
    try:
        return api_date(raw or "")
    except ValueError:
        raise ApiError(422, "invalid_field", f"'{field}' must be a date like 2026-12-01, "
                       f"not {raw!r}.", field) from None


@bp.get(f"{API}/halls/<code>/appointments/slots")
def slots(code: str):
    rt = runtime()
    hall = rt.hall(code)
    prefix = request.args.get("queue", "")
    appointments.slot_settings(hall, prefix)
    now = rt.clock.now()
    days = appointments.bookable_days(hall, now)
    raw = request.args.get("date")
    day = _date(raw) if raw else (days[0] if days else calendar.business_day(now, hall.timezone))
    capacity = hall.settings.queue(prefix).appointments.per_slot
    with rt.db.read() as session:
        places = appointments.free_places(session, hall, prefix, day)
    return jsonify({"hall": hall.code, "queue": prefix, "date": day.isoformat(),
                    "bookable": day in days, "bookable_dates": [d.isoformat() for d in days],
                    "slots": [{"start": s.label, "end": f"{s.end:%H:%M}",
                               "starts_at": s.start.isoformat(timespec="seconds"),
                               "capacity": capacity, "free": free if s.start > now else 0}
                              for s, free in places]})


@bp.post(f"{API}/halls/<code>/appointments")
def book(code: str):
    rt = runtime()
    hall = rt.hall(code)
    data = body(schemas.BookBody)
    with rt.db.write() as session:
        appointment = appointments.book(session, hall, data.queue, _date(data.date), data.start,
                                        data.id_number, data.phone, rt.clock.now(), rt.privacy_key)
        view = appointments.appointment_view(hall, appointment, with_code=True)
    return jsonify(view), 201


@bp.post(f"{API}/appointments/<booking>/cancel")
def cancel(booking: str):
    rt = runtime()
    with rt.db.write() as session:
        appointment = appointments.get_by_code(session, booking)
        hall = rt.hall_by_id(appointment.hall_id)
        appointments.cancel(session, hall, appointment, rt.clock.now())
        view = appointments.appointment_view(hall, appointment)
    return jsonify(view)


@bp.post(f"{API}/halls/<code>/appointments/check-in")
def check_in(code: str):
    rt = runtime()
    hall = rt.hall(code)
    who = require(hall, {Role.KIOSK} | STAFF_ROLES)
    data = body(schemas.CheckInBody)
    with rt.db.write() as session:
        done = appointment_checkin.check_in(session, hall, who.actor, rt.clock.now(), code=data.code,
                                            id_number=data.id_number, kiosk=data.kiosk,
                                            privacy_key=rt.privacy_key)
        view = appointments.appointment_view(hall, done.appointment)
    return jsonify({"ticket": done.ticket.view, "appointment": view, "late": done.late,
                    "message": done.message}), 201


@bp.get("/book/<code>")
def page(code: str):
    from hall.web.pages import page_hall, strings
    hall = page_hall(code)
    queues = [q for q in hall.settings.queues if q.appointments is not None]
    texts = {**strings(), "book_ok": _("预约成功，请牢记预约码"), "cancel_ok": _("预约已取消"),
             "full": _("已约满"), "free_n": _("余 %(n)s 个", n="{n}"), "no_slots": _("当天无可预约时段"),
             "choose_slot": _("请选择时段")}
    return render_template("book.html", hall=hall.settings, queues=queues,
                           rules=hall.settings.appointments, strings=texts)


def init_app(app: Flask) -> None:
    """Register the routes; the public writes get the kiosk rate limit (per address without a token)."""
    from hall.web import pages
    app.register_blueprint(bp)
    pages.csrf.exempt(bp)  # token callers, or anonymous ones; sessions are checked in auth.principal()
    limiter = app.extensions.get("hall.limiter")
    if limiter is not None:
        limiter.wrap(app, LIMITED)
