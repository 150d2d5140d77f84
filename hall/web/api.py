"""The JSON API under /api/v1 (the public contract of ../shared/API.md): thin adapters to the domain."""
from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, jsonify, request
from pydantic import BaseModel

from hall import audit, calendar, evaluation, present, stats, tickets, windows
from hall.models import Queue, Role, Window
from hall.web import schemas
from hall.web.auth import STAFF_ROLES, principal, require, runtime
from hall.web.errors import ApiError, api_date

bp = Blueprint("api", __name__, url_prefix="/api/v1")
B = TypeVar("B", bound=BaseModel)

WINDOW_ACTORS = frozenset({Role.CLERK}) | STAFF_ROLES
# Tokens that may read a ticket but not its secret link: devices in public places, and the
# read-only city view.
DEVICE_ROLES = frozenset({Role.KIOSK, Role.SCREEN, Role.PAD, Role.CITY})


def body(model: type[B], optional: bool = False) -> B:
    """The request's JSON body parsed as ``model``: 400 for bad JSON, 422 for a bad field."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return model()
        raise ApiError(400, "missing_body", "This call needs a JSON body.")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "bad_json", "The body is not valid JSON (send Content-Type: "
                       "application/json and a JSON object).")
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "The body must be a JSON object.")
    return model.model_validate(data)


@bp.get("/halls")
def list_halls():
    rt = runtime()
    who = principal()
    if who is None:
        raise ApiError(401, "unauthorized", "This call needs a token: 'Authorization: Bearer <token>'.")
    now = rt.clock.now()
    halls = [h for h in rt.halls.values() if who.in_hall(h)]
    return jsonify({"halls": [{"code": h.code, "name": h.settings.name,
                               "open": calendar.session_at(h.settings, now) is not None}
                              for h in halls]})


@bp.get("/halls/<code>/queues")
def list_queues(code: str):
    rt = runtime()
    hall = rt.hall(code)
    require(hall)
    day = calendar.business_day(rt.clock.now(), hall.timezone)
    with rt.db.read() as session:
        counts = present.waiting_counts(session, hall)
        rows = session.query(Queue).filter(Queue.hall_id == hall.id).order_by(Queue.prefix).all()
        views = [present.queue_view(session, hall, q, counts.get(q.id, 0), day) for q in rows
                 if q.prefix in hall.queue_ids]
    return jsonify({"queues": views})


@bp.post("/halls/<code>/tickets")
def issue(code: str):
    rt = runtime()
    hall = rt.hall(code)
    who = require(hall, {Role.KIOSK} | STAFF_ROLES)
    data = body(schemas.IssueBody)
    with rt.db.write() as session:
        issued = tickets.issue_ticket(session, hall, tickets.IssueRequest(**data.model_dump()),
                                      who.actor, rt.clock.now(), rt.privacy_key)
    view = issued.view
    if rt.devices is not None and data.kiosk:
        # The kiosk shows the ticket on screen and says so when its printer cannot print it.
        printer = rt.devices.printer_status(code, data.kiosk)
        if printer is not None:
            view = {**view, "printer": printer}
    return jsonify(view), 201


@bp.get("/tickets/<int:ticket_id>")
def get_ticket(ticket_id: int):
    rt = runtime()
    secret = request.args.get("s") or request.args.get("secret") or request.headers.get("X-Ticket-Secret")
    with rt.db.read() as session:
        ticket = tickets.get_ticket(session, None, ticket_id)
        hall = rt.hall_by_id(ticket.hall_id)
        view = present.ticket_view(session, hall, ticket)
        if not (secret and tickets.secret_matches(ticket, secret)):
            who = require(hall)
            if who.role in DEVICE_ROLES:
                # A device token sits in a public place (a TV, a kiosk): it may read a ticket,
                # not the secret link that would let anyone rate or follow it.
                view["track_url"] = view["track_url"].split("?", 1)[0]
        return jsonify(view)


def _window_action(code: str, number: int, action, *args: Any, **kwargs: Any):
    rt = runtime()
    hall = rt.hall(code)
    hall.window_id(number)
    with rt.db.write() as session:
        who = require(hall, WINDOW_ACTORS, window=number, db=session)
        now = rt.clock.now()
        before = _window_brief(session, hall, number) if who.role in STAFF_ROLES else None
        result = action(session, hall, number, who.actor, now, *args, **kwargs)
        if before is not None:  # a manager or admin acting on a window is audited
            audit.record(session, hall.id, who.actor, f"window.{action.__name__}", now,
                         target=f"window:{number}", before=before,
                         after=_window_brief(session, hall, number))
        if isinstance(result, Window):
            return jsonify({"window": present.window_view(session, hall, result)})
        return jsonify({"ticket": present.ticket_view(session, hall, result) if result else None})


def _window_brief(session, hall, number: int) -> dict[str, Any]:
    view = present.window_view(session, hall, windows.get_window(session, hall, number))
    return {k: view[k] for k in ("state", "ticket", "clerk", "pause_reason")}


@bp.post("/halls/<code>/windows/<int:number>/call")
def call(code: str, number: int):
    return _window_action(code, number, windows.call_next)


@bp.post("/halls/<code>/windows/<int:number>/recall")
def recall(code: str, number: int):
    return _window_action(code, number, windows.recall)


@bp.post("/halls/<code>/windows/<int:number>/start")
def start(code: str, number: int):
    return _window_action(code, number, windows.start_service)


@bp.post("/halls/<code>/windows/<int:number>/no-show")
def no_show(code: str, number: int):
    return _window_action(code, number, windows.no_show)


@bp.post("/halls/<code>/windows/<int:number>/finish")
def finish(code: str, number: int):
    data = body(schemas.FinishBody, optional=True)
    return _window_action(code, number, windows.finish, data.outcome, data.matters)


@bp.post("/halls/<code>/windows/<int:number>/transfer")
def transfer(code: str, number: int):
    data = body(schemas.TransferBody)
    return _window_action(code, number, windows.transfer, to_queue=data.queue, to_window=data.window)


@bp.post("/halls/<code>/windows/<int:number>/pause")
def pause(code: str, number: int):
    data = body(schemas.PauseBody, optional=True)
    return _window_action(code, number, windows.pause, data.reason)


@bp.post("/halls/<code>/windows/<int:number>/resume")
def resume(code: str, number: int):
    return _window_action(code, number, windows.resume)


@bp.post("/halls/<code>/windows/<int:number>/sign-in")
def sign_in(code: str, number: int):
    data = body(schemas.SignInBody, optional=True)
    return _window_action(code, number, windows.sign_in, data.login)


@bp.post("/halls/<code>/windows/<int:number>/sign-out")
def sign_out(code: str, number: int):
    return _window_action(code, number, windows.sign_out)


@bp.get("/halls/<code>/windows")
def list_windows(code: str):
    rt = runtime()
    hall = rt.hall(code)
    require(hall)
    with rt.db.read() as session:
        rows = session.query(Window).filter(Window.hall_id == hall.id).order_by(Window.number).all()
        return jsonify({"windows": [present.window_view(session, hall, w) for w in rows
                                    if w.number in hall.window_ids]})


@bp.post("/tickets/<int:ticket_id>/rating")
def rate(ticket_id: int):
    rt = runtime()
    data = body(schemas.RatingBody)
    secret = request.args.get("s") or request.args.get("secret") or request.headers.get("X-Ticket-Secret")
    with rt.db.read() as session:
        ticket = tickets.get_ticket(session, None, ticket_id)
        hall = rt.hall_by_id(ticket.hall_id)
        by_secret = bool(secret) and tickets.secret_matches(ticket, secret)
    window = None
    if by_secret:
        actor = f"ticket:{ticket_id}"
    else:
        who = require(hall, {Role.PAD})
        actor, window = who.actor, who.window_number
    with rt.db.write() as session:
        rating = evaluation.rate_service(session, hall, ticket_id, data.level, actor, rt.clock.now(),
                                         data.reasons, data.comment, data.channel, window)
        return jsonify({"id": rating.id, "ticket": ticket_id, "level": rating.level,
                        "reasons": rating.reasons, "channel": rating.channel,
                        "at": present.iso(rating.at, hall)}), 201


@bp.get("/halls/<code>/stats")
def day_stats(code: str):
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    raw = request.args.get("date")
    if raw:
        try:
            day = api_date(raw)
        except ValueError:
            raise ApiError(422, "invalid_field", f"'date' must be a date like 2026-11-30, not {raw!r}.",
                           "date") from None
    else:
        day = calendar.business_day(rt.clock.now(), hall.timezone)
    with rt.db.read() as session:
        return jsonify(stats.day_stats(session, hall, day))
