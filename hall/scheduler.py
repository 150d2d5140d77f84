"""Scheduled jobs (APScheduler 3.x), run by one process only: a file lock on one host, a
PostgreSQL advisory lock across hosts. Every job is idempotent, so a run twice is harmless."""
from __future__ import annotations

import logging
import pathlib
import threading

import filelock
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from hall import alerts, appointment_checkin, daily, ratings_jobs, retention
from hall.errors import DomainError
from hall.runtime import Runtime

log = logging.getLogger(__name__)
LOCK_KEY = 0x4A12  # PostgreSQL advisory lock number of the scheduler
CLOSE_EVERY_S = 600
SWEEP_EVERY_S = 30
RETRY_LOCK_S = 60


def close_finished_days(rt: Runtime) -> int:
    """Close every past business day that still has open tickets or windows."""
    closed = 0
    for hall in rt.halls.values():
        with rt.db.read() as session:
            days = daily.open_days(session, hall, rt.clock.now())
        for day in days:
            with rt.db.write() as session:
                result = daily.close_day(session, hall, day, rt.clock.now())
            log.info("closed %s of hall %s: %s", day, hall.code, result)
            closed += 1
    return closed


def sweep_no_shows(rt: Runtime) -> int:
    swept = 0
    for hall in rt.halls.values():
        if not hall.settings.policy.no_show_timeout_s:
            continue
        try:
            with rt.db.write() as session:
                swept += len(daily.sweep_no_shows(session, hall, rt.clock.now()))
        except DomainError as err:  # a clerk acted at the same moment: next sweep
            log.info("no-show sweep of %s skipped: %s", hall.code, err.message)
    return swept


def lock_path(rt: Runtime) -> pathlib.Path:
    """Beside the SQLite file, so that every process on that database shares one lock."""
    database = rt.db.url.database or "hall.db"
    return pathlib.Path(f"{database}.scheduler.lock")


def start_scheduler(rt: Runtime) -> SingleScheduler:
    """Start (or stand by for) the jobs; the runtime keeps the scheduler, which keeps its lock:
    dropped, its PostgreSQL lock connection went back to the pool and, once the pool closed it,
    another process started the same jobs while these still ran."""
    scheduler = SingleScheduler(rt, lock_path(rt))
    rt.scheduler = scheduler
    scheduler.start()
    return scheduler


class SingleScheduler:
    """Runs the jobs if this process holds the scheduler lock; retries the lock otherwise."""

    def __init__(self, rt: Runtime, lock_path: pathlib.Path) -> None:
        self.rt = rt
        self._file_lock = filelock.FileLock(str(lock_path)) if rt.db.is_sqlite else None
        self._pg_conn: sa.Connection | None = None
        self._lock_engine: sa.Engine | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._stopped = threading.Event()
        self._retry: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def _acquire(self) -> bool:
        if self._file_lock is not None:
            try:
                self._file_lock.acquire(timeout=0)
                return True
            except filelock.Timeout:
                return False
        if self._lock_engine is None:  # its own connection, never one of the pool's
            self._lock_engine = sa.create_engine(self.rt.db.url, poolclass=sa.pool.NullPool)
        conn = self._lock_engine.connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        conn.commit()
        if got:
            self._pg_conn = conn  # the lock lives as long as this connection
            return True
        conn.close()
        return False

    def start(self) -> bool:
        """Start the jobs now if the lock is free; else keep trying in the background."""
        if self._acquire():
            self._start_jobs()
            return True
        log.info("another process runs the scheduled jobs; this one stands by")
        self._retry = threading.Thread(target=self._wait_for_lock, name="scheduler-lock", daemon=True)
        self._retry.start()
        return False

    def _wait_for_lock(self) -> None:
        while not self._stopped.wait(RETRY_LOCK_S):
            if self._acquire():
                self._start_jobs()
                return

    def _start_jobs(self) -> None:
        scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True,
                                                                      "max_instances": 1})
        scheduler.add_job(close_finished_days, "interval", seconds=CLOSE_EVERY_S, args=[self.rt],
                          id="close_finished_days", next_run_time=None)
        scheduler.add_job(sweep_no_shows, "interval", seconds=SWEEP_EVERY_S, args=[self.rt],
                          id="sweep_no_shows")
        # 好差评: default ratings (off unless configured), overdue 差评整改 cases, SMS invitations.
        scheduler.add_job(ratings_jobs.default_unrated_services, "interval", seconds=3600,
                          args=[self.rt], id="default_unrated_services")
        scheduler.add_job(ratings_jobs.alert_overdue_cases, "interval", seconds=600, args=[self.rt],
                          id="alert_overdue_cases")
        scheduler.add_job(ratings_jobs.send_rating_invitations, "interval", seconds=60,
                          args=[self.rt], id="send_rating_invitations")
        # A ticket waiting past [halls.alerts] max_wait_minutes raises an alert even with no event.
        scheduler.add_job(alerts.check_long_waits, "interval", seconds=60, args=[self.rt],
                          id="alert_long_waits")
        # 预约: not checked in 10 minutes after the slot start → no-show (two → no booking for a while).
        scheduler.add_job(appointment_checkin.mark_all_no_shows, "interval", seconds=60,
                          args=[self.rt], id="appointment_no_shows")
        # Visitors' personal data (hash and masked form) of tickets and appointments cleared
        # after server.personal_data_days.
        scheduler.add_job(retention.purge_all, "interval", hours=24, args=[self.rt],
                          id="purge_personal_data")
        scheduler.start()
        scheduler.get_job("close_finished_days").modify(next_run_time=_soon())
        self._scheduler = scheduler
        log.info("scheduled jobs run in this process")

    def stop(self) -> None:
        self._stopped.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._file_lock is not None and self._file_lock.is_locked:
            self._file_lock.release()
        if self._pg_conn is not None:
            self._pg_conn.close()
            self._pg_conn = None
        if self._lock_engine is not None:
            self._lock_engine.dispose()
            self._lock_engine = None


def _soon():
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
