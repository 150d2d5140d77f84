"""The city year's simulation of one hall-day: arrivals, staffing, windows serving in queue order,
recalls, no-shows, transfers, pauses and ratings, as rows with times in epoch seconds."""
from __future__ import annotations

import bisect
import datetime as dt
import heapq
import math
import random
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from hall import calendar

# Share of the tickets by first queue (a district hall: 综合受理, 人社, 公安户政 and 医保 the busiest).
QUEUE_SHARE = {"A": 18, "B": 11, "C": 6, "D": 16, "E": 12, "F": 14, "G": 8, "H": 9, "J": 4, "K": 2}
# Arrivals by local hour of the day (relative): a morning peak, a smaller one after lunch.
HOUR_PROFILE = {8: 1.0, 9: 1.7, 10: 1.6, 11: 1.0, 12: 0.3, 13: 0.8, 14: 1.3, 15: 1.2, 16: 0.9, 17: 0.4}
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
