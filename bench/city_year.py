"""A year of a 50-hall city (≈10 M tickets) on SQLite and PostgreSQL: bulk-loaded, days closed as
production closes them (day_rollups), then the manager's monthly report timed from the rollups and,
as the baseline in the same run, from the raw tickets.

    .venv/bin/python bench/city_year.py                       # a quick check: 4 halls × 10 days, SQLite
    nice -n 10 .venv/bin/python bench/city_year.py --halls 50 --days 249 --tickets 800 --engine both

Steps, per engine:

1. A fresh database whose schema comes from the project's Alembic migrations (``runtime.start``),
   the halls of ``config.toml``'s reference hall XS copied into a city tree (``bench/city_view.py``:
   HB → 9 districts → 40 streets; every hall has XS's 52 windows, 10 queues, 2 bundles and
   calendar).
2. ``--days`` opening days from 2025-01-02 (2025 has 249 in that calendar). Each hall-day is a
   discrete-event simulation (``simulate``): about ``--tickets`` tickets a hall-day (the city hall
   larger, streets smaller, Mondays and the days after holidays busier), arrivals by a morning-peak
   profile within the sessions, the queue mix of a district hall, priorities, bundles (一件事一次办),
   as many windows opened per queue as its work needs, each signed in by its clerk, served in the
   window's queue order (FIFO by sort key, priorities first), recalls, no-shows, transfers,
   unresolved services, visitors who give up, a lunch pause, afternoon breaks, extended hours
   (延时办) until the queue is empty, 好差评 ratings of 70 % of the services. Rows of the city's day
   are sorted by time across halls before their ids are given, as production interleaves them.
   Tickets, services, ratings, window events and queue counters are written; the ticket log
   (ticket_events, ≈4 rows a ticket) is not: no report reads it.
   Loading: SQLite — one connection with ``journal_mode=OFF``, ``synchronous=OFF``, a 1 GB cache,
   ``executemany`` of a whole city-day per transaction, WAL mode back afterwards; PostgreSQL —
   ``COPY … FROM STDIN`` through psycopg (the project's driver), sequences set, ``VACUUM ANALYZE``.
3. Every hall-day is closed with ``hall.daily.close_day`` — the end-of-day job of production, which
   cancels what still waits, signs out windows left open and writes the day's rollups
   (``hall.rollups.write_rollup``) — one transaction per hall-day; its cost per hall-day is printed.
4. The reports, as ``hall/web/reports.py`` calls them (``reports.report(…, now=…)``) and through
   the API with a manager's token (``GET …/reports`` and ``…/reports.xlsx`` in the Flask test
   client): one hall's month (by day, and every other grouping), a whole year by month, the whole
   city's month hall by hall (the report of each of its halls) and as the city report
   (``reports.city_report``, GET /api/v1/city/reports: every hall's kept days in one statement) by
   hall, day and month, and the city's year by month; each from the rollups and from the raw
   tickets (``use_rollups=False``), median and max of ``--runs`` runs; the two must be equal.

The SQLite file goes to ``--dir`` (default a temporary directory), the PostgreSQL database is
``--pg-database`` on ``--pg-url``; both are deleted at the end unless ``--keep``; ``--reuse`` times the
reports again on what a ``--keep`` run left, without loading.
"""
from __future__ import annotations

import argparse
import bisect
import datetime as dt
import heapq
import json
import math
import os
import pathlib
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

ROOT = pathlib.Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from city_view import tree  # noqa: E402
from hall import calendar, daily, report_export, reports, runtime as runtime_mod  # noqa: E402
from hall.clock import ManualClock  # noqa: E402
from hall.config import parse_config  # noqa: E402
from hall.config_errors import read_toml  # noqa: E402

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1)
FIRST_DAY = dt.date(2025, 1, 2)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Share of the tickets by first queue (a district hall: 综合受理, 人社, 公安户政 and 医保 the busiest).
QUEUE_SHARE = {"A": 18, "B": 11, "C": 6, "D": 16, "E": 12, "F": 14, "G": 8, "H": 9, "J": 4, "K": 2}
# Arrivals by local hour of the day (relative): a morning peak, a smaller one after lunch.
HOUR_PROFILE = {8: 1.0, 9: 1.7, 10: 1.6, 11: 1.0, 12: 0.3, 13: 0.8, 14: 1.3, 15: 1.2, 16: 0.9, 17: 0.4}
WEEKDAY_FACTOR = (1.18, 1.05, 1.0, 0.97, 0.88, 0.5, 0.5)
MONTH_FACTOR = (1.05, 0.85, 1.1, 1.0, 0.95, 1.05, 0.95, 0.95, 1.0, 0.95, 1.0, 1.1)
LEVEL_WEIGHT = {"city": 2.2, "district": 1.3, "street": 0.85, "community": 0.5}
PRIORITIES = (("elderly", 0.07), ("disabled", 0.01), ("veteran", 0.005), ("pregnant", 0.005))
RATING_LEVELS = ((5, 80), (4, 12), (3, 5), (2, 2), (1, 1))
BAD_REASONS = ("attitude", "efficiency", "guidance", "materials", "environment", "other")
NO_SHOW, RECALL, TRANSFER, UNRESOLVED = 0.04, 0.05, 0.025, 0.01
STAFFED_HOURS_SHARE = 0.8  # a clerk's productive share of the session time, for the staffing plan

# -- the simulation of one hall-day -----------------------------------------------------------


class Plan:
    """A hall's static data for the simulation: queues, windows, clerks, bundles."""

    def __init__(self, hall: Any) -> None:
        s = hall.settings
        self.hall = hall
        self.settings = s
        self.prefixes = [q.prefix for q in s.queues]
        self.qid = dict(hall.queue_ids)
        self.avg = {q.prefix: q.avg_service_s for q in s.queues}
        self.width = {q.prefix: q.number_width for q in s.queues}
        self.matters = {q.prefix: list(q.matters) or [] for q in s.queues}
        self.last_ticket = {q.prefix: q.last_ticket for q in s.queues}
        self.appointments = {q.prefix for q in s.queues if q.appointments is not None}
        self.shares = [QUEUE_SHARE.get(p, 5) for p in self.prefixes]
        clerk_of = {}
        for member in s.staff:
            for number in member.windows:
                clerk_of.setdefault(number, hall.staff_ids.get(member.login))
        self.login_of = {hall.staff_ids[m.login]: m.login for m in s.staff}
        # (number, id, queue prefixes in the window's order, clerk's staff id)
        self.windows = [(w.number, hall.window_ids[w.number], tuple(w.queues), clerk_of.get(w.number))
                        for w in s.windows]
        self.primary: dict[str, list[int]] = {p: [] for p in self.prefixes}
        for i, (_, _, queues, _) in enumerate(self.windows):
            self.primary[queues[0]].append(i)
        self.bundles = {b.queues[0]: (b.code, list(b.queues[1:])) for b in s.bundles}
        self.zone = ZoneInfo(hall.timezone)


class HallDay:
    """The rows of one hall-day, times as epoch seconds, references as list indexes."""

    __slots__ = ("hall", "day", "tickets", "services", "ratings", "window_events", "counters")

    def __init__(self, hall: Any, day: dt.date) -> None:
        self.hall, self.day = hall, day
        self.tickets: list[list[Any]] = []
        self.services: list[list[Any]] = []
        self.ratings: list[list[Any]] = []
        self.window_events: list[list[Any]] = []
        self.counters: dict[int, int] = {}


# ticket fields while simulating
T_ORIGIN, T_SEQ, T_NUMBER, T_QUEUE, T_PRIO, T_STATUS, T_CHANNEL, T_ISSUED, T_SINCE, T_SORT, \
    T_WINDOW, T_CALLED, T_CLOSED, T_REASON, T_ROUTE, T_BUNDLE, T_MATTERS, T_SECRET, T_PHONE_H, \
    T_PHONE_M, T_ID_H, T_ID_M, T_KIOSK, T_PATIENCE = range(24)
# service fields
S_TICKET, S_QUEUE, S_WINDOW, S_STAFF, S_SINCE, S_CALLED, S_LAST, S_RECALLS, S_ENDED, S_OUTCOME, \
    S_MATTERS = range(11)

ARRIVE, FREE, WAKE, GIVE_UP = 0, 1, 2, 3


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def simulate(plan: Plan, day: dt.date, n: int, rng: random.Random) -> HallDay:
    """One business day of a hall with about ``n`` visitors (see the module's docstring)."""
    out = HallDay(plan.hall, day)
    zone = plan.zone
    sessions = [(dt.datetime.combine(day, s.start, zone).timestamp(),
                 dt.datetime.combine(day, s.end, zone).timestamp())
                for s in calendar.sessions_on(plan.settings, day)]
    if not sessions or n <= 0:
        return out
    first_open, last_close = sessions[0][0], sessions[-1][1]
    # arrivals: 15-minute slices of the sessions weighted by the hour profile
    slices, weights = [], []
    for start, end in sessions:
        t = start
        while t < end:
            hour = dt.datetime.fromtimestamp(t, zone).hour
            slices.append((t, min(t + 900, end)))
            weights.append(HOUR_PROFILE.get(hour, 0.5) * (min(t + 900, end) - t))
            t += 900
    cumulative = list(_accumulate(weights))
    arrivals = []
    for _ in range(n):
        a, b = slices[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
        arrivals.append(rng.uniform(a, b))
    arrivals.sort()

    seqs: dict[str, int] = {}
    tickets = out.tickets
    waiting: dict[str, list[tuple[float, int]]] = {p: [] for p in plan.prefixes}
    for t in arrivals:
        prefix = rng.choices(plan.prefixes, plan.shares)[0]
        last = plan.last_ticket[prefix]
        if last is not None and dt.datetime.fromtimestamp(t, zone).time() >= last:
            prefix = plan.prefixes[0]
        seqs[prefix] = seqs.get(prefix, 0) + 1
        seq = seqs[prefix]
        r = rng.random()
        priority, boost = "none", 0.0
        for name, share in PRIORITIES:
            if r < share:
                priority, boost = name, plan.settings.policy.boost(name)
                break
            r -= share
        channel = "kiosk"
        if priority == "none" and prefix in plan.appointments and rng.random() < 0.12:
            priority, channel = "appointment", "appointment"
            boost = plan.settings.policy.boost("appointment")
        elif rng.random() < 0.08:
            channel = "mobile"
        bundle, route = None, []
        if prefix in plan.bundles and rng.random() < 0.2:
            bundle, rest = plan.bundles[prefix]
            route = [plan.qid[p] for p in rest]
        matters = plan.matters[prefix]
        has_id, has_phone = rng.random() < 0.6, rng.random() < 0.3
        tickets.append([
            plan.qid[prefix], seq, f"{prefix}{seq:0{plan.width[prefix]}d}", prefix, priority,
            "waiting", channel, t, t, t - boost, None, None, None, None, route, bundle,
            [rng.choice(matters)] if matters else [], _hex(rng, 128),
            _hex(rng, 256) if has_phone else None, "138****%04d" % rng.randrange(10000) if has_phone else None,
            _hex(rng, 256) if has_id else None,
            "3401**********%04d" % rng.randrange(10000) if has_id else None,
            rng.choice(("K1", "K2")) if channel == "kiosk" else None,
            rng.uniform(1800, 5400) if rng.random() < 0.12 else math.inf,
        ])
    out.counters = {plan.qid[p]: last for p, last in seqs.items()}

    # staffing: windows per queue from the day's work (first queue of a window = its own)
    per_queue: dict[str, int] = {}
    for ticket in tickets:
        per_queue[ticket[T_QUEUE]] = per_queue.get(ticket[T_QUEUE], 0) + 1
        for qid in ticket[T_ROUTE]:
            p = plan.hall.queue_prefixes[qid]
            per_queue[p] = per_queue.get(p, 0) + 1
    hours = sum(b - a for a, b in sessions) / 3600
    open_windows = []
    for prefix in plan.prefixes:
        work = per_queue.get(prefix, 0) * plan.avg[prefix] / 3600
        need = max(1, math.ceil(work / (hours * STAFFED_HOURS_SHARE)))
        open_windows += plan.primary[prefix][:need]
    open_windows.sort()

    # window state: [state, number, id, queues, staff, ticket index, service index, break at, lunch]
    wins = [["closed", *plan.windows[i], None, None, None, None] for i in open_windows]
    events: list[tuple[float, int, int, int]] = []
    counter = 0

    def push(at: float, kind: int, ref: int) -> None:
        nonlocal counter
        counter += 1
        heapq.heappush(events, (at, counter, kind, ref))

    def log(w: list[Any], kind: str, at: float, reason: str | None = None) -> None:
        staff = w[4]
        actor = f"staff:{plan.login_of[staff]}" if staff in plan.login_of else "system"
        out.window_events.append([w[2], staff, kind, reason, at, actor])

    for index, w in enumerate(wins):
        sign_in = first_open - rng.uniform(0, 600) + (rng.uniform(300, 1200) if rng.random() < 0.03 else 0)
        push(sign_in, WAKE, index)
        if hours > 4 and rng.random() < 0.3:
            w[7] = rng.uniform(last_close - 2.5 * 3600, last_close - 1.5 * 3600)  # a short break
    for i, ticket in enumerate(tickets):
        push(ticket[T_ISSUED], ARRIVE, i)
        if ticket[T_PATIENCE] != math.inf:
            push(ticket[T_ISSUED] + ticket[T_PATIENCE], GIVE_UP, i)

    lunch = [(sessions[k][1], sessions[k + 1][0]) for k in range(len(sessions) - 1)]

    def in_lunch(t: float) -> tuple[float, float] | None:
        for a, b in lunch:
            if a <= t < b:
                return a, b
        return None

    def pick(w: list[Any]) -> int | None:
        for prefix in w[3]:
            heap = waiting[prefix]
            while heap:
                _, i = heapq.heappop(heap)
                if tickets[i][T_STATUS] == "waiting" and tickets[i][T_QUEUE] == prefix:
                    return i
        return None

    def call(w: list[Any], index: int, i: int, t: float) -> None:
        ticket = tickets[i]
        prefix = ticket[T_QUEUE]
        ticket[T_STATUS], ticket[T_WINDOW], ticket[T_CALLED] = "called", w[2], t
        last_called, recalls = t, 0
        if rng.random() < RECALL:
            last_called, recalls = t + rng.uniform(20, 60), 1
        if rng.random() < NO_SHOW:
            end, outcome = last_called + rng.uniform(60, 150), "no_show"
        else:
            mean = plan.avg[prefix]
            end = last_called + max(45.0, rng.lognormvariate(math.log(mean) - 0.125, 0.5))
            r = rng.random()
            if ticket[T_ROUTE]:
                outcome = "done"
            elif r < TRANSFER:
                outcome = "transferred"
            elif r < TRANSFER + UNRESOLVED:
                outcome = "unresolved"
            else:
                outcome = "done"
        out.services.append([i, plan.qid[prefix], w[2], w[4], ticket[T_SINCE], t, last_called, recalls,
                             end, outcome, list(ticket[T_MATTERS]) if outcome != "no_show" else []])
        w[0], w[5], w[6] = "serving", i, len(out.services) - 1
        push(end, FREE, index)

    def next_or_rest(w: list[Any], index: int, t: float) -> None:
        """The window is free at t: a break, the next visitor, lunch, the end of the day, or idle."""
        if w[7] is not None and t >= w[7]:
            w[7] = None
            w[0] = "paused"
            log(w, "pause", t, rng.choice(("break", "break", "meeting")))
            push(t + rng.uniform(600, 1200), WAKE, index)
            return
        i = pick(w)
        if i is not None:
            call(w, index, i, t)
            return
        noon = in_lunch(t)
        if noon is not None and w[8] != noon[0]:  # once per lunch break (it may resume a bit early)
            w[0], w[8] = "paused", noon[0]
            log(w, "pause", t, "lunch")
            push(noon[1] - rng.uniform(0, 300), WAKE, index)
        elif t >= last_close:
            w[0] = "closed"
            log(w, "sign_out", t)
        else:
            w[0] = "idle"

    def wake_idle(prefix: str, t: float) -> None:
        for index, w in enumerate(wins):
            if w[0] == "idle" and prefix in w[3]:
                next_or_rest(w, index, t)
                if w[0] == "serving":
                    return

    for a, b in lunch:  # idle windows pause for lunch when the morning session ends
        push(a, WAKE, -1)
    push(last_close, WAKE, -2)  # idle windows sign out at closing time

    while events:
        t, _, kind, ref = heapq.heappop(events)
        if kind == ARRIVE:
            ticket = tickets[ref]
            heapq.heappush(waiting[ticket[T_QUEUE]], (ticket[T_SORT], ref))
            wake_idle(ticket[T_QUEUE], t)
        elif kind == GIVE_UP:
            ticket = tickets[ref]
            if ticket[T_STATUS] == "waiting" and t < last_close + 3600:
                ticket[T_STATUS], ticket[T_CLOSED], ticket[T_REASON] = "cancelled", t, "cancelled"
        elif kind == FREE:
            w = wins[ref]
            i, s = w[5], w[6]
            ticket, service = tickets[i], out.services[s]
            outcome = service[S_OUTCOME]
            if outcome == "no_show":
                ticket[T_STATUS], ticket[T_CLOSED], ticket[T_REASON] = "no_show", t, "no_show"
            elif outcome == "transferred" or ticket[T_ROUTE]:
                if outcome == "transferred":
                    choices = [p for p in plan.prefixes if p != ticket[T_QUEUE] and p != "K"]
                    ticket[T_QUEUE] = rng.choice(choices)
                else:
                    ticket[T_QUEUE] = plan.hall.queue_prefixes[ticket[T_ROUTE][0]]
                    ticket[T_ROUTE] = ticket[T_ROUTE][1:]
                ticket[T_STATUS], ticket[T_SINCE], ticket[T_WINDOW] = "waiting", t, None
                heapq.heappush(waiting[ticket[T_QUEUE]], (ticket[T_SORT], i))
            else:
                ticket[T_STATUS], ticket[T_CLOSED] = "done", t
            if outcome != "no_show" and rng.random() < 0.7:
                level = rng.choices([lv for lv, _ in RATING_LEVELS], [w_ for _, w_ in RATING_LEVELS])[0]
                reasons = [rng.choice(BAD_REASONS)] if level <= 2 else []
                out.ratings.append([s, i, level, reasons, "pad" if rng.random() < 0.9 else "mobile",
                                    t + rng.uniform(3, 60)])
            w[5] = w[6] = None
            next_or_rest(w, ref, t)
            if ticket[T_STATUS] == "waiting":
                wake_idle(ticket[T_QUEUE], t)
        elif ref == -1:  # the morning session is over: idle windows go to lunch
            for index, w in enumerate(wins):
                if w[0] == "idle":
                    next_or_rest(w, index, t)
        elif ref == -2:  # closing time: idle windows sign out
            for index, w in enumerate(wins):
                if w[0] == "idle":
                    next_or_rest(w, index, t)
        else:  # a window signs in or comes back from a pause
            w = wins[ref]
            if w[0] == "closed":
                log(w, "sign_in", t)
            elif w[0] == "paused":
                log(w, "resume", t)
            w[0] = "idle"
            next_or_rest(w, ref, t)
    for ticket in tickets:  # the prefix was kept while simulating; the row holds the queue's id
        ticket[T_QUEUE] = plan.qid[ticket[T_QUEUE]]
    return out


def _accumulate(values: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def load_factors(halls: list[Any], days: list[dt.date], tickets: float, seed: int) -> dict[tuple[str, dt.date], int]:
    """Tickets per hall-day: hall size × weekday × month × the day after a holiday × noise; mean ``tickets``."""
    rng = random.Random(seed)
    raw = {}
    for hall in halls:
        size = LEVEL_WEIGHT.get(hall.settings.level, 1.0) * rng.uniform(0.8, 1.2)
        for k, day in enumerate(days):
            f = size * WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month - 1]
            if k and (day - days[k - 1]).days > 3:
                f *= 1.3  # the first day after a long holiday
            raw[(hall.code, day)] = f * rng.gauss(1.0, 0.08)
    scale = tickets / (sum(raw.values()) / len(raw))
    return {key: max(1, round(f * scale)) for key, f in raw.items()}


def opening_days(settings: Any, count: int, first: dt.date = FIRST_DAY) -> list[dt.date]:
    days, day = [], first
    while len(days) < count:
        if calendar.sessions_on(settings, day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


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


# -- the city ---------------------------------------------------------------------------------


def city_settings(halls: int, database: str, workdir: pathlib.Path) -> Any:
    data = read_toml(ROOT / "config.toml")
    data["server"] = {**data.get("server", {}), "database": database,
                      "secret_key_file": str(workdir / "secret_key")}
    data["halls"] = tree(data["halls"][0], halls)
    return parse_config(data, base_dir=ROOT)


def generate(rt: runtime_mod.Runtime, loader: Any, days: list[dt.date], tickets: float, seed: int,
             progress: bool = True) -> dict[str, Any]:
    """Simulate and write every hall-day, day by day; returns the counts and the seconds spent."""
    halls = list(rt.halls.values())
    plans = {h.code: Plan(h) for h in halls}
    load = load_factors(halls, days, tickets, seed)
    ids = Ids()
    sim_s = write_s = 0.0
    counts = {"tickets": 0, "services": 0, "ratings": 0, "window_events": 0}
    t_start = time.perf_counter()
    for k, day in enumerate(days):
        t0 = time.perf_counter()
        parts = [simulate(plans[h.code], day, load[(h.code, day)],
                          random.Random(f"{seed}-{h.code}-{day.isoformat()}")) for h in halls]
        rows = city_day_rows(parts, ids, loader.stamp, loader.flag)
        t1 = time.perf_counter()
        loader.write(rows)
        t2 = time.perf_counter()
        sim_s += t1 - t0
        write_s += t2 - t1
        for table in counts:
            counts[table] += len(rows[table])
        if progress and (k % 10 == 9 or k == len(days) - 1):
            print(f"    {k + 1}/{len(days)} days, {counts['tickets']:,} tickets, "
                  f"{time.perf_counter() - t_start:.0f} s", flush=True)
    loader.finish()
    return {**counts, "simulate_s": sim_s, "write_s": write_s,
            "finish_s": time.perf_counter() - t_start - sim_s - write_s}


def close_all_days(rt: runtime_mod.Runtime, days: list[dt.date], progress: bool = True) -> list[float]:
    """The end-of-day job of production (hall.daily.close_day, which writes the rollups) for every
    hall-day, one transaction each, in date order; returns the seconds each took."""
    times = []
    t_start = time.perf_counter()
    for k, day in enumerate(days):
        for hall in rt.halls.values():
            now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(1, 0), ZoneInfo(hall.timezone))
            t0 = time.perf_counter()
            with rt.db.write() as session:
                daily.close_day(session, hall, day, now)
            times.append(time.perf_counter() - t0)
        if progress and (k % 25 == 24 or k == len(days) - 1):
            print(f"    closed {k + 1}/{len(days)} days, {time.perf_counter() - t_start:.0f} s", flush=True)
    return times


# -- the reports ------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float, Any]:
    """(first, median, max) in ms over ``runs`` runs after the first, and the last result."""
    t0 = time.perf_counter()
    result = fn()
    first = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return first, statistics.median(times), max(times), result


def months_of(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    out: dict[tuple[int, int], list[dt.date]] = {}
    for day in days:
        out.setdefault((day.year, day.month), []).append(day)
    return [(d[0].replace(day=1), _month_end(d[0])) for d in out.values()]


def _month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def report_of(rt: runtime_mod.Runtime, hall: Any, start: dt.date, end: dt.date, by: str,
              now: dt.datetime, use_rollups: bool = True) -> dict[str, Any]:
    """What hall/web/reports.py does for GET …/reports: a read session, reports.report."""
    with rt.db.read() as db:
        return reports.report(db, hall, start, end, by, now=now, use_rollups=use_rollups)


def city_report_of(rt: runtime_mod.Runtime, halls: list[Any], start: dt.date, end: dt.date, by: str,
                   now: dt.datetime, use_rollups: bool = True) -> dict[str, Any]:
    """What hall/web/city.py does for GET /api/v1/city/reports: a read session, reports.city_report."""
    with rt.db.read() as db:
        return reports.city_report(db, halls, start, end, by, now=now, use_rollups=use_rollups)


def measure(rt: runtime_mod.Runtime, days: list[dt.date], now: dt.datetime, runs: int,
            app_client: Any = None, manager: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every timing of the report; each with the rollups and raw, checked equal."""
    halls = list(rt.halls.values())
    hall = halls[0]  # HB, the city hall: the largest
    months = months_of(days)
    results: list[dict[str, Any]] = []

    def both(name: str, fn: Callable[[bool], Any], n: int = runs) -> None:
        row: dict[str, Any] = {"what": name}
        for mode in (True, False):
            first, med, worst, result = timed(lambda: fn(mode), n)
            row["rollups" if mode else "raw"] = (first, med, worst)
            row["result_rollups" if mode else "result_raw"] = result
        row["equal"] = row.pop("result_rollups") == row.pop("result_raw")
        results.append(row)
        r, b = row["rollups"], row["raw"]
        print(f"  {name:<44} rollups first {r[0]:8.1f} median {r[1]:8.1f} max {r[2]:8.1f} ms | "
              f"raw first {b[0]:8.1f} median {b[1]:8.1f} max {b[2]:8.1f} ms | equal {row['equal']}",
              flush=True)

    # one hall, each month, by day (the page's default) — per-month figures and over all months
    per_month = []
    for start, end in months:
        both(f"{hall.code} {start:%Y-%m} by day", lambda m, s=start, e=end: report_of(rt, hall, s, e, "day", now, m))
        per_month.append(results.pop())
    agg: dict[str, Any] = {"what": f"{hall.code}, each month by day ({len(months)} months)",
                           "equal": all(r["equal"] for r in per_month)}
    for mode in ("rollups", "raw"):
        agg[mode] = (max(r[mode][0] for r in per_month), statistics.median(r[mode][1] for r in per_month),
                     max(r[mode][2] for r in per_month))
    results.append(agg)
    busiest = max(months, key=lambda m: sum(1 for d in days if m[0] <= d <= m[1]))
    start, end = busiest
    for by in ("month", "hour", "queue", "department", "window", "clerk"):
        both(f"{hall.code} {start:%Y-%m} by {by}", lambda m, by=by: report_of(rt, hall, start, end, by, now, m))
    year_from = max(days[0], days[-1] - dt.timedelta(days=reports.MAX_DAYS - 1))
    both(f"{hall.code} whole period by month", lambda m: report_of(rt, hall, year_from, days[-1], "month", now, m),
         max(1, runs // 2))
    both(f"city: {len(halls)} halls' {start:%Y-%m}, hall by hall",
         lambda m: [report_of(rt, h, start, end, "day", now, m) for h in halls], max(1, runs // 2))
    for by in reports.CITY_GROUPINGS:
        both(f"city report: {len(halls)} halls' {start:%Y-%m} by {by}",
             lambda m, by=by: city_report_of(rt, halls, start, end, by, now, m))
    both(f"city report: {len(halls)} halls' whole period by month",
         lambda m: city_report_of(rt, halls, year_from, days[-1], "month", now, m), max(1, runs // 2))
    data = report_of(rt, hall, start, end, "day", now)
    first, med, worst, _ = timed(lambda: report_export.report_xlsx(data), runs)
    results.append({"what": "XLSX of the month's report (export only)", "rollups": (first, med, worst)})
    print(f"  XLSX export of the month by day: median {med:.1f} ms, max {worst:.1f} ms")
    if app_client is not None:
        for ext in ("", ".xlsx"):
            url = f"/api/v1/halls/{hall.code}/reports{ext}?from={start}&to={end}&by=day"
            first, med, worst, r = timed(lambda: app_client.get(url, headers=manager), runs)
            assert r.status_code == 200, r.get_data(as_text=True)
            results.append({"what": f"GET …/reports{ext} (API, month by day)", "rollups": (first, med, worst)})
            print(f"  GET {url}: first {first:.1f} median {med:.1f} max {worst:.1f} ms")
        url = f"/api/v1/city/reports?from={start}&to={end}&by=hall"
        first, med, worst, r = timed(lambda: app_client.get(url, headers=manager), runs)
        assert r.status_code == 200 and len(r.get_json()["rows"]) == len(halls), r.get_data(as_text=True)
        results.append({"what": "GET /api/v1/city/reports (API, the city's month by hall)",
                        "rollups": (first, med, worst)})
        print(f"  GET {url}: first {first:.1f} median {med:.1f} max {worst:.1f} ms")
    return results


# -- one engine, end to end -------------------------------------------------------------------


def build(engine: str, url: str, halls: int, n_days: int, tickets: float, seed: int,
          workdir: pathlib.Path, first: dt.date = FIRST_DAY, progress: bool = True
          ) -> tuple[runtime_mod.Runtime, list[dt.date], dt.datetime, dict[str, Any]]:
    """A fresh database of the city at ``url``: migrated, loaded, and every day but the last closed
    by the end-of-day job. The reports are asked at 23:00 of the last day (``now``): that day is over
    but not closed yet (the job runs after midnight), so its month adds kept days and a day of
    tickets. The caller closes the returned runtime."""
    settings = city_settings(halls, url, workdir)
    model = next(iter(settings.halls))
    days = opening_days(model, n_days, first)
    now = dt.datetime.combine(days[-1], dt.time(23, 0), ZoneInfo(model.timezone))
    t0 = time.perf_counter()
    rt = runtime_mod.start(settings, clock=ManualClock(now))  # the schema from the Alembic migrations
    summary: dict[str, Any] = {"engine": engine, "days": (days[0], days[-1], len(days)),
                               "migrate_s": time.perf_counter() - t0}
    rt.close()  # the loader writes alone; the runtime starts again on the loaded database
    t0 = time.perf_counter()
    loader = SqliteLoader(sa_database(url)) if engine == "sqlite" else PgLoader(url)
    summary["load"] = generate(rt, loader, days, tickets, seed, progress)
    summary["load_s"] = time.perf_counter() - t0
    rt = runtime_mod.start(settings, clock=ManualClock(now))
    try:
        summary["size"] = database_size(rt, engine, url)
        load = summary["load"]
        if progress:
            print(f"  loaded {load['tickets']:,} tickets, {load['services']:,} services, {load['ratings']:,} "
                  f"ratings, {load['window_events']:,} window events in {summary['load_s']:.0f} s (simulation "
                  f"{load['simulate_s']:.0f} s, writing {load['write_s']:.0f} s, finishing {load['finish_s']:.0f} s); "
                  f"database {summary['size'] / 2**30:.2f} GiB", flush=True)
        t0 = time.perf_counter()
        close_times = close_all_days(rt, days[:-1], progress)
        summary["close_s"] = time.perf_counter() - t0
        summary["close_ms"] = ((statistics.median(close_times) * 1000, max(close_times) * 1000)
                               if close_times else (0.0, 0.0))
        summary["size_after"] = database_size(rt, engine, url)
        if progress:
            print(f"  end of day (close_day + rollups) for {len(close_times):,} hall-days in "
                  f"{summary['close_s']:.0f} s: median {summary['close_ms'][0]:.1f} ms, max "
                  f"{summary['close_ms'][1]:.1f} ms a hall-day; database {summary['size_after'] / 2**30:.2f} GiB",
                  flush=True)
    except BaseException:
        rt.close()
        raise
    return rt, days, now, summary


def reopen(engine: str, url: str, halls: int, n_days: int, workdir: pathlib.Path
           ) -> tuple[runtime_mod.Runtime, list[dt.date], dt.datetime, dict[str, Any]]:
    """The database a run with ``--keep`` left, with the same ``--halls`` and ``--days``: the reports
    timed again without loading (after a change to the reports, say)."""
    settings = city_settings(halls, url, workdir)
    model = next(iter(settings.halls))
    days = opening_days(model, n_days)
    now = dt.datetime.combine(days[-1], dt.time(23, 0), ZoneInfo(model.timezone))
    rt = runtime_mod.start(settings, clock=ManualClock(now))
    import sqlalchemy as sa
    from hall.models import Ticket
    with rt.db.read() as session:
        tickets = session.scalar(sa.select(sa.func.count()).select_from(Ticket))
    if not tickets:
        rt.close()
        raise SystemExit(f"--reuse: the database {sa.make_url(url).render_as_string()} has no tickets; "
                         "make it first with --keep (same --halls, --days and --dir)")
    print(f"  reusing the kept database: {tickets:,} tickets", flush=True)
    return rt, days, now, {"engine": engine, "reused": True, "load": {"tickets": tickets},
                           "size": database_size(rt, engine, url)}


def run_engine(engine: str, args: argparse.Namespace, workdir: pathlib.Path) -> dict[str, Any]:
    print(f"== {engine}: {args.halls} halls × {args.days} opening days × ~{args.tickets:g} tickets", flush=True)
    rt = None
    if args.reuse:
        url = (f"sqlite:///{workdir / 'city.db'}" if engine == "sqlite"
               else sa_url(args.pg_url, args.pg_database))
    else:
        url = f"sqlite:///{workdir / 'city.db'}" if engine == "sqlite" else _pg_database(args.pg_url, args.pg_database)
    try:
        if args.reuse:
            rt, days, now, summary = reopen(engine, url, args.halls, args.days, workdir)
        else:
            rt, days, now, summary = build(engine, url, args.halls, args.days, args.tickets, args.seed, workdir)
        client, manager = api_client(rt.settings, url, rt.clock) if args.api else (None, None)
        summary["load_average"] = os.getloadavg()
        summary["reports"] = measure(rt, days, now, args.runs, client, manager)
        print(f"  load average before the timings {summary['load_average'][0]:.2f}, after {os.getloadavg()[0]:.2f}")
        if client is not None:
            client.application.extensions["hall"].close()
    finally:
        if rt is not None:
            rt.close()
        if not args.keep and not args.reuse:
            if engine == "sqlite":
                for p in workdir.glob("city.db*"):
                    p.unlink()
            else:
                _drop_pg(args.pg_url, args.pg_database)
    return summary


def sa_database(url: str) -> str:
    import sqlalchemy as sa
    return sa.make_url(url).database or ""


def api_client(settings: Any, url: str, clock: ManualClock) -> tuple[Any, dict[str, str]]:
    from hall import tokens
    from hall.app import create_app
    app = create_app(settings, database_url=url, clock=clock, realtime=False)
    rt = app.extensions["hall"]
    hall = next(iter(rt.halls.values()))
    with rt.db.write() as session:
        value = tokens.create_token(session, hall, "manager", clock.now())
    return app.test_client(), {"Authorization": f"Bearer {value}"}


def database_size(rt: runtime_mod.Runtime, engine: str, url: str) -> int:
    if engine == "sqlite":
        path = pathlib.Path(sa_database(url))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    import sqlalchemy as sa
    with rt.db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()


def sa_url(url: str, name: str) -> str:
    import sqlalchemy as sa
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _pg_database(url: str, name: str) -> str:
    import sqlalchemy as sa
    _drop_pg(url, name)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop_pg(url: str, name: str) -> None:
    import sqlalchemy as sa
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def print_summary(summaries: list[dict[str, Any]]) -> None:
    """One markdown table of every timing: median / max ms, from the rollups and raw, per engine."""
    engines = [s["engine"] for s in summaries]
    print("\n| report | " + " | ".join(f"{e} rollups | {e} raw" for e in engines) + " |")
    print("|---|" + "---:|---:|" * len(engines))
    for k, row in enumerate(summaries[0]["reports"]):
        cells = []
        for s in summaries:
            r = s["reports"][k]
            for mode in ("rollups", "raw"):
                cells.append(f"{r[mode][1]:,.1f} / {r[mode][2]:,.1f}" if mode in r else "–")
        print(f"| {row['what']} | " + " | ".join(cells) + " |")
    for s in summaries:
        load = s["load"]
        if s.get("reused"):
            print(f"{s['engine']}: the kept database, {load['tickets']:,} tickets, {s['size'] / 2**30:.2f} GiB; "
                  f"all equal: {all(r.get('equal', True) for r in s['reports'])}")
            continue
        print(f"{s['engine']}: {load['tickets']:,} tickets, {load['services']:,} services, {load['ratings']:,} "
              f"ratings, {load['window_events']:,} window events; loaded in {s['load_s']:.0f} s; "
              f"{s['size'] / 2**30:.2f} GiB, {s['size_after'] / 2**30:.2f} GiB with the rollups; end of day "
              f"{s['close_s']:.0f} s, median {s['close_ms'][0]:.1f} ms / max {s['close_ms'][1]:.1f} ms a hall-day; "
              f"all equal: {all(r.get('equal', True) for r in s['reports'])}")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--halls", type=int, default=4, help="halls in the city tree (50 for the documented run)")
    parser.add_argument("--days", type=int, default=10, help="opening days from 2025-01-02 (249 = the year 2025)")
    parser.add_argument("--tickets", type=float, default=800, help="mean tickets a hall-day")
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each report (after a first one)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--dir", type=pathlib.Path, help="where the SQLite file goes (default: a temporary directory)")
    parser.add_argument("--pg-url", default=os.environ.get("HALL_BENCH_PG_URL", PG_URL),
                        help="a PostgreSQL server's maintenance database (the bench creates its own)")
    parser.add_argument("--pg-database", default="hall_city_year")
    parser.add_argument("--no-api", dest="api", action="store_false", help="skip the API timings")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--reuse", action="store_true",
                        help="time the reports on the databases an earlier --keep run left (same --halls, "
                             "--days and --dir), without loading")
    args = parser.parse_args(argv)
    workdir = args.dir or pathlib.Path(tempfile.mkdtemp(prefix="bench-city-year-"))
    workdir.mkdir(parents=True, exist_ok=True)
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    summaries = []
    try:
        for engine in engines:
            summaries.append(run_engine(engine, args, workdir))
        print_summary(summaries)
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return summaries


if __name__ == "__main__":
    main()
