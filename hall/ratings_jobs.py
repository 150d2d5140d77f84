"""Scheduled 好差评 jobs: default ratings of unrated services, overdue case alerts, SMS invitations."""
from __future__ import annotations

import datetime as dt
import logging
import pathlib
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import invitations, notifier as notifier_mod, rectification
from hall.directory import HallRef
from hall.evaluation import RATED_OUTCOMES
from hall.models import Rating, Service
from hall.tickets import lock_hall, log_ticket

log = logging.getLogger(__name__)
DEFAULT_BATCH = 500


def default_unrated(session: so.Session, hall: HallRef, now: dt.datetime,
                    limit: int = DEFAULT_BATCH) -> list[Rating]:
    """Give services unrated ``default_after_days`` after they ended a default rating (默认评价).

    Off when ``default_after_days`` is 0. A default rating has ``defaulted=True`` and never
    counts as an active rating (主动评价); its level is 3–5, so it never opens a case.
    """
    settings = hall.settings.rating
    if not settings.default_after_days:
        return []
    cutoff = now - dt.timedelta(days=settings.default_after_days)
    lock_hall(session, hall)
    rated = sa.select(Rating.id).where(Rating.service_id == Service.id)
    services = session.scalars(sa.select(Service).where(
        Service.hall_id == hall.id, Service.outcome.in_(RATED_OUTCOMES),
        Service.ended_at <= cutoff, ~rated.exists()).order_by(Service.id).limit(limit)).all()
    ratings = []
    for service in services:
        rating = Rating(hall_id=hall.id, service_id=service.id, ticket_id=service.ticket_id,
                        business_day=service.business_day, level=settings.default_level,
                        reasons=[], channel="default", at=now, defaulted=True)
        session.add(rating)
        ratings.append(rating)
        log_ticket(session, hall, service.ticket, "rated", now, "system:default",
                   window_id=service.window_id, service_id=service.id,
                   level=settings.default_level, defaulted=True)
    return ratings


def default_unrated_services(rt: Any) -> int:
    """Job: default ratings in every hall whose policy has them (scheduled hourly)."""
    done = 0
    for hall in rt.halls.values():
        if not hall.settings.rating.default_after_days:
            continue
        with rt.db.write() as session:
            done += len(default_unrated(session, hall, rt.clock.now()))
    return done


def alert_overdue_cases(rt: Any) -> int:
    """Job: an ``alert`` event for each rectification case newly past its deadline."""
    alerted = 0
    for hall in rt.halls.values():
        with rt.db.write() as session:
            alerted += len(rectification.alert_overdue(session, hall, rt.clock.now()))
    return alerted


def var_dir(rt: Any) -> pathlib.Path:
    """The installation's var/ folder: where the server secret lives."""
    return pathlib.Path(rt.settings.server.secret_key_file).parent


def send_rating_invitations(rt: Any, notifiers: dict[str, Any] | None = None) -> int:
    """Job: send the SMS invitations that are due (短信邀评), each through its hall's sender."""
    sent = 0
    for hall in rt.halls.values():
        sender = (notifiers or {}).get(hall.code)
        if sender is None:
            sender = notifier_mod.notifier_for(hall.settings.rating, var_dir(rt))
        sent += invitations.send_due(rt.db, hall, sender, rt.clock.now(), rt.privacy_key)
    return sent
