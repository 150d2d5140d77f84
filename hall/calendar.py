"""Opening hours, holidays, make-up working days and extra sessions of a hall (pure, no database)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo


class _Session(Protocol):
    start: dt.time
    end: dt.time


def business_day(at: dt.datetime, timezone: str) -> dt.date:
    """The hall's local date at ``at``: numbering restarts with it, without a reset job."""
    return at.astimezone(ZoneInfo(timezone)).date()


def sessions_on(hall: Any, day: dt.date) -> Sequence[_Session]:
    """The opening sessions of ``hall`` on ``day``: extra sessions, holidays, 调休, then the week."""
    calendar, hours = hall.calendar, hall.hours
    for extra in calendar.extra_sessions:
        if extra.date == day:
            return extra.sessions
    if day in calendar.holidays:
        return ()
    if day in calendar.workdays:  # a make-up working day (调休) keeps weekday hours
        return hours.weekdays
    weekday = day.weekday()
    if weekday < 5:
        return hours.weekdays
    return hours.saturday if weekday == 5 else hours.sunday


@dataclasses.dataclass(frozen=True)
class Opening:
    start: dt.datetime
    end: dt.datetime


def session_at(hall: Any, at: dt.datetime) -> Opening | None:
    """The session ``at`` falls in, or None when the hall is closed then."""
    tz = ZoneInfo(hall.timezone)
    local = at.astimezone(tz)
    for session in sessions_on(hall, local.date()):
        if session.start <= local.time() < session.end:
            return Opening(dt.datetime.combine(local.date(), session.start, tz),
                           dt.datetime.combine(local.date(), session.end, tz))
    return None


def next_opening(hall: Any, at: dt.datetime, horizon_days: int = 60) -> dt.datetime | None:
    """The next instant after ``at`` at which a session starts (None if none within the horizon)."""
    tz = ZoneInfo(hall.timezone)
    local = at.astimezone(tz)
    for offset in range(horizon_days + 1):
        day = local.date() + dt.timedelta(days=offset)
        for session in sessions_on(hall, day):
            start = dt.datetime.combine(day, session.start, tz)
            if start > local:
                return start
    return None


def last_closing(hall: Any, day: dt.date) -> dt.datetime | None:
    """When the last session of ``day`` ends (None on a closed day)."""
    sessions = sessions_on(hall, day)
    if not sessions:
        return None
    return dt.datetime.combine(day, max(s.end for s in sessions), ZoneInfo(hall.timezone))
