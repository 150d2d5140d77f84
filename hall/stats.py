"""The day's KPIs of a hall, computed from tickets, services and ratings (definitions in docs/kpi.md)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import calendar
from hall.directory import HallRef
from hall.evaluation import RATED_OUTCOMES
from hall.models import Rating, Service, Ticket, TicketStatus


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def day_stats(session: so.Session, hall: HallRef, day: dt.date) -> dict[str, Any]:
    # The day's tickets counted in one pass over ix_tickets_hall_day, the status of each
    # service's ticket read with it (by primary key). No query filters or groups tickets by
    # status: SQLite (without statistics) would rather walk an index led by (hall_id, status),
    # i.e. every ticket of that status the hall ever had (tests/test_dashboard_counts.py).
    issued, no_show, waiting = session.execute(sa.select(
        sa.func.count(), sa.func.sum(sa.case((Ticket.status == TicketStatus.NO_SHOW, 1), else_=0)),
        sa.func.sum(sa.case((Ticket.status == TicketStatus.WAITING, 1), else_=0)),
    ).where(Ticket.hall_id == hall.id, Ticket.business_day == day)).one()
    services = session.execute(sa.select(
        Service.ticket_id, Service.waiting_since, Service.called_at, Service.last_called_at,
        Service.ended_at, Service.outcome,
        sa.and_(Ticket.status == TicketStatus.DONE, Ticket.business_day == day),
    ).join(Ticket, Ticket.id == Service.ticket_id)
        .where(Service.hall_id == hall.id, Service.business_day == day)
        .order_by(Service.ticket_id, Service.id)).all()
    last_outcome: dict[int, tuple[str | None, bool]] = {}  # the ticket's last service, ticket done
    waits, durations = [], []
    done_services = extended = 0
    closing = calendar.last_closing(hall.settings, day)
    for ticket_id, waiting_since, called_at, last_called, ended_at, outcome, ticket_done in services:
        waits.append((called_at - waiting_since).total_seconds())
        last_outcome[ticket_id] = (outcome, bool(ticket_done))
        if outcome in RATED_OUTCOMES:
            done_services += 1
            durations.append((ended_at - last_called).total_seconds())
            # 延时服务: a service called after the day's last closing time (those still waiting
            # at closing are served; the hall reports how many).
            extended += closing is not None and called_at > closing
    served = sum(1 for outcome, ticket_done in last_outcome.values() if outcome == "done" and ticket_done)
    levels = session.scalars(sa.select(Rating.level).where(
        Rating.hall_id == hall.id, Rating.business_day == day, Rating.defaulted.is_(False))).all()
    target = hall.settings.policy.target_wait_s
    return {
        "date": day.isoformat(),
        "issued": issued,
        "served": served,
        "no_show": no_show or 0,
        "services": done_services,
        "extended_services": extended,
        "waiting": waiting or 0,
        "avg_wait_s": round(sum(waits) / len(waits), 1) if waits else None,
        "max_wait_s": round(max(waits), 1) if waits else None,
        "avg_service_s": round(sum(durations) / len(durations), 1) if durations else None,
        "service_level": _ratio(sum(1 for w in waits if w <= target), len(waits)),
        "target_wait_s": target,
        "ratings": len(levels),
        "evaluation_rate": _ratio(len(levels), done_services),
        "good_rate": _ratio(sum(1 for lv in levels if lv >= 4), len(levels)),
    }
