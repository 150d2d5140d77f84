"""When each window was open and paused, from its sign-in / pause / resume / sign-out log, and the
clerks' attendance (考勤) built on it: first sign-in, last sign-out, open and pause time per day.
The period reports (hall.reports) take their window utilisation from the same stretches."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall.directory import HallRef
from hall.models import Staff, WindowEvent

INF = math.inf


def epoch_seconds(session: so.Session, column: Any) -> Any:
    """Seconds since the epoch computed by the database: no datetime conversion per row."""
    if session.get_bind().dialect.name == "sqlite":  # stored as UTC text
        return sa.func.round((sa.func.julianday(column) - 2440587.5) * 86400.0, 3)
    return sa.cast(sa.extract("epoch", column), sa.Float)


def span(hall: HallRef, date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants from the start of ``date_from`` to the end of ``date_to``, hall time."""
    zone = ZoneInfo(hall.timezone)
    return (dt.datetime.combine(date_from, dt.time(), zone),
            dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), zone))


def window_segments(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
                    cap: float = INF) -> list[dict[str, Any]]:
    """The open and paused stretches of every window from its sign-in/sign-out/pause/resume log,
    in epoch seconds; one left open ends at ``cap`` (now) or at the end of its local day."""
    start, end = span(hall, date_from, date_to)
    zone = ZoneInfo(hall.timezone)
    rows = session.connection().execute(
        sa.select(WindowEvent.window_id, WindowEvent.staff_id, WindowEvent.kind,
                  WindowEvent.reason, epoch_seconds(session, WindowEvent.at))
        .where(WindowEvent.hall_id == hall.id, WindowEvent.at >= start, WindowEvent.at < end)
        .order_by(WindowEvent.window_id, WindowEvent.at, WindowEvent.id)).all()
    out: list[dict[str, Any]] = []

    def day_end(t: float) -> float:
        local = dt.datetime.fromtimestamp(t, zone).date() + dt.timedelta(days=1)
        return dt.datetime.combine(local, dt.time(), zone).timestamp()

    def close(state: dict[str, Any] | None, at: float) -> None:
        if state is not None:
            stop = min(at, day_end(state["start"]), cap)
            if stop > state["start"]:
                out.append({**state, "end": stop})

    current: dict[str, Any] | None = None
    previous_window = None
    for window_id, staff_id, kind, reason, at in rows:
        if window_id != previous_window:
            close(current, INF)
            current, previous_window = None, window_id
        close(current, at)
        number = hall.window_numbers.get(window_id)
        base = {"window": number, "window_id": window_id, "staff_id": staff_id, "start": at,
                "reason": None}
        if kind in ("sign_in", "resume"):
            current = {**base, "kind": "open"}
        elif kind == "pause":
            current = {**base, "kind": "pause", "reason": reason}
        else:  # sign_out
            current = None
    close(current, INF)
    return out


def attendance(session: so.Session, hall: HallRef, date_from: dt.date, date_to: dt.date,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """Per clerk and day (考勤): first sign-in, last sign-out, open time, pause time by reason."""
    start, end = span(hall, date_from, date_to)
    zone = ZoneInfo(hall.timezone)
    staff = {s.id: s for s in session.scalars(sa.select(Staff).where(Staff.hall_id == hall.id))}
    days: dict[tuple[int, dt.date], dict[str, Any]] = {}

    def entry(staff_id: int, at: dt.datetime) -> dict[str, Any]:
        local = at.astimezone(zone)
        return days.setdefault((staff_id, local.date()), {
            "date": local.date().isoformat(), "sign_in": None, "sign_out": None, "windows": set(),
            "open_s": 0.0, "pause_s": {}})

    for staff_id, window_id, kind, at in session.execute(
            sa.select(WindowEvent.staff_id, WindowEvent.window_id, WindowEvent.kind, WindowEvent.at)
            .where(WindowEvent.hall_id == hall.id, WindowEvent.at >= start, WindowEvent.at < end,
                   WindowEvent.staff_id.is_not(None), WindowEvent.kind.in_(("sign_in", "sign_out")))
            .order_by(WindowEvent.at, WindowEvent.id)):
        e = entry(staff_id, at)
        e["windows"].add(hall.window_numbers.get(window_id))
        stamp = at.astimezone(zone).isoformat(timespec="seconds")
        if kind == "sign_in" and e["sign_in"] is None:
            e["sign_in"] = stamp
        elif kind == "sign_out":
            e["sign_out"] = stamp
    cap = now.timestamp() if now else INF
    for seg in window_segments(session, hall, date_from, date_to, cap):
        if seg["staff_id"] is None:
            continue
        e = entry(seg["staff_id"], dt.datetime.fromtimestamp(seg["start"], dt.timezone.utc))
        e["windows"].add(seg["window"])
        length = seg["end"] - seg["start"]
        if seg["kind"] == "open":
            e["open_s"] += length
        else:
            e["pause_s"][seg["reason"]] = e["pause_s"].get(seg["reason"], 0.0) + length
    clerks: dict[int, dict[str, Any]] = {}
    for (staff_id, _), e in sorted(days.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        person = staff.get(staff_id)
        clerk = clerks.setdefault(staff_id, {
            "login": person.login if person else None, "name": person.name if person else None,
            "days": [], "open_s": 0.0, "pause_s": {}})
        e["windows"] = sorted(w for w in e["windows"] if w is not None)
        e["open_s"] = round(e["open_s"], 1)
        e["pause_s"] = {r: round(s, 1) for r, s in sorted(e["pause_s"].items())}
        e["pause_total_s"] = round(sum(e["pause_s"].values()), 1)
        clerk["days"].append(e)
        clerk["open_s"] = round(clerk["open_s"] + e["open_s"], 1)
        for reason, seconds in e["pause_s"].items():
            clerk["pause_s"][reason] = round(clerk["pause_s"].get(reason, 0.0) + seconds, 1)
    ordered = sorted(clerks.values(), key=lambda c: str(c["login"]))
    return {"hall": hall.code, "from": date_from.isoformat(), "to": date_to.isoformat(),
            "clerks": ordered}
