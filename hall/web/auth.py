"""Who is calling: bearer tokens with a role and a scope (a hall; a window for clerk and pad), or a staff session.

A city token (and a manager of a city-level hall) reads every hall below its own (hall.scope);
a city token changes nothing, such a manager changes only its own hall.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

import sqlalchemy.orm as so
from flask import current_app, g, request, session
from flask_wtf.csrf import ValidationError as CsrfInvalid, validate_csrf

from hall import scope
from hall.directory import HallRef
from hall.models import Role, Staff
from hall.runtime import Runtime
from hall.tokens import Principal, verify
from hall.web.errors import ApiError

ALL_ROLES = frozenset(Role)
STAFF_ROLES = frozenset({Role.MANAGER, Role.ADMIN})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SEEN_KEY = "seen"  # wall-clock seconds of the staff member's last activity, in the session cookie


def wall_time() -> float:
    """Idle time is real time, also when the hall clock runs fast (demos); tests replace this."""
    return time.time()


def session_expired(rt: Runtime) -> bool:
    """True when the login session has been idle for longer than ``server.session_idle_minutes``."""
    seen = session.get(SEEN_KEY)
    if not isinstance(seen, (int, float)):
        return True  # a session from before expiry existed, or a forged one: log in again
    return wall_time() - seen > rt.settings.server.session_idle_minutes * 60


def runtime() -> Runtime:
    return current_app.extensions["hall"]


def principal(db: so.Session | None = None) -> Principal | None:
    """The caller, from ``Authorization: Bearer …`` or a staff login session; None when neither.

    ``db``: the request's own write transaction, where the token is looked up (one statement
    more in it) rather than on a connection of its own (on PostgreSQL: a checkout, its check and
    the lookup, i.e. two round trips fewer)."""
    if "principal" in g:
        return g.principal
    header = request.headers.get("Authorization", "")
    found = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Send the token as 'Authorization: Bearer <token>'.")
        rt = runtime()
        if db is not None:
            found = verify(db, token.strip(), rt.window_numbers)
        else:
            with rt.db.read_engine.connect() as conn:  # one Core statement: no ORM session needed
                found = verify(conn, token.strip(), rt.window_numbers)
        found = scope.widen(found, rt.halls)
        if found is None:
            raise ApiError(401, "unauthorized", "This token is unknown or has been revoked; ask the "
                           "hall's administrator for a new one (python run.py token create).")
    elif "staff" in session:
        found = session_principal(runtime())
        if found is not None and request.method not in SAFE_METHODS:
            # A cookie rides along on any site's form post; only our pages know the CSRF token.
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except CsrfInvalid:
                raise ApiError(403, "csrf_failed", "This page has expired (its security token is "
                               "missing or old); reload the page and try again.") from None
    g.principal = found
    return found


def session_principal(rt: Runtime) -> Principal | None:
    """The staff member signed in through /login: a clerk at the window they signed in to, or a manager."""
    staff = session.get("staff")
    if not isinstance(staff, dict) or staff.get("hall") not in rt.halls or session_expired(rt):
        return None
    hall = rt.halls[staff["hall"]]
    with rt.db.read() as db:
        row = db.get(Staff, staff.get("id"))
        if row is None or not row.active or row.hall_id != hall.id:
            return None
        role = Role.MANAGER if row.role == "manager" else Role.CLERK
        window = session.get("window") if role is Role.CLERK else None
        return scope.widen(Principal(role=role, hall_id=hall.id, window_number=window,
                                     actor=f"staff:{row.login}", staff_id=row.id), rt.halls)


def require(hall: HallRef, roles: Iterable[Role] = ALL_ROLES, window: int | None = None,
            db: so.Session | None = None) -> Principal:
    """The caller, if it may act in ``hall`` with one of ``roles`` (and on ``window``); else 401/403.

    ``db``: the request's write transaction, to look the token up in (see :func:`principal`)."""
    who = principal(db)
    if who is None:
        raise ApiError(401, "unauthorized", "This call needs a token: 'Authorization: Bearer <token>'.")
    roles = frozenset(roles)
    changes = request.method not in SAFE_METHODS
    if who.role is Role.CITY:
        if changes:
            raise ApiError(403, "forbidden", "A city token is read-only: it may look at every hall "
                           "below its own, not change anything.")
        if roles & STAFF_ROLES:  # a city reads whatever a hall's manager may read
            roles = roles | {Role.CITY}
    if who.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise ApiError(403, "forbidden", f"A {who.role.value} token may not do this; it needs one of: "
                       f"{allowed}.")
    if not who.in_hall(hall):
        raise ApiError(403, "forbidden", f"This token does not belong to hall {hall.code}.")
    if changes and not who.acts_in(hall):
        raise ApiError(403, "forbidden", f"Hall {hall.code} is visible to this login, not changed "
                       "by it: only the hall's own manager may do this.")
    if (window is not None and who.role in (Role.CLERK, Role.PAD)
            and who.window_number != window):
        if who.window_number is None:
            raise ApiError(403, "forbidden", f"Sign in to window {window} on its counter page first.")
        raise ApiError(403, "forbidden", f"This token belongs to window {who.window_number}, "
                       f"not window {window}.")
    return who
