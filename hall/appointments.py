"""Appointments (预约): slots per queue and day with quotas, booking, cancelling, the no-show suspension."""
from __future__ import annotations

import calendar as month_calendar
import dataclasses
import datetime as dt
import enum
import secrets
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar, present, privacy
from hall.directory import HallRef
from hall.errors import Conflict, DomainError, NotFound
from hall.models import Base, _enum
from hall.tickets import lock_hall

# No 0/O, 1/I/L: a code read out over the phone or typed at a kiosk cannot be mistaken.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
HORIZON_DAYS = 60


class AppointmentStatus(str, enum.Enum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"  # not checked in by check_in_after_minutes past the start (爽约)


TAKEN_STATES = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN,
                          AppointmentStatus.NO_SHOW})


class Appointment(Base):
    """A booked slot (预约); the visitor's ID and phone only as a keyed hash and a masked form."""

    __tablename__ = "appointments"
    __table_args__ = (sa.Index("ix_appointments_slot", "queue_id", "slot_start"),
                      sa.Index("ix_appointments_person", "hall_id", "id_hash", "day"))
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    queue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("queues.id"))
    code: so.Mapped[str] = so.mapped_column(sa.String(16), unique=True)
    day: so.Mapped[dt.date]
    slot_start: so.Mapped[dt.datetime]
    slot_end: so.Mapped[dt.datetime]
    status: so.Mapped[AppointmentStatus] = so.mapped_column(_enum(AppointmentStatus),
                                                            default=AppointmentStatus.BOOKED)
    booked_at: so.Mapped[dt.datetime]
    cancelled_at: so.Mapped[dt.datetime | None]
    checked_in_at: so.Mapped[dt.datetime | None]
    late: so.Mapped[bool] = so.mapped_column(default=False)
    ticket_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("tickets.id"))
    id_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    id_masked: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    phone_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    phone_masked: so.Mapped[str | None] = so.mapped_column(sa.String(20))


@dataclasses.dataclass(frozen=True)
class Slot:
    start: dt.datetime  # in the hall's time zone
    end: dt.datetime

    @property
    def label(self) -> str:
        return f"{self.start:%H:%M}"


def slot_settings(hall: HallRef, prefix: str | None) -> Any:
    """The queue's slot settings; a clear error when it has no appointments."""
    if not prefix:
        raise DomainError("missing_queue", "Say which queue the appointment is for ('queue', "
                          "e.g. \"B\").", "queue")
    hall.queue_id(prefix)
    slots = hall.settings.queue(prefix).appointments
    if slots is None:
        offered = ", ".join(q.prefix for q in hall.settings.queues if q.appointments) or "none"
        raise DomainError("no_appointments", f"Queue {prefix} takes no appointments; the queues "
                          f"that do are: {offered}.", "queue")
    return slots


def slots_on(hall: HallRef, prefix: str, day: dt.date) -> list[Slot]:
    """The slots of a queue on a day: back to back within each opening session (none on closed days)."""
    minutes = slot_settings(hall, prefix).slot_minutes
    tz = ZoneInfo(hall.timezone)
    found = []
    for session in calendar.sessions_on(hall.settings, day):
        start = dt.datetime.combine(day, session.start, tz)
        end = dt.datetime.combine(day, session.end, tz)
        step = dt.timedelta(minutes=minutes)
        while start + step <= end:
            found.append(Slot(start, start + step))
            start += step
    return found


def bookable_days(hall: HallRef, now: dt.datetime) -> list[dt.date]:
    """Opening days from min_days_ahead to max_days_ahead opening days after today (today counts 0)."""
    rules = hall.settings.appointments
    today = calendar.business_day(now, hall.timezone)
    days, ahead = [], 0
    for offset in range(1, HORIZON_DAYS + 1):
        day = today + dt.timedelta(days=offset)
        if calendar.sessions_on(hall.settings, day):
            ahead += 1
            if ahead > rules.max_days_ahead:
                break
            if ahead >= rules.min_days_ahead:
                days.append(day)
    if rules.min_days_ahead == 0 and calendar.sessions_on(hall.settings, today):
        days.insert(0, today)
    return days


def _check_day(hall: HallRef, day: dt.date, now: dt.datetime) -> None:
    rules = hall.settings.appointments
    days = bookable_days(hall, now)
    today = calendar.business_day(now, hall.timezone)
    span = (f"on {today} you can book {days[0]} to {days[-1]}" if days
            else "no day can be booked at the moment")
    if day in days:
        return
    if not calendar.sessions_on(hall.settings, day):
        why = f"the hall is closed on {day} (a rest day or holiday), so it has no slots"
    elif days and day < days[0]:
        why = f"the earliest day you can book is {days[0]}"
    else:
        why = f"{day} is too far ahead; the latest day you can book is {days[-1] if days else '—'}"
    raise DomainError("outside_booking_window", f"Bookings open {rules.min_days_ahead} to "
                      f"{rules.max_days_ahead} working days ahead: {span}; {why}. Choose another "
                      "date.", "date")


def add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    last = month_calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def suspended_until(session: so.Session, hall: HallRef, id_hash: str) -> dt.date | None:
    """The day bookings open again for someone with no_show_limit missed appointments (爽约), or None.

    Every no_show_limit missed appointments start a suspension of ban_months from the last of
    them; appointments missed during a suspension (booked before it) do not count again."""
    rules = hall.settings.appointments
    if not rules.no_show_limit:
        return None
    missed = session.scalars(sa.select(Appointment.day).where(
        Appointment.hall_id == hall.id, Appointment.id_hash == id_hash,
        Appointment.status == AppointmentStatus.NO_SHOW).order_by(Appointment.slot_start))
    count, until = 0, None
    for day in missed:
        if until is not None and day < until:
            continue
        count += 1
        if count >= rules.no_show_limit:
            until, count = add_months(day, rules.ban_months), 0
    return until


def taken(session: so.Session, queue_id: int, start: dt.datetime) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Appointment).where(
        Appointment.queue_id == queue_id, Appointment.slot_start == start,
        Appointment.status.in_(TAKEN_STATES))) or 0


def free_places(session: so.Session, hall: HallRef, prefix: str, day: dt.date) -> list[tuple[Slot, int]]:
    """Each slot of the day with its free places."""
    per_slot = slot_settings(hall, prefix).per_slot
    queue_id = hall.queue_id(prefix)
    slots = slots_on(hall, prefix, day)
    if not slots:
        return []
    counts = dict(session.execute(sa.select(Appointment.slot_start, sa.func.count()).where(
        Appointment.queue_id == queue_id, Appointment.day == day,
        Appointment.status.in_(TAKEN_STATES)).group_by(Appointment.slot_start)).all())
    counts = {start.astimezone(dt.timezone.utc): n for start, n in counts.items()}
    return [(s, max(0, per_slot - counts.get(s.start.astimezone(dt.timezone.utc), 0))) for s in slots]


def _find_slot(hall: HallRef, prefix: str, day: dt.date, start: str | None) -> Slot:
    slots = slots_on(hall, prefix, day)
    for slot in slots:
        if slot.label == (start or "").strip():
            return slot
    listed = ", ".join(s.label for s in slots[:12]) + (" …" if len(slots) > 12 else "")
    raise DomainError("unknown_slot", f"There is no slot starting at {start!r} on {day} in queue "
                      f"{prefix}; the slots start at: {listed}.", "start")


def _new_code(session: so.Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(sa.select(Appointment.id).where(Appointment.code == code)) is None:
            return code


def book(session: so.Session, hall: HallRef, prefix: str | None, day: dt.date, start: str | None,
         id_number: str | None, phone: str | None, now: dt.datetime,
         privacy_key: bytes = b"") -> Appointment:
    """Book a place in a slot: the booking window, the suspension, one per person per day, the quota.
    Caller commits."""
    slot_cfg = slot_settings(hall, prefix)
    if not id_number:
        raise DomainError("missing_id_number", "Give the ID number of the person who will come "
                          "('id_number', 18 characters).", "id_number")
    if not phone:
        raise DomainError("missing_phone", "Give a mobile number ('phone', 11 digits).", "phone")
    id_number = privacy.normalise_id_number(id_number)
    phone = privacy.normalise_phone(phone)
    _check_day(hall, day, now)
    slot = _find_slot(hall, prefix, day, start)
    if slot.start <= now:
        raise Conflict("slot_passed", f"The {slot.label} slot on {day} has already started; "
                       "choose a later one.", "start")
    id_hash = privacy.keyed_hash(id_number, privacy_key)
    rules = hall.settings.appointments
    lock_hall(session, hall)
    until = suspended_until(session, hall, id_hash)
    if until is not None and calendar.business_day(now, hall.timezone) < until:
        raise Conflict("booking_suspended", f"This ID number missed {rules.no_show_limit} "
                       f"appointments, so it cannot book until {until} ({rules.ban_months} "
                       "months); please take a ticket at the hall instead.", "id_number")
    held = session.scalar(sa.select(sa.func.count()).select_from(Appointment).where(
        Appointment.hall_id == hall.id, Appointment.id_hash == id_hash, Appointment.day == day,
        Appointment.status.in_(TAKEN_STATES))) or 0
    if held >= rules.per_person_per_day:
        raise Conflict("already_booked", f"This ID number already has {held} appointment(s) on "
                       f"{day}, the most allowed per person a day; cancel it first or choose "
                       "another date.", "date")
    queue_id = hall.queue_id(prefix)
    if taken(session, queue_id, slot.start) >= slot_cfg.per_slot:
        free = [s.label for s, n in free_places(session, hall, prefix, day) if n and s.start > now]
        other = (f"slots with places left: {', '.join(free[:8])}" if free
                 else "no slot that day has places left; choose another date")
        raise Conflict("slot_full", f"The {slot.label} slot on {day} is fully booked "
                       f"({slot_cfg.per_slot} places); {other}.", "start")
    appointment = Appointment(
        hall_id=hall.id, queue_id=queue_id, code=_new_code(session), day=day,
        slot_start=slot.start, slot_end=slot.end, status=AppointmentStatus.BOOKED, booked_at=now,
        id_hash=id_hash, id_masked=privacy.mask_id_number(id_number),
        phone_hash=privacy.keyed_hash(phone, privacy_key), phone_masked=privacy.mask_phone(phone))
    session.add(appointment)
    session.flush()
    return appointment


def normalise_code(code: str | None) -> str:
    return (code or "").strip().upper().replace(" ", "").replace("-", "")


def get_by_code(session: so.Session, code: str | None) -> Appointment:
    found = session.scalar(sa.select(Appointment).where(Appointment.code == normalise_code(code)))
    if found is None:
        raise NotFound("unknown_booking", "There is no appointment with this booking code; check "
                       "the 8 characters of the code you were given.", "code")
    return found


def cancel(session: so.Session, hall: HallRef, appointment: Appointment, now: dt.datetime) -> Appointment:
    """Cancel a booking up to cancel_before_minutes before its slot starts. Caller commits."""
    lock_hall(session, hall)
    if appointment.status is not AppointmentStatus.BOOKED:
        raise Conflict("booking_closed", f"This appointment is already "
                       f"{appointment.status.value.replace('_', ' ')}.", "code")
    minutes = hall.settings.appointments.cancel_before_minutes
    until = appointment.slot_start - dt.timedelta(minutes=minutes)
    if now > until:
        raise Conflict("too_late_to_cancel", f"Appointments can be cancelled up to {minutes} "
                       f"minutes before they start, that is until {present.iso(until, hall)}; "
                       "if you cannot come, simply do not check in.", "code")
    appointment.status, appointment.cancelled_at = AppointmentStatus.CANCELLED, now
    return appointment


def appointment_view(hall: HallRef, appointment: Appointment, with_code: bool = False) -> dict[str, Any]:
    rules = hall.settings.appointments
    start = appointment.slot_start
    prefix = hall.queue_prefixes.get(appointment.queue_id, "")
    view: dict[str, Any] = {"code": appointment.code} if with_code else {}
    view.update({
        "hall": hall.code, "queue": prefix,
        "queue_name": hall.settings.queue(prefix).name if prefix else "",
        "date": appointment.day.isoformat(), "start": present.iso(start, hall),
        "end": present.iso(appointment.slot_end, hall), "status": appointment.status.value,
        "id_masked": appointment.id_masked, "phone_masked": appointment.phone_masked,
        "cancel_until": present.iso(start - dt.timedelta(minutes=rules.cancel_before_minutes), hall),
        "check_in_from": present.iso(start - dt.timedelta(minutes=rules.check_in_before_minutes), hall),
        "check_in_until": present.iso(start + dt.timedelta(minutes=rules.check_in_after_minutes), hall),
        "late": appointment.late,
    })
    return view
