"""Live events over Socket.IO (namespace /live): rooms by credentials, a snapshot, then deltas.

The async mode is ``server.async_mode``: "threading" (the default) or "gevent", which needs a
process that gevent patched before anything else was imported (``gunicorn -k gevent``, or
run.py, which patches first when the config asks for gevent); docs/benchmarks-live.md has
the figures. With ``server.message_queue`` (redis://…) several processes share their emits,
so a screen on one process sees a call made on another.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, request
from flask_socketio import ConnectionRefusedError  # socketio's, not the builtin
from flask_socketio import SocketIO, join_room, leave_room
from flask_socketio import rooms as current_rooms

from hall import calendar, city, events, notices, present, scope
from hall.models import Hall, Queue, Role, Ticket, Window
from hall.runtime import Runtime
from hall.tickets import secret_matches
from hall.tokens import Principal, verify
from hall.web.auth import session_principal

log = logging.getLogger(__name__)
NAMESPACE = "/live"
PRIVATE_TICKET_FIELDS = ("track_url",)


def hall_room(code: str) -> str:
    return f"hall:{code}"


def window_room(code: str, number: int) -> str:
    return f"window:{code}:{number}"


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def queue_room(code: str, prefix: str) -> str:
    """Mobile tickets waiting in a queue: they hear its queue.changed to update 'people ahead'."""
    return f"queue:{code}:{prefix}"


def snapshot(rt: Runtime, code: str, window: int | None = None,
             ticket_id: int | None = None, full: bool = True) -> dict[str, Any]:
    """The whole state a client may see: queues, windows, recent calls; or just its ticket."""
    hall = rt.hall(code)
    with rt.db.read() as session:
        seq = session.scalar(sa.select(Hall.event_seq).where(Hall.id == hall.id))
        out: dict[str, Any] = {"hall": code, "seq": seq, "at": rt.clock.now().isoformat(),
                               "name": hall.settings.name, "timezone": hall.timezone}
        if ticket_id is not None and not full:
            ticket = session.get(Ticket, ticket_id)
            out["ticket"] = present.ticket_view(session, hall, ticket)
            return out
        day = calendar.business_day(rt.clock.now(), hall.timezone)
        counts = present.waiting_counts(session, hall)
        queues = session.scalars(sa.select(Queue).where(Queue.hall_id == hall.id)
                                 .order_by(Queue.prefix)).all()
        out["queues"] = [present.queue_view(session, hall, q, counts.get(q.id, 0), day)
                         for q in queues if q.prefix in hall.queue_ids]
        rows = session.scalars(sa.select(Window).where(Window.hall_id == hall.id)
                               .order_by(Window.number)).all()
        out["windows"] = [present.window_view(session, hall, w) for w in rows
                          if w.number in hall.window_ids and (window is None or w.number == window)]
        recent = session.scalars(sa.select(Ticket).where(
            Ticket.hall_id == hall.id, Ticket.business_day == day, Ticket.called_at.is_not(None))
            .order_by(Ticket.called_at.desc()).limit(10)).all()
        out["recent_calls"] = [present.public_ticket_view(present.ticket_view(session, hall, t))
                               for t in recent]
        out["notices"] = notices.get_notices(session, hall)
    out["devices"] = rt.devices.device_views(code) if rt.devices is not None else []
    return out


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """An event as a hall or window room sees it: no ticket's secret link."""
    ticket = message.get("ticket")
    if isinstance(ticket, dict) and any(k in ticket for k in PRIVATE_TICKET_FIELDS):
        message = {**message, "ticket": {k: v for k, v in ticket.items()
                                         if k not in PRIVATE_TICKET_FIELDS}}
    return message


def message_channel(server: Any, database: Any) -> str:
    """The Redis pub/sub channel of this installation's live events. Flask-SocketIO's default is
    one fixed name, so two installations on one Redis (a test and a production city, say) got
    each other's events — a phone could receive another installation's ticket with its secret
    link. Unless configured, it is derived from the database, shared by the processes of one
    installation and by no other (``database``: the URL in use, also when given by
    --database or HALL_DATABASE_URL)."""
    if server.message_queue_channel:
        return server.message_queue_channel
    url = sa.make_url(database).render_as_string(hide_password=True)
    return "hall-" + hashlib.sha256(url.encode()).hexdigest()[:16]


def gevent_patched() -> bool:
    """True when gevent monkey-patched this process (sockets, threads), as gevent mode needs."""
    import sys
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket") and monkey.is_module_patched("threading"))


def check_async_mode(mode: str) -> None:
    """Refuse to start gevent mode in a process that is not patched: it would hang, not fail."""
    if mode != "gevent":
        if gevent_patched():
            log.warning('this process is gevent-patched (gunicorn -k gevent?) but server.async_mode is '
                        '"threading": set async_mode = "gevent"')
        return
    try:
        import gevent  # noqa: F401
    except ImportError:
        raise RuntimeError('server.async_mode = "gevent" needs gevent: pip install ".[gevent]"') from None
    if not gevent_patched():
        raise RuntimeError('server.async_mode = "gevent" needs a gevent-patched process: serve with '
                           "gunicorn -k gevent (see README) or python run.py, or set "
                           'async_mode = "threading"')


def init_app(app: Flask, rt: Runtime) -> SocketIO:
    queue_url = rt.settings.server.message_queue
    async_mode = rt.settings.server.async_mode
    check_async_mode(async_mode)
    # manage_session=False: Flask 3.1 made RequestContext.session read-only, which Flask-SocketIO's
    # own session copy assigns to (AttributeError on every event); /live only reads the login cookie.
    # cors_allowed_origins=None: only pages of this very server may connect from a browser
    # (engine.io's default). [] would switch the Origin check off, and /live accepts the staff
    # login cookie, so any web site open in a clerk's browser could read the hall.
    # In gevent mode the bus's delivery "threads" are greenlets (threading is patched), and the
    # websockets are simple-websocket's on gevent (engine.io picks it without gevent-websocket).
    socketio = SocketIO(app, async_mode=async_mode, message_queue=queue_url,
                        channel=message_channel(rt.settings.server, rt.db.url),
                        cors_allowed_origins=None, json=app.json, manage_session=False)
    app.extensions["hall.socketio"] = socketio

    def deliver(event: events.Event) -> None:
        message = event.as_message()
        public = _public(message)
        # One emit for the rooms that get the public form (one message through Redis, encoded
        # once, each client once), one for the ticket's room, which gets its secret link.
        rooms = [hall_room(event.hall)]
        number = event.window_number
        if number is not None:
            rooms.append(window_room(event.hall, number))
        queue = message.get("queue")
        if event.name == events.QUEUE_CHANGED and isinstance(queue, dict) and queue.get("prefix"):
            rooms.append(queue_room(event.hall, queue["prefix"]))
        socketio.emit(event.name, public, to=rooms, namespace=NAMESPACE)
        if event.ticket_id is not None:
            socketio.emit(event.name, message, to=ticket_room(event.ticket_id), namespace=NAMESPACE)

    # Its own delivery thread: fanning an event out to thousands of sockets must not delay
    # the LED screens, printers and voice, which subscribe to the same bus.
    rt.bus.subscribe(deliver, own_thread=True)

    def admit_and_snapshot(auth: dict[str, Any]) -> None:
        rooms, make_snapshot = _admit(rt, auth)
        # Rooms first, then the snapshot: an event committed in between reaches the client
        # (it drops events whose seq the snapshot already covers) instead of falling between.
        for room in set(current_rooms()) - set(rooms) - {request.sid}:
            leave_room(room)  # e.g. the old queue of a ticket that was transferred
        for room in rooms:
            join_room(room)
        # Straight to the client, which is connected to this process: not through Redis to
        # every process (a hall's snapshot is its whole state). Events already on their way
        # through Redis arrive after it, and the client drops those the snapshot covers. On
        # connect it goes out just before the namespace's CONNECT packet (sent once this handler
        # returns), as it always did with one process; Socket.IO clients hold such events until
        # the CONNECT, the browser's (socket.io-client's receive buffer) included.
        socketio.emit("snapshot", make_snapshot(), to=request.sid, namespace=NAMESPACE,
                      ignore_queue=True)

    @socketio.on("connect", namespace=NAMESPACE)
    def on_connect(auth: Any = None):
        auth = auth if isinstance(auth, dict) else {}
        try:
            admit_and_snapshot(auth)
        except PermissionError as err:
            log.info("refused a /live client: %s", err)
            raise ConnectionRefusedError(str(err)) from None
        return True

    @socketio.on("resync", namespace=NAMESPACE)
    def on_resync(data: Any = None):
        """A client that saw a gap in ``seq`` (or whose ticket moved) asks for a new snapshot."""
        try:
            admit_and_snapshot(request.environ.get("hall.auth") or {})
        except PermissionError as err:
            return {"error": str(err)}
        return {"ok": True}

    @socketio.on_error(NAMESPACE)
    def on_error(err: Exception) -> None:
        log.warning("a /live handler failed: %s", err)

    return socketio


def _admit(rt: Runtime, auth: dict[str, Any]) -> tuple[list[str], Callable[[], dict[str, Any]]]:
    """The rooms these credentials allow and how to make their snapshot; PermissionError otherwise."""
    request.environ["hall.auth"] = auth
    if "ticket" in auth:
        try:
            ticket_id = int(auth.get("ticket"))
        except (TypeError, ValueError):
            raise PermissionError("'ticket' must be a ticket id") from None
        if not 0 < ticket_id < 2**63:  # beyond any database integer
            raise PermissionError("'ticket' must be a ticket id")
        secret = str(auth.get("secret") or "")
        with rt.db.read() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or not secret or not secret_matches(ticket, secret):
                raise PermissionError("unknown ticket or wrong secret")
            hall = rt.hall_by_id(ticket.hall_id)
            prefix = hall.queue_prefixes[ticket.queue_id]
        return ([ticket_room(ticket_id), queue_room(hall.code, prefix)],
                lambda: snapshot(rt, hall.code, ticket_id=ticket_id, full=False))
    if auth.get("city") is True:
        return _admit_city(rt, auth)
    token = auth.get("token")
    code = auth.get("hall")
    if token is None and isinstance(code, str) and code in rt.halls:
        who = session_principal(rt)
        if who is None or not who.in_hall(rt.halls[code]):
            raise PermissionError("sign in first (/login), or send a token")
        return [hall_room(code)], lambda: snapshot(rt, code)
    if not isinstance(token, str) or not isinstance(code, str) or code not in rt.halls:
        raise PermissionError("send auth={'token': …, 'hall': 'XS'} or {'ticket': id, 'secret': …}")
    hall = rt.halls[code]
    with rt.db.read() as session:
        who: Principal | None = scope.widen(verify(session, token, rt.window_numbers), rt.halls)
    if who is None or not who.in_hall(hall):
        raise PermissionError("unknown, revoked or foreign token")
    window = auth.get("window")
    if who.role in (Role.CLERK, Role.PAD):
        if window is None:
            window = who.window_number
        if window != who.window_number:
            raise PermissionError(f"this token belongs to window {who.window_number}")
    if window is not None:
        if not isinstance(window, int) or window not in hall.window_ids:
            raise PermissionError(f"hall {code} has no window {window!r}")
        return [window_room(code, window)], lambda: snapshot(rt, code, window=window)
    return [hall_room(code)], lambda: snapshot(rt, code)


def _admit_city(rt: Runtime, auth: dict[str, Any]) -> tuple[list[str], Callable[[], dict[str, Any]]]:
    """{"token": city or admin token, "city": true} (or a city-level manager's session): the room of
    every visible hall; the snapshot is the city view (hall.city), each row with its hall's seq."""
    token = auth.get("token")
    if token is None:
        who = session_principal(rt)
    elif isinstance(token, str):
        with rt.db.read() as session:
            who = scope.widen(verify(session, token, rt.window_numbers), rt.halls)
    else:
        who = None
    if who is None or not (who.role in (Role.CITY, Role.ADMIN) or who.read_hall_ids is not None):
        raise PermissionError("the city view needs a city or admin token (or a city hall's manager)")
    halls = scope.visible(who, rt.halls)

    def make() -> dict[str, Any]:
        with rt.db.read() as session:
            return {"city": True, **city.city_view(session, halls, rt.clock.now())}
    return [hall_room(h.code) for h in halls], make
