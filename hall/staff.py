"""Staff passwords (工位登录): argon2 hashes, failed-attempt lock-out, demo passwords."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hall import audit
from hall.directory import HallRef
from hall.errors import DomainError, Forbidden, NotFound
from hall.models import Base, Staff

MAX_FAILURES = 5
LOCK_FOR = dt.timedelta(minutes=15)
MIN_LENGTH = 8
DEMO_PASSWORD = "demo1234"

_hasher = PasswordHasher()


class StaffCredential(Base):
    """A staff member's password hash; kept beside ``staff`` so that table stays config-owned."""

    __tablename__ = "staff_credentials"
    staff_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("staff.id"), primary_key=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(200))
    failed_attempts: so.Mapped[int] = so.mapped_column(default=0)
    locked_until: so.Mapped[dt.datetime | None]


class LoginLocked(Forbidden):
    def __init__(self, until: dt.datetime) -> None:
        super().__init__("login_locked", "Too many wrong passwords; this login is locked for a "
                         "while. Try again later or ask a manager.", "password")
        self.until = until


def _staff(session: so.Session, hall: HallRef, login: str) -> Staff | None:
    return session.scalars(sa.select(Staff).where(Staff.hall_id == hall.id,
                                                  Staff.login == login)).one_or_none()


def set_password(session: so.Session, hall: HallRef, login: str, password: str,
                 actor: str = "cli", now: dt.datetime | None = None) -> None:
    """Set (or replace) the password of ``login`` in ``hall``; also clears a lock-out. Audited."""
    staff = _staff(session, hall, login)
    if staff is None:
        raise NotFound("unknown_staff", f"Nobody with the login {login!r} works in hall {hall.code}.",
                       "login")
    if len(password) < MIN_LENGTH:
        raise DomainError("weak_password", f"A password needs at least {MIN_LENGTH} characters.",
                          "password")
    row = session.get(StaffCredential, staff.id)
    if row is None:
        row = StaffCredential(staff_id=staff.id, password_hash="")
        session.add(row)
    before = {"had_password": bool(row.password_hash), "locked": row.locked_until is not None}
    row.password_hash = _hasher.hash(password)
    row.failed_attempts, row.locked_until = 0, None
    audit.record(session, hall.id, actor, "staff.password_set", now or dt.datetime.now(dt.timezone.utc),
                 target=f"staff:{login}", before=before, after={"had_password": True, "locked": False})


def check_password(session: so.Session, hall: HallRef, login: str, password: str,
                   now: dt.datetime) -> Staff | None:
    """The staff member if the password is right; None if not. Raises LoginLocked when locked.

    Counts failures in the caller's (write) session, so the caller must commit either way.
    """
    staff = _staff(session, hall, login)
    row = session.get(StaffCredential, staff.id) if staff is not None and staff.active else None
    if row is None:
        _hasher.hash(password)  # same work as a real check: no timing hint that the login exists
        return None
    if row.locked_until is not None and _utc(row.locked_until) > now:
        raise LoginLocked(row.locked_until)
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        row.failed_attempts += 1
        if row.failed_attempts >= MAX_FAILURES:
            row.failed_attempts, row.locked_until = 0, now + LOCK_FOR
        return None
    row.failed_attempts, row.locked_until = 0, None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    return staff


def has_password(session: so.Session, staff_id: int) -> bool:
    return session.get(StaffCredential, staff_id) is not None


def ensure_demo_passwords(session: so.Session, hall: HallRef) -> list[str]:
    """Give every staff member without a password the demo password; only for --demo."""
    done = []
    for staff in session.scalars(sa.select(Staff).where(Staff.hall_id == hall.id)).all():
        if session.get(StaffCredential, staff.id) is None:
            set_password(session, hall, staff.login, DEMO_PASSWORD, actor="demo")
            done.append(staff.login)
    return done


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
