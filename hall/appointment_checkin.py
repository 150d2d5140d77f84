"""Appointment check-in at the kiosk (预约签到) and the no-show job (爽约) that the suspension rule reads."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar, present, privacy, tickets
from hall.appointments import Appointment, AppointmentStatus, get_by_code
from hall.directory import HallRef
from hall.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CheckIn:
    appointment: Appointment
    ticket: tickets.IssuedTicket
    late: bool
    message: str


def _find_by_id(session: so.Session, hall: HallRef, id_number: str, now: dt.datetime,
                privacy_key: bytes) -> Appointment:
    id_hash = privacy.keyed_hash(privacy.normalise_id_number(id_number), privacy_key)
    today = calendar.business_day(now, hall.timezone)
    found = session.scalars(sa.select(Appointment).where(
        Appointment.hall_id == hall.id, Appointment.id_hash == id_hash, Appointment.day == today,
        Appointment.status.in_((AppointmentStatus.BOOKED, AppointmentStatus.NO_SHOW)),
        Appointment.ticket_id.is_(None))).all()
    if not found:
        raise NotFound("no_appointment", "This ID number has no appointment today still to check "
                       "in; take an ordinary ticket, or check in with the booking code.", "id_number")
    return min(found, key=lambda a: abs((a.slot_start - now).total_seconds()))


def check_in(session: so.Session, hall: HallRef, actor: str, now: dt.datetime, *,
             code: str | None = None, id_number: str | None = None, kiosk: str | None = None,
             privacy_key: bytes = b"") -> CheckIn:
    """Check in from check_in_before_minutes before the start to check_in_after_minutes after it:
    an appointment-priority ticket. Later: an ordinary ticket, and the appointment counts as missed.
    Earlier: refused with the time check-in opens. Once only. Caller commits."""
    if not code and not id_number:
        raise DomainError("missing_code", "Give the booking code ('code') or the ID number "
                          "('id_number') the appointment was made with.", "code")
    tickets.lock_hall(session, hall)
    if code:
        appointment = get_by_code(session, code)
        if appointment.hall_id != hall.id:
            raise NotFound("unknown_booking", "This booking code is for another hall.", "code")
    else:
        appointment = _find_by_id(session, hall, id_number, now, privacy_key)
    field = "code" if code else "id_number"
    local = present.iso(appointment.slot_start, hall)
    if appointment.ticket_id is not None:
        raise Conflict("already_checked_in", f"This appointment ({local}) has already been checked "
                       "in and its ticket issued; a booking gives one ticket only.", field)
    if appointment.status is AppointmentStatus.CANCELLED:
        raise Conflict("booking_cancelled", "This appointment was cancelled; please take an "
                       "ordinary ticket.", field)
    today = calendar.business_day(now, hall.timezone)
    if appointment.day != today:
        raise Conflict("wrong_day", f"This appointment is for {appointment.day}, not today "
                       f"({today}); please come back on that day.", field)
    rules = hall.settings.appointments
    opens = appointment.slot_start - dt.timedelta(minutes=rules.check_in_before_minutes)
    closes = appointment.slot_start + dt.timedelta(minutes=rules.check_in_after_minutes)
    if now < opens:
        raise Conflict("too_early", f"Check-in for your {local[11:16]} appointment opens at "
                       f"{present.iso(opens, hall)[11:16]} ({rules.check_in_before_minutes} minutes "
                       "before it starts); please come back then.", field)
    late = now > closes
    prefix = hall.queue_prefixes[appointment.queue_id]
    request = tickets.IssueRequest(queue=prefix, priority="none" if late else "appointment",
                                   channel="kiosk" if late else "appointment", kiosk=kiosk)
    issued = tickets.issue_ticket(session, hall, request, actor, now, privacy_key)
    appointment.ticket_id, appointment.checked_in_at, appointment.late = issued.ticket.id, now, late
    if late:
        # More than check_in_after_minutes late counts as missed (爽约), as the no-show job would.
        appointment.status = AppointmentStatus.NO_SHOW
        message = (f"You are more than {rules.check_in_after_minutes} minutes late for your "
                   f"{local[11:16]} appointment, so it has lapsed and counts as missed; here is an "
                   "ordinary ticket.")
    else:
        appointment.status = AppointmentStatus.CHECKED_IN
        message = "Checked in: your ticket is served with appointment priority."
    return CheckIn(appointment, issued, late, message)


def mark_no_shows(session: so.Session, hall: HallRef, now: dt.datetime) -> int:
    """Booked appointments not checked in by check_in_after_minutes past their start become no_show.
    Idempotent. Caller commits."""
    cutoff = now - dt.timedelta(minutes=hall.settings.appointments.check_in_after_minutes)
    result = session.execute(
        sa.update(Appointment).where(Appointment.hall_id == hall.id,
                                     Appointment.status == AppointmentStatus.BOOKED,
                                     Appointment.slot_start < cutoff)
        .values(status=AppointmentStatus.NO_SHOW).execution_options(synchronize_session=False))
    return result.rowcount or 0


def mark_all_no_shows(rt) -> int:
    """The scheduled job: every hall; run it every minute."""
    marked = 0
    for hall in rt.halls.values():
        with rt.db.write() as session:
            marked += mark_no_shows(session, hall, rt.clock.now())
    if marked:
        log.info("marked %d appointments as missed (no-show)", marked)
    return marked
