"""The clerk workstation (工位): sign in to a window, and the state its page shows."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from hall import calendar, present, windows
from hall.errors import DomainError
from hall.models import Service, Ticket, TicketStatus, Window, WindowQueue
from hall.web.auth import runtime, session_principal
from hall.web.errors import ApiError
from hall.web.pages import page_hall, strings

bp = Blueprint("counter", __name__, url_prefix="/counter")
WAITING_LIST = 30


def _staff_for(code: str):
    """The signed-in staff of this hall, or None (the page then asks to log in)."""
    who = session_principal(runtime())
    staff = session.get("staff") or {}
    if who is None or staff.get("hall") != code:
        return None, staff
    return who, staff


def _allowed_windows(hall, login: str, role: str) -> list[int]:
    assigned = next((s.windows for s in hall.settings.staff if s.login == login), ())
    return sorted(hall.window_ids) if role == "manager" or not assigned else list(assigned)


@bp.get("/<code>")
def choose(code: str):
    hall = page_hall(code)
    who, staff = _staff_for(code)
    if who is None:
        return redirect(url_for("pages.login", next=request.path))
    allowed = _allowed_windows(hall, staff["login"], staff["role"])
    if len(allowed) == 1:
        return redirect(url_for("counter.workstation", code=code, number=allowed[0]))
    return render_template("choose.html", hall=hall.settings, allowed=allowed)


@bp.get("/<code>/<int:number>")
def workstation(code: str, number: int):
    hall = page_hall(code)
    if number not in hall.window_ids:
        abort(404)
    who, staff = _staff_for(code)
    if who is None:
        return redirect(url_for("pages.login", next=request.path))
    signed_in = who.role.value == "manager" or session.get("window") == number
    queues = [q for q in hall.settings.window(number).queues]
    return render_template("counter.html", hall=hall.settings, number=number,
                           window=hall.settings.window(number), signed_in=signed_in,
                           queues=queues, all_queues=hall.settings.queues,
                           windows=sorted(hall.window_ids), strings=strings(),
                           allowed=_allowed_windows(hall, staff["login"], staff["role"]))


@bp.post("/<code>/<int:number>/sign-in")
def sign_in(code: str, number: int):
    rt = runtime()
    hall = page_hall(code)
    who, staff = _staff_for(code)
    if who is None:
        return redirect(url_for("pages.login", next=f"/counter/{code}/{number}"))
    try:
        with rt.db.write() as db:
            windows.sign_in(db, hall, number, who.actor, rt.clock.now(), staff["login"])
    except DomainError as err:
        return render_template("choose.html", hall=hall.settings, error=err.message,
                               allowed=_allowed_windows(hall, staff["login"], staff["role"])), 409
    session["window"] = number
    return redirect(url_for("counter.workstation", code=code, number=number))


@bp.post("/<code>/<int:number>/sign-out")
def sign_out(code: str, number: int):
    rt = runtime()
    hall = page_hall(code)
    who, _staff = _staff_for(code)
    if who is not None and session.get("window") == number:
        try:
            with rt.db.write() as db:
                windows.sign_out(db, hall, number, who.actor, rt.clock.now())
        except DomainError as err:
            return render_template("choose.html", hall=hall.settings, error=err.message,
                                   allowed=[number]), 409
        session.pop("window", None)
    return redirect(url_for("counter.choose", code=code))


@bp.get("/<code>/<int:number>/state")
def state(code: str, number: int):
    """What the workstation shows: its window, current visitor, waiting list and today's counts."""
    rt = runtime()
    hall = page_hall(code)
    who, _staff = _staff_for(code)
    if who is None:
        raise ApiError(401, "unauthorized", _("请先登录。"))
    now = rt.clock.now()
    day = calendar.business_day(now, hall.timezone)
    with rt.db.read() as db:
        window = db.get(Window, hall.window_id(number))
        view = present.window_view(db, hall, window)
        current = None
        if window.ticket_id:
            ticket = db.get(Ticket, window.ticket_id)
            service = db.scalars(sa.select(Service).where(Service.ticket_id == ticket.id,
                                                          Service.window_id == window.id)
                                 .order_by(Service.id.desc()).limit(1)).first()
            current = {**present.public_ticket_view(present.ticket_view(db, hall, ticket)),
                       "waited_s": int((service.called_at - service.waiting_since).total_seconds())
                       if service else None,
                       "called_at": present.iso(service.called_at if service else None, hall),
                       "matters": list(ticket.matters or []), "bundle": ticket.bundle}
        queue_ids = [wq.queue_id for wq in db.scalars(
            sa.select(WindowQueue).where(WindowQueue.window_id == window.id))]
        waiting = db.scalars(sa.select(Ticket).where(
            Ticket.queue_id.in_(queue_ids), Ticket.status == TicketStatus.WAITING,
            sa.or_(Ticket.target_window_id.is_(None), Ticket.target_window_id == window.id))
            .order_by(Ticket.sort_key).limit(WAITING_LIST)).all()
        waiting_views = [{"number": t.number, "queue": hall.queue_prefixes[t.queue_id],
                          "priority": t.priority.value,
                          "waiting_since": present.iso(t.waiting_since, hall)} for t in waiting]
        total = db.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.queue_id.in_(queue_ids), Ticket.status == TicketStatus.WAITING)) or 0
        counts = dict(db.execute(sa.select(Service.outcome, sa.func.count()).where(
            Service.window_id == window.id, Service.business_day == day,
            Service.outcome.is_not(None)).group_by(Service.outcome)).all())
    return jsonify({"now": present.iso(now, hall), "window": view, "current": current,
                    "waiting": waiting_views, "waiting_total": total,
                    "signed_in": who.role.value == "manager" or session.get("window") == number,
                    "today": {"done": counts.get("done", 0), "no_show": counts.get("no_show", 0),
                              "transferred": counts.get("transferred", 0)}})
