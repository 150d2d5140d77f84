"""Who is calling the API: bearer tokens with a role and a scope (a hall; a window for clerk and pad)."""
from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, g, request

from hall.directory import HallRef
from hall.models import Role
from hall.runtime import Runtime
from hall.tokens import Principal, verify
from hall.web.errors import ApiError

ALL_ROLES = frozenset(Role)
STAFF_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


def runtime() -> Runtime:
    return current_app.extensions["hall"]


def principal() -> Principal | None:
    """The caller, from ``Authorization: Bearer …``; None when no token is given."""
    if "principal" in g:
        return g.principal
    header = request.headers.get("Authorization", "")
    found = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Send the token as 'Authorization: Bearer <token>'.")
        rt = runtime()
        with rt.db.read() as session:
            found = verify(session, token.strip(), rt.window_numbers)
        if found is None:
            raise ApiError(401, "unauthorized", "This token is unknown or has been revoked; ask the "
                           "hall's administrator for a new one (python run.py token create).")
    g.principal = found
    return found


def require(hall: HallRef, roles: Iterable[Role] = ALL_ROLES, window: int | None = None) -> Principal:
    """The caller, if it may act in ``hall`` with one of ``roles`` (and on ``window``); else 401/403."""
    who = principal()
    if who is None:
        raise ApiError(401, "unauthorized", "This call needs a token: 'Authorization: Bearer <token>'.")
    roles = frozenset(roles)
    if who.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise ApiError(403, "forbidden", f"A {who.role.value} token may not do this; it needs one of: "
                       f"{allowed}.")
    if not who.in_hall(hall):
        raise ApiError(403, "forbidden", f"This token does not belong to hall {hall.code}.")
    if (window is not None and who.role in (Role.CLERK, Role.PAD)
            and who.window_number != window):
        raise ApiError(403, "forbidden", f"This token belongs to window {who.window_number}, "
                       f"not window {window}.")
    return who
