"""The city year's writing: the rows of one city-day (ids given by time across halls) and the bulk
loaders that write them, SQLite (executemany, journal off) and PostgreSQL (COPY)."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from .simulate import (S_CALLED, S_ENDED, S_LAST, S_MATTERS, S_OUTCOME, S_QUEUE, S_RECALLS, S_SINCE, S_STAFF,
                       S_TICKET, S_WINDOW, T_BUNDLE, T_CALLED, T_CHANNEL, T_CLOSED, T_ID_H, T_ID_M, T_ISSUED,
                       T_KIOSK, T_MATTERS, T_NUMBER, T_ORIGIN, T_PHONE_H, T_PHONE_M, T_PRIO, T_QUEUE, T_REASON,
                       T_ROUTE, T_SECRET, T_SEQ, T_SINCE, T_SORT, T_STATUS, T_WINDOW, HallDay)

EPOCH = dt.datetime(1970, 1, 1)

# -- writing rows -----------------------------------------------------------------------------

TICKET_COLUMNS = ("id", "hall_id", "business_day", "origin_queue_id", "seq", "number", "queue_id",
                  "target_window_id", "priority", "status", "channel", "issued_at", "waiting_since",
                  "sort_key", "window_id", "called_at", "closed_at", "close_reason", "route", "bundle",
                  "matters", "secret", "phone_hash", "phone_masked", "id_hash", "id_masked", "kiosk")
SERVICE_COLUMNS = ("id", "hall_id", "business_day", "ticket_id", "queue_id", "window_id", "staff_id",
                   "waiting_since", "called_at", "last_called_at", "recalls", "ended_at", "outcome",
                   "matters")
RATING_COLUMNS = ("id", "hall_id", "service_id", "ticket_id", "business_day", "level", "reasons",
                  "comment", "channel", "at", "defaulted")
WINDOW_EVENT_COLUMNS = ("id", "hall_id", "window_id", "staff_id", "kind", "reason", "at", "actor")
COUNTER_COLUMNS = ("queue_id", "business_day", "last_number")


class Ids:
    def __init__(self) -> None:
        self.ticket = self.service = self.rating = self.window_event = 0


def city_day_rows(parts: list[HallDay], ids: Ids, stamp: Callable[[float], str],
                  flag: Callable[[bool], Any]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of one city-day in insertion order (by time across halls), ids given in that order."""
    tickets = sorted(((t[T_ISSUED], k, j) for k, p in enumerate(parts) for j, t in enumerate(p.tickets)))
    ticket_id: dict[tuple[int, int], int] = {}
    ticket_rows = []
    for _, k, j in tickets:
        ids.ticket += 1
        ticket_id[(k, j)] = ids.ticket
        p, t = parts[k], parts[k].tickets[j]
        ticket_rows.append((
            ids.ticket, p.hall.id, p.day.isoformat(), t[T_ORIGIN], t[T_SEQ], t[T_NUMBER], t[T_QUEUE], None,
            t[T_PRIO], t[T_STATUS], t[T_CHANNEL], stamp(t[T_ISSUED]), stamp(t[T_SINCE]), t[T_SORT],
            t[T_WINDOW], None if t[T_CALLED] is None else stamp(t[T_CALLED]),
            None if t[T_CLOSED] is None else stamp(t[T_CLOSED]), t[T_REASON], json.dumps(t[T_ROUTE]),
            t[T_BUNDLE], json.dumps(t[T_MATTERS], ensure_ascii=False), t[T_SECRET], t[T_PHONE_H],
            t[T_PHONE_M], t[T_ID_H], t[T_ID_M], t[T_KIOSK]))
    services = sorted(((s[S_CALLED], k, j) for k, p in enumerate(parts) for j, s in enumerate(p.services)))
    service_id: dict[tuple[int, int], int] = {}
    service_rows = []
    for _, k, j in services:
        ids.service += 1
        service_id[(k, j)] = ids.service
        p, s = parts[k], parts[k].services[j]
        service_rows.append((
            ids.service, p.hall.id, p.day.isoformat(), ticket_id[(k, s[S_TICKET])], s[S_QUEUE], s[S_WINDOW],
            s[S_STAFF], stamp(s[S_SINCE]), stamp(s[S_CALLED]), stamp(s[S_LAST]), s[S_RECALLS],
            stamp(s[S_ENDED]), s[S_OUTCOME], json.dumps(s[S_MATTERS], ensure_ascii=False)))
    rating_rows = []
    for _, k, r in sorted((r[5], k, r) for k, p in enumerate(parts) for r in p.ratings):
        ids.rating += 1
        p = parts[k]
        rating_rows.append((ids.rating, p.hall.id, service_id[(k, r[0])], ticket_id[(k, r[1])],
                            p.day.isoformat(), r[2], json.dumps(r[3]), None, r[4], stamp(r[5]), flag(False)))
    event_rows = []
    for _, k, e in sorted((e[4], k, e) for k, p in enumerate(parts) for e in p.window_events):
        ids.window_event += 1
        event_rows.append((ids.window_event, parts[k].hall.id, e[0], e[1], e[2], e[3], stamp(e[4]), e[5]))
    counter_rows = [(qid, p.day.isoformat(), last) for p in parts for qid, last in p.counters.items()]
    return {"tickets": ticket_rows, "services": service_rows, "ratings": rating_rows,
            "window_events": event_rows, "queue_counters": counter_rows}


COLUMNS = {"tickets": TICKET_COLUMNS, "services": SERVICE_COLUMNS, "ratings": RATING_COLUMNS,
           "window_events": WINDOW_EVENT_COLUMNS, "queue_counters": COUNTER_COLUMNS}


def _sqlite_stamp(t: float) -> str:  # SQLAlchemy's SQLite DATETIME text, UTC
    return (EPOCH + dt.timedelta(microseconds=round(t * 1e6))).isoformat(" ", "microseconds")


def _pg_stamp(t: float) -> str:
    return (EPOCH + dt.timedelta(microseconds=round(t * 1e6))).isoformat(" ", "microseconds") + "+00"


class SqliteLoader:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        # Leaving WAL mode needs the file to itself: the closed runtime's WAL checkpointer thread
        # lets go of its connection within its interval (hall.db.CHECKPOINT_INTERVAL_S).
        deadline = time.monotonic() + 30
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=OFF")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for pragma in ("synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY", "foreign_keys=OFF",
                       "locking_mode=EXCLUSIVE"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.sql = {t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})"
                    for t, c in COLUMNS.items()}
        self.stamp, self.flag = _sqlite_stamp, int

    def write(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        self.conn.execute("BEGIN")
        for table, values in rows.items():
            self.conn.executemany(self.sql[table], values)
        self.conn.execute("COMMIT")

    def finish(self) -> None:
        self.conn.execute("PRAGMA locking_mode=NORMAL")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.close()


class PgLoader:
    def __init__(self, url: str) -> None:
        import psycopg
        self.conn = psycopg.connect(_libpq(url))
        self.stamp, self.flag = _pg_stamp, bool

    def write(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        with self.conn.cursor() as cur:
            for table, values in rows.items():
                with cur.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
        self.conn.commit()

    def finish(self) -> None:
        with self.conn.cursor() as cur:
            for table in ("tickets", "services", "ratings", "window_events"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        self.conn.commit()
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE")
        self.conn.close()


def _libpq(url: str) -> str:
    import sqlalchemy as sa
    u = sa.make_url(url)
    return f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} " \
           f"dbname={u.database}" + (f" password={u.password}" if u.password else "")
