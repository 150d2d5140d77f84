"""Replay one day of visitors (make_day.py CSV) against the domain on a controlled clock; KPIs checked twice.

    .venv/bin/python bench/replay.py [--csv bench/workloads/xiangshan-weekday.csv] [--workdir DIR]

A discrete-event simulation of the reference hall XS (config.toml, 52 windows) on Monday
2026-11-30, with weekday hours replaced by one session 08:30–18:30 (the workload has arrivals
during the 12:00–13:30 lunch, which the configured hours refuse). Events on a heap: arrivals,
service ends, no-show recall (60 s) and skip (120 s), ratings (5 s after a finish); the
FrozenClock jumps to each. Every window signs in at 08:30 and serves all day, no lunch break;
an idle window calls (``windows.call_next``) as soon as someone it serves waits, idle windows
re-checked in number order after every event. A transfer happens after ``service_s``; the second
step takes the target queue's configured ``avg_service_s``. Tickets and window actions go
through the domain verbs; ratings through the pad API (``POST /api/v1/tickets/{id}/rating``
with the window's pad token, Flask test client). The replay keeps its own log and computes every
KPI of docs/kpi.md from it, independently of hall/stats.py, to compare with ``day_stats``.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import heapq
import pathlib
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hall import stats, tickets, tokens, windows  # noqa: E402
from hall.clock import ManualClock  # noqa: E402
from hall.config import Session, load_config  # noqa: E402

DEFAULT_CSV = ROOT / "bench" / "workloads" / "xiangshan-weekday.csv"  # ../shared/workloads, copied
DAY = dt.date(2026, 11, 30)  # a Monday
OPEN_AT = dt.datetime(2026, 11, 30, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
HOURS = "08:30-18:30"  # one session replacing 08:30–12:00 + 13:30–17:30 (lunch arrivals)
RECALL_S, NO_SHOW_S, RATING_DELAY_S = 60, 120, 5
ACTOR = "replay"
US = 1_000_000
KPI_NAMES = ("issued", "served", "no_show", "services", "waiting", "avg_wait_s", "max_wait_s",
             "avg_service_s", "service_level", "evaluation_rate", "good_rate")


FrozenClock = ManualClock  # moves only when the replay sets it


@dataclasses.dataclass(frozen=True)
class Visitor:
    index: int
    arrive_us: int
    queue: str
    priority: str
    service_us: int
    no_show: bool
    transfer_to: str
    rating: int | None


@dataclasses.dataclass
class Step:
    """One service step as the replay did it (times in µs after 08:30)."""
    visitor: int
    ticket_id: int
    queue: str
    window: int
    waiting_since: int
    called: int
    last_called: int
    ended: int | None = None
    outcome: str | None = None


@dataclasses.dataclass
class Issue:
    """One ticket as issued, with the forecast printed on it and the predictions of any hooks."""
    visitor: int
    ticket_id: int
    queue: str
    priority: str
    at: int
    ahead: int
    expected_wait_s: int
    predictions: dict[str, float] = dataclasses.field(default_factory=dict)
    first_call: int | None = None

    @property
    def real_wait_s(self) -> float:
        return (self.first_call - self.at) / US


@dataclasses.dataclass
class ReplayResult:
    csv: str
    visitors: list[Visitor]
    issues: list[Issue]
    steps: list[Step]
    ratings: list[tuple[int, int, int]]  # (ticket id, window, level), each answered 201
    replay_kpis: dict[str, Any]
    stats_kpis: dict[str, Any]
    wall_s: float
    cpu_s: float
    last_event_s: float
    note: str = f"weekday hours replaced by one session {HOURS}; 52 windows signed in at 08:30, no lunch"


def _us(text: str) -> int:
    return round(float(text) * US)


def load_visitors(csv_path: str | pathlib.Path, limit: int | None = None) -> list[Visitor]:
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = rows[:limit] if limit else rows
    return [Visitor(i, _us(r["arrive_s"]), r["queue"], r["priority"], _us(r["service_s"]),
                    r["no_show"] == "1", r["transfer_to"], int(r["rating"]) if r["rating"] else None)
            for i, r in enumerate(rows)]


def replay_settings(settings: Any, workdir: pathlib.Path) -> Any:
    """The configured settings with one weekday session 08:30–18:30 and files under ``workdir``."""
    session = Session.model_validate(HOURS)
    halls = tuple(h.model_copy(update={"hours": h.hours.model_copy(update={"weekdays": (session,)})})
                  for h in settings.halls)
    server = settings.server.model_copy(update={
        "database": f"sqlite:///{workdir / 'replay.db'}", "secret_key_file": str(workdir / "secret_key")})
    return settings.model_copy(update={"halls": halls, "server": server})


class Replay:
    """The event loop: a heap of (time µs, seq, kind, payload); the clock jumps to each."""

    def __init__(self, app: Any, hall_code: str, visitors: list[Visitor],
                 on_issue: Callable[..., dict[str, float]] | None = None,
                 speedup: float | None = None) -> None:
        self.app, self.rt = app, app.extensions["hall"]
        self.hall = self.rt.hall(hall_code)
        self.client = app.test_client()
        self.visitors, self.on_issue, self.speedup = visitors, on_issue, speedup
        self.heap: list[tuple[int, int, str, Any]] = []
        self.seq = 0
        self.now_us = 0
        self.windows = [(w.number, tuple(w.queues)) for w in sorted(self.hall.settings.windows,
                                                                      key=lambda w: w.number)]
        self.busy: dict[int, Step] = {}
        self.waiting = {q.prefix: 0 for q in self.hall.settings.queues}
        self.issues: list[Issue] = []
        self.by_ticket: dict[int, Issue] = {}
        self.steps: list[Step] = []
        self.ratings: list[tuple[int, int, int]] = []
        self.pad_tokens: dict[int, str] = {}
        self.transferred_at: dict[int, int] = {}

    def push(self, at_us: int, kind: str, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at_us, self.seq, kind, payload))

    def instant(self) -> dt.datetime:
        return OPEN_AT + dt.timedelta(microseconds=self.now_us)

    def act(self, verb: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.rt.db.write() as session:
            return verb(session, self.hall, *args, ACTOR, self.rt.clock.now(), **kwargs)

    def run(self) -> None:
        with self.rt.db.write() as session:
            for number, _ in self.windows:
                windows.sign_in(session, self.hall, number, ACTOR, self.rt.clock.now(), f"clerk{number:02d}")
                self.pad_tokens[number] = tokens.create_token(session, self.hall, "pad",
                                                              self.rt.clock.now(), window=number)
        for v in self.visitors:
            self.push(v.arrive_us, "arrive", v)
        wall0 = time.perf_counter()
        while self.heap:
            at_us, _, kind, payload = heapq.heappop(self.heap)
            if self.speedup:  # pace the replay at ``speedup`` × real time (demos)
                lag = at_us / US / self.speedup - (time.perf_counter() - wall0)
                if lag > 0:
                    time.sleep(lag)
            self.now_us = at_us
            self.rt.clock.set(self.instant())
            getattr(self, f"_on_{kind}")(payload)
            if kind != "rate":
                self.dispatch()

    def dispatch(self) -> None:
        """Every idle window, in number order, calls if someone it serves is waiting."""
        for number, queues in self.windows:
            if number in self.busy:
                continue
            first = next((q for q in queues if self.waiting[q]), None)
            if first is None:
                continue
            ticket = self.act(windows.call_next, number)
            if ticket is None:
                raise AssertionError(f"window {number} called nobody while {first} had "
                                     f"{self.waiting[first]} waiting")
            prefix = self.hall.queue_prefixes[ticket.queue_id]
            if prefix != first:  # the replay's model of the order policy disagrees with the domain
                raise AssertionError(f"window {number} called {ticket.number} of {prefix}, expected {first}")
            self.waiting[prefix] -= 1
            issue = self.by_ticket[ticket.id]
            second = issue.first_call is not None
            issue.first_call = issue.first_call if second else self.now_us
            since = self.transferred_at.pop(ticket.id) if second else issue.at
            step = Step(issue.visitor, ticket.id, prefix, number, since, self.now_us, self.now_us)
            self.steps.append(step)
            self.busy[number] = step
            v = self.visitors[issue.visitor]
            if second:
                avg = self.hall.settings.queue(prefix).avg_service_s
                self.push(self.now_us + avg * US, "finish", number)
            elif v.no_show:
                self.push(self.now_us + RECALL_S * US, "recall", number)
                self.push(self.now_us + NO_SHOW_S * US, "no_show", number)
            else:
                self.push(self.now_us + v.service_us, "transfer" if v.transfer_to else "finish", number)

    def _on_arrive(self, v: Visitor) -> None:
        request = tickets.IssueRequest(queue=v.queue, priority=v.priority, channel="kiosk")
        with self.rt.db.write() as session:
            issued = tickets.issue_ticket(session, self.hall, request, ACTOR, self.rt.clock.now(),
                                          self.rt.privacy_key)
            issue = Issue(v.index, issued.ticket.id, v.queue, v.priority, self.now_us,
                          issued.view["ahead"], issued.view["expected_wait_s"])
            if self.on_issue is not None:
                issue.predictions = self.on_issue(self, session, issued.ticket, issued.view)
        self.issues.append(issue)
        self.by_ticket[issue.ticket_id] = issue
        self.waiting[v.queue] += 1

    def _end(self, number: int, outcome: str) -> Step:
        step = self.busy.pop(number)
        step.ended, step.outcome = self.now_us, outcome
        return step

    def _on_finish(self, number: int) -> None:
        self.act(windows.finish, number)
        step = self._end(number, "done")
        level = self.visitors[step.visitor].rating
        if level is not None:
            self.push(self.now_us + RATING_DELAY_S * US, "rate", (step.ticket_id, number, level))

    def _on_transfer(self, number: int) -> None:
        step = self._end(number, "transferred")
        to = self.visitors[step.visitor].transfer_to
        self.act(windows.transfer, number, to_queue=to)
        self.transferred_at[step.ticket_id] = self.now_us
        self.waiting[to] += 1

    def _on_recall(self, number: int) -> None:
        self.act(windows.recall, number)
        self.busy[number].last_called = self.now_us

    def _on_no_show(self, number: int) -> None:
        self.act(windows.no_show, number)
        self._end(number, "no_show")

    def _on_rate(self, payload: tuple[int, int, int]) -> None:
        ticket_id, number, level = payload
        body = {"level": level, "reasons": ["attitude"] if level <= 2 else []}
        response = self.client.post(f"/api/v1/tickets/{ticket_id}/rating", json=body,
                                    headers={"Authorization": f"Bearer {self.pad_tokens[number]}"})
        if response.status_code != 201:
            raise AssertionError(f"rating of ticket {ticket_id} at window {number}: "
                                 f"{response.status_code} {response.get_data(as_text=True)[:200]}")
        self.ratings.append(payload)


def _round_mean(values: list[int]) -> float | None:
    """Mean of µs values in seconds, exact, then rounded to 0.1 s as stats.py reports."""
    return round(float(Fraction(sum(values), len(values) * US)), 1) if values else None


def _ratio(part: int, whole: int) -> float | None:
    return round(float(Fraction(part, whole)), 4) if whole else None


def replay_kpis(visitors: list[Visitor], issues: list[Issue], steps: list[Step],
                ratings: list[tuple[int, int, int]], target_wait_s: int) -> dict[str, Any]:
    """Every KPI of docs/kpi.md from the replay's own log (not from the database)."""
    last: dict[int, str | None] = {}
    for step in steps:  # steps are in call order, so the last one of a ticket wins
        last[step.ticket_id] = step.outcome
    waits = [s.called - s.waiting_since for s in steps]
    rated = [s for s in steps if s.outcome in ("done", "unresolved", "transferred")]
    levels = [level for _, _, level in ratings]
    return {
        "issued": len(issues),
        "served": sum(1 for o in last.values() if o == "done"),
        "no_show": sum(1 for o in last.values() if o == "no_show"),
        "services": len(rated),
        "waiting": len(issues) - len(last) + sum(1 for o in last.values() if o == "transferred"),
        "avg_wait_s": _round_mean(waits),
        "max_wait_s": round(max(waits) / US, 1) if waits else None,
        "avg_service_s": _round_mean([s.ended - s.last_called for s in rated]),
        "service_level": _ratio(sum(1 for w in waits if w <= target_wait_s * US), len(waits)),
        "evaluation_rate": _ratio(len(levels), len(rated)),
        "good_rate": _ratio(sum(1 for lv in levels if lv >= 4), len(levels)),
    }


def replay_day(csv_path: str | pathlib.Path = DEFAULT_CSV, workdir: str | pathlib.Path | None = None,
               speedup: float | None = None, limit: int | None = None, hall_code: str = "XS",
               config_path: str | pathlib.Path = ROOT / "config.toml",
               on_issue: Callable[..., dict[str, float]] | None = None) -> ReplayResult:
    """Replay ``csv_path`` (the first ``limit`` visitors) on a new SQLite database in ``workdir``.

    ``speedup`` None runs as fast as possible; a number paces events at that many × real time.
    ``on_issue(replay, session, ticket, view)`` runs inside each issue transaction and returns
    named predictions of the wait, kept on the :class:`Issue` (bench/forecast_eval.py).
    """
    from hall.app import create_app  # the Flask app only serves the pad API here
    workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="replay-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob("replay.db*"):  # a replay starts from an empty day
        stale.unlink()
    settings = replay_settings(load_config(config_path), workdir)
    clock = FrozenClock(OPEN_AT)
    app = create_app(settings, database_url=settings.server.database, clock=clock,
                     base_url="http://replay.test", realtime=False)
    replay = Replay(app, hall_code, load_visitors(csv_path, limit), on_issue, speedup)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        replay.run()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rt = replay.rt
        with rt.db.read() as session:
            from_stats = stats.day_stats(session, replay.hall, DAY)
    finally:
        app.extensions["hall"].close()
    target = replay.hall.settings.policy.target_wait_s
    mine = replay_kpis(replay.visitors, replay.issues, replay.steps, replay.ratings, target)
    return ReplayResult(str(csv_path), replay.visitors, replay.issues, replay.steps, replay.ratings,
                        mine, from_stats, wall, cpu, replay.now_us / US)


def csv_rates(visitors: list[Visitor]) -> dict[str, Any]:
    """The rates the CSV itself implies: services = shown visitors + their transfer steps."""
    services = sum(1 + bool(v.transfer_to) for v in visitors if not v.no_show)
    levels = [v.rating for v in visitors if v.rating is not None]
    return {"services": services, "ratings": len(levels),
            "evaluation_rate": _ratio(len(levels), services),
            "good_rate": _ratio(sum(1 for lv in levels if lv >= 4), len(levels))}


def report(result: ReplayResult) -> str:
    lines = [f"replay of {result.csv}: {len(result.visitors)} visitors, hall XS, Monday {DAY}",
             f"  ({result.note})",
             f"  last event at 08:30 + {result.last_event_s / 3600:.2f} h; {len(result.steps)} calls, "
             f"{len(result.ratings)} ratings through the pad API",
             f"  {'KPI':<16}{'replay log':>14}{'hall.stats':>14}  equal"]
    for name in KPI_NAMES:
        mine, theirs = result.replay_kpis[name], result.stats_kpis[name]
        lines.append(f"  {name:<16}{mine!s:>14}{theirs!s:>14}  {'yes' if mine == theirs else 'NO'}")
    implied = csv_rates(result.visitors)
    lines.append(f"  CSV implies: services {implied['services']}, ratings {implied['ratings']}, "
                 f"evaluation_rate {implied['evaluation_rate']}, good_rate {implied['good_rate']}")
    lines.append(f"  time: wall {result.wall_s:.1f} s, CPU {result.cpu_s:.1f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", default=str(DEFAULT_CSV))
    parser.add_argument("--workdir", help="where the SQLite database goes (default: a new temp dir)")
    parser.add_argument("--limit", type=int, help="replay only the first N visitors")
    parser.add_argument("--speedup", type=float, help="pace at N × real time (default: as fast as possible)")
    args = parser.parse_args()
    result = replay_day(args.csv, args.workdir, args.speedup, args.limit)
    print(report(result))
    if any(result.replay_kpis[k] != result.stats_kpis[k] for k in KPI_NAMES):
        sys.exit(1)


if __name__ == "__main__":
    main()
