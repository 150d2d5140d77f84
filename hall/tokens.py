"""Bearer tokens of devices and integrations: created, verified and revoked; stored as a hash."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import audit
from hall.directory import HallRef
from hall.errors import DomainError, NotFound
from hall.models import ApiToken, Role

WINDOW_ROLES = frozenset({Role.CLERK, Role.PAD})


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is asking: a role, the hall it may act in (None = every hall), its window.

    ``read_hall_ids``, when set, are the halls it may read (its hall and the halls below it in
    the parent tree, hall.scope.widen); state changes stay within ``hall_id`` (none for a city).
    """

    role: Role
    hall_id: int | None
    window_number: int | None
    actor: str
    token_id: int | None = None
    staff_id: int | None = None
    read_hall_ids: frozenset[int] | None = None

    def in_hall(self, hall: HallRef) -> bool:
        """May read this hall."""
        if self.hall_id is None:
            return True
        if self.read_hall_ids is not None:
            return hall.id in self.read_hall_ids
        return self.hall_id == hall.id

    def acts_in(self, hall: HallRef) -> bool:
        """May change state in this hall: a city token never does."""
        return self.role is not Role.CITY and (self.hall_id is None or self.hall_id == hall.id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: so.Session, hall: HallRef | None, role: str, now: dt.datetime,
                 window: int | None = None, label: str | None = None, actor: str = "cli") -> str:
    """Make a token and return it in clear (the only time it is seen); audited, never its value."""
    try:
        role_enum = Role(role)
    except ValueError:
        raise DomainError("invalid_role", f"Unknown role {role!r}; use one of "
                          f"{', '.join(r.value for r in Role)}.", "role") from None
    if role_enum in WINDOW_ROLES and window is None:
        raise DomainError("window_required", f"A {role} token belongs to one window; add --window N.",
                          "window")
    if window is not None and role_enum is Role.CITY:
        raise DomainError("window_not_allowed", "A city token reads whole halls; leave out --window.",
                          "window")
    if hall is None and role_enum not in (Role.ADMIN, Role.CITY):
        raise DomainError("hall_required", f"A {role} token belongs to one hall; add --hall CODE.", "hall")
    window_id = hall.window_id(window) if (hall is not None and window is not None) else None
    token = f"hq_{secrets.token_urlsafe(24)}"
    row = ApiToken(hall_id=hall.id if hall else None, role=role_enum, window_id=window_id,
                   token_hash=_digest(token), label=label, created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, row.hall_id, actor, "token.created", now, target=f"token:{row.id}",
                 after={"role": role_enum.value, "window": window, "label": label})
    return token


# Built once: every API request verifies its token (checked in the database each time, so a
# revoked token stops working at once, in every process).
_LOOKUP = sa.select(ApiToken.id, ApiToken.role, ApiToken.hall_id, ApiToken.window_id, ApiToken.label) \
    .where(ApiToken.token_hash == sa.bindparam("digest"), ApiToken.revoked_at.is_(None))


def verify(session: so.Session | sa.Connection, token: str,
           window_numbers: dict[int, int]) -> Principal | None:
    row = session.execute(_LOOKUP, {"digest": _digest(token)}).first()
    if row is None:
        return None
    token_id, role, hall_id, window_id, label = row
    return Principal(role=Role(role), hall_id=hall_id,
                     window_number=window_numbers.get(window_id) if window_id else None,
                     actor=f"token:{token_id}" + (f":{label}" if label else ""), token_id=token_id)


def revoke(session: so.Session, token_id: int, now: dt.datetime, actor: str = "cli") -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("unknown_token", f"There is no token {token_id}.", "id")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, row.hall_id, actor, "token.revoked", now, target=f"token:{row.id}",
                     before={"revoked_at": None}, after={"revoked_at": now.isoformat()})
