"""Bad-review rectification (差评整改): a case per bad rating, verified, fixed, called back, closed."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar, events
from hall.directory import HallRef
from hall.errors import Conflict, DomainError, NotFound
from hall.models import Base, Rating, Service, _enum


class CaseState(str, enum.Enum):
    OPEN = "open"                # opened by the bad rating
    VERIFIED = "verified"        # 核实: the department checked what happened
    RECTIFIED = "rectified"      # 整改: the fix is done
    CALLED_BACK = "called_back"  # 回访: the visitor was asked about the fix
    CLOSED = "closed"
    APPEALED = "appealed"        # 申诉: the review is said to be mistaken or malicious


ACTIVE_STATES = frozenset({CaseState.OPEN, CaseState.VERIFIED, CaseState.RECTIFIED,
                           CaseState.CALLED_BACK})
VISITOR_VIEWS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
APPEAL_KINDS = {"mistaken": "误评", "malicious": "恶意差评"}
DECISIONS = {"upheld": "申诉成立", "rejected": "申诉驳回"}
STATE_NAMES = {CaseState.OPEN: "待核实", CaseState.VERIFIED: "已核实", CaseState.RECTIFIED: "已整改",
               CaseState.CALLED_BACK: "已回访", CaseState.CLOSED: "已办结", CaseState.APPEALED: "申诉中"}


class RectificationCase(Base):
    """One bad review's rectification case (差评整改工单)."""

    __tablename__ = "rectification_cases"
    __table_args__ = (sa.Index("ix_rectification_cases_hall_state", "hall_id", "state"),)
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    rating_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ratings.id"), unique=True)
    service_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("services.id"))
    ticket_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tickets.id"))
    business_day: so.Mapped[dt.date]
    department: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    window_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("windows.id"))
    staff_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("staff.id"))
    level: so.Mapped[int]
    state: so.Mapped[CaseState] = so.mapped_column(_enum(CaseState), default=CaseState.OPEN)
    opened_at: so.Mapped[dt.datetime]
    due_on: so.Mapped[dt.date]  # the last working day to close it
    updated_at: so.Mapped[dt.datetime]
    visitor_view: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    appeal_kind: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    decision: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    closed_at: so.Mapped[dt.datetime | None]
    overdue_alerted_at: so.Mapped[dt.datetime | None]

    rating: so.Mapped[Rating] = so.relationship()
    log: so.Mapped[list[CaseEvent]] = so.relationship(order_by="CaseEvent.id", viewonly=True)


class CaseEvent(Base):
    """Append-only log of a case: every step with who, when, and what was said."""

    __tablename__ = "rectification_events"
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    case_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("rectification_cases.id"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    from_state: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    to_state: so.Mapped[str] = so.mapped_column(sa.String(16))
    note: so.Mapped[str | None] = so.mapped_column(sa.String(1000))
    actor: so.Mapped[str] = so.mapped_column(sa.String(64))
    at: so.Mapped[dt.datetime]
    data: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)


def is_working_day(hall_settings: Any, day: dt.date) -> bool:
    """Weekdays that are not holidays, plus make-up working days (调休)."""
    cal = hall_settings.calendar
    if day in cal.workdays:
        return True
    return day.weekday() < 5 and day not in cal.holidays


def add_working_days(hall_settings: Any, day: dt.date, days: int) -> dt.date:
    """The ``days``-th working day after ``day`` (the day itself does not count)."""
    current, left = day, days
    while left > 0:
        current += dt.timedelta(days=1)
        if is_working_day(hall_settings, current):
            left -= 1
    return current


def _log(session: so.Session, case: RectificationCase, kind: str, previous: CaseState | None,
         actor: str, now: dt.datetime, note: str | None = None, **data: Any) -> None:
    session.add(CaseEvent(case_id=case.id, kind=kind, from_state=previous.value if previous else None,
                          to_state=case.state.value, note=note, actor=actor, at=now,
                          data=data or None))


def open_case(session: so.Session, hall: HallRef, rating: Rating, service: Service, actor: str,
              now: dt.datetime) -> RectificationCase:
    """Open the case of a bad rating, in the rating's transaction; the caller has locked the hall."""
    queue = hall.queue_settings(service.queue_id)
    local_day = calendar.business_day(now, hall.timezone)
    case = RectificationCase(
        hall_id=hall.id, rating_id=rating.id, service_id=service.id, ticket_id=rating.ticket_id,
        business_day=rating.business_day, department=queue.department, window_id=service.window_id,
        staff_id=service.staff_id, level=rating.level, state=CaseState.OPEN, opened_at=now,
        due_on=add_working_days(hall.settings, local_day, hall.settings.rating.rectify_days),
        updated_at=now)
    session.add(case)
    session.flush()
    _log(session, case, "opened", None, actor, now, rating.comment, reasons=list(rating.reasons),
         level=rating.level)
    return case


def get_case(session: so.Session, hall: HallRef, case_id: int, lock: bool = False) -> RectificationCase:
    query = sa.select(RectificationCase).where(RectificationCase.id == case_id,
                                               RectificationCase.hall_id == hall.id)
    if lock and session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    case = session.scalars(query).one_or_none()
    if case is None:
        raise NotFound("unknown_case", f"Hall {hall.code} has no rectification case {case_id}.", "id")
    return case


def _text(value: str | None, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError(f"{field}_required", f"Say {what} ('{field}').", field)
    return value


def _move(session: so.Session, hall: HallRef, case_id: int, allowed: frozenset[CaseState],
          target: CaseState, kind: str, actor: str, now: dt.datetime,
          note: str | None = None, **data: Any) -> RectificationCase:
    case = get_case(session, hall, case_id, lock=True)
    if case.state not in allowed:
        states = " or ".join(sorted(STATE_NAMES[s] for s in allowed))
        raise Conflict("invalid_transition", f"Case {case.id} is {STATE_NAMES[case.state]} "
                       f"({case.state.value}); '{kind}' needs it {states}.", "state")
    previous, case.state, case.updated_at = case.state, target, now
    if target is CaseState.CLOSED:
        case.closed_at = now
    _log(session, case, kind, previous, actor, now, (note or "").strip() or None, **data)
    return case


def verify(session: so.Session, hall: HallRef, case_id: int, actor: str, now: dt.datetime,
           note: str | None = None) -> RectificationCase:
    """Record what checking the review found (核实)."""
    return _move(session, hall, case_id, frozenset({CaseState.OPEN}), CaseState.VERIFIED,
                 "verified", actor, now, note)


def rectify(session: so.Session, hall: HallRef, case_id: int, actor: str, now: dt.datetime,
            note: str | None = None) -> RectificationCase:
    """Record the fix (整改); again after a visitor found the first fix wanting."""
    note = _text(note, "note", "what was done to fix it")
    case = get_case(session, hall, case_id)
    if case.state is CaseState.CALLED_BACK and case.visitor_view != "dissatisfied":
        raise Conflict("invalid_transition", f"Case {case.id} was called back and the visitor is "
                       f"{VISITOR_VIEWS[case.visitor_view]}; close it instead.", "state")
    return _move(session, hall, case_id, frozenset({CaseState.VERIFIED, CaseState.CALLED_BACK}),
                 CaseState.RECTIFIED, "rectified", actor, now, note)


def call_back(session: so.Session, hall: HallRef, case_id: int, actor: str, now: dt.datetime,
              visitor_view: str | None = None, note: str | None = None) -> RectificationCase:
    """Record the call to the visitor about the fix (回访) and their view of it."""
    if visitor_view not in VISITOR_VIEWS:
        raise DomainError("visitor_view_required", "Say what the visitor thinks of the fix: "
                          + ", ".join(f"{k} ({v})" for k, v in VISITOR_VIEWS.items()) + ".",
                          "visitor_view")
    case = _move(session, hall, case_id, frozenset({CaseState.RECTIFIED}), CaseState.CALLED_BACK,
                 "called_back", actor, now, note, visitor_view=visitor_view)
    case.visitor_view = visitor_view
    return case


def close(session: so.Session, hall: HallRef, case_id: int, actor: str, now: dt.datetime,
          note: str | None = None) -> RectificationCase:
    """Close a called-back case (办结); a visitor still dissatisfied needs another fix first."""
    case = get_case(session, hall, case_id)
    if case.state is CaseState.CALLED_BACK and case.visitor_view == "dissatisfied":
        raise Conflict("visitor_dissatisfied", f"The visitor of case {case.id} is not satisfied "
                       "with the fix; rectify again and call back before closing.", "state")
    return _move(session, hall, case_id, frozenset({CaseState.CALLED_BACK}), CaseState.CLOSED,
                 "closed", actor, now, note)


def appeal(session: so.Session, hall: HallRef, case_id: int, actor: str, now: dt.datetime,
           kind: str | None = None, reason: str | None = None) -> RectificationCase:
    """Appeal the review as mistaken or malicious (申诉); a manager decides."""
    if kind not in APPEAL_KINDS:
        raise DomainError("invalid_appeal_kind", "An appeal says the review is "
                          + " or ".join(f"{k} ({v})" for k, v in APPEAL_KINDS.items()) + ".", "kind")
    reason = _text(reason, "reason", "why the review is " + kind)
    case = _move(session, hall, case_id, frozenset({CaseState.OPEN, CaseState.VERIFIED}),
                 CaseState.APPEALED, "appealed", actor, now, reason, appeal_kind=kind)
    case.appeal_kind, case.decision = kind, None
    return case


def decide(session: so.Session, hall: HallRef, case_id: int, actor: str, now: dt.datetime,
           decision: str | None = None, reason: str | None = None) -> RectificationCase:
    """A manager decides an appeal: upheld closes the case, rejected opens it again."""
    if decision not in DECISIONS:
        raise DomainError("invalid_decision", "The decision is upheld (申诉成立) or rejected "
                          "(申诉驳回).", "decision")
    reason = _text(reason, "reason", "the reason for the decision")
    target = CaseState.CLOSED if decision == "upheld" else CaseState.OPEN
    case = _move(session, hall, case_id, frozenset({CaseState.APPEALED}), target, "decided", actor,
                 now, reason, decision=decision)
    case.decision = decision
    return case


ACTIONS = {"verify": verify, "rectify": rectify, "call-back": call_back, "close": close,
           "appeal": appeal, "decide": decide}


def is_overdue(case: RectificationCase, today: dt.date) -> bool:
    return case.state in ACTIVE_STATES and today > case.due_on


def list_cases(session: so.Session, hall: HallRef, *, state: str | None = None,
               department: str | None = None, window: int | None = None, overdue: bool = False,
               start: dt.date | None = None, end: dt.date | None = None,
               today: dt.date | None = None, limit: int = 1000) -> list[RectificationCase]:
    """Cases of a hall, newest first, filtered by state, department, window, due date and day."""
    query = sa.select(RectificationCase).where(RectificationCase.hall_id == hall.id)
    if state:
        try:
            query = query.where(RectificationCase.state == CaseState(state))
        except ValueError:
            raise DomainError("invalid_state", f"Unknown state {state!r}; use one of "
                              f"{', '.join(s.value for s in CaseState)}.", "state") from None
    if department:
        query = query.where(RectificationCase.department == department)
    if window is not None:
        query = query.where(RectificationCase.window_id == hall.window_id(window))
    if overdue:
        query = query.where(RectificationCase.state.in_(ACTIVE_STATES),
                            RectificationCase.due_on < (today or dt.date.today()))
    if start:
        query = query.where(RectificationCase.business_day >= start)
    if end:
        query = query.where(RectificationCase.business_day <= end)
    return list(session.scalars(query.order_by(RectificationCase.id.desc()).limit(limit)))


def alert_overdue(session: so.Session, hall: HallRef, now: dt.datetime) -> list[RectificationCase]:
    """Raise one ``alert`` live event per case newly past its deadline; each case alerts once."""
    today = calendar.business_day(now, hall.timezone)
    cases = list(session.scalars(sa.select(RectificationCase).where(
        RectificationCase.hall_id == hall.id, RectificationCase.state.in_(ACTIVE_STATES),
        RectificationCase.due_on < today, RectificationCase.overdue_alerted_at.is_(None))))
    for case in cases:
        case.overdue_alerted_at = now
        number = hall.window_numbers.get(case.window_id)
        events.record(session, hall.id, hall.code, events.ALERT, now, alert={
            "kind": "rectification_overdue", "level": "warning", "case": case.id,
            "window": number, "department": case.department, "due_on": case.due_on.isoformat(),
            "message": f"差评整改工单 {case.id}（{number}号窗口）已超过办结期限 {case.due_on.isoformat()}"})
    return cases
