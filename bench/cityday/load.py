"""The city day's load generator: worker processes, each owning whole halls, that play their
kiosks and clerks and open their /live clients."""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import multiprocessing.connection
import os
import random
from typing import Any

from .live import LiveClient, Session
from .plan import KIOSKS_PER_HALL, ClientSpec, Visitor
from .services import mono, self_cpu

RECALL_S, NO_SHOW_S = 60, 120  # hall seconds after the call (as bench/replay.py)


# ----------------------------------------------------------------------------------------------
# The load generator: one process owns whole halls (kiosks, clerks, their clients)

@dataclasses.dataclass
class WorkerPlan:
    index: int
    halls: list[str]
    visitors: list[Visitor]
    specs: list[ClientSpec]
    mobile_cap: int
    mobile_share: float
    seed: int
    urls: list[str]
    home: dict[str, int]
    routing: str
    speed: float
    window_queues: dict[int, tuple[str, ...]]
    avg_service_s: dict[str, float]
    tokens: dict[str, Any]
    connect_concurrency: int
    keepalive: bool = True



def run_worker(plan: WorkerPlan, conn: multiprocessing.connection.Connection) -> None:
    import asyncio
    profile = os.environ.get("CITY_DAY_PROFILE")  # a directory: cProfile each worker into it
    try:
        if profile:
            import cProfile
            cProfile.runctx("asyncio.run(Worker(plan, conn).main())", globals(), locals(),
                            f"{profile}/worker{plan.index}.prof")
        else:
            asyncio.run(Worker(plan, conn).main())
    except BaseException as err:  # noqa: BLE001 - the parent must hear of it
        import traceback
        conn.send(("error", f"worker {plan.index}: {err!r}\n{traceback.format_exc()}"))
        raise


class HallSim:
    """A hall's kiosks and clerks as the load generator plays them."""

    def __init__(self, code: str, plan: WorkerPlan) -> None:
        self.code = code
        self.waiting = collections.Counter()  # queue → tickets waiting, as the answers tell it
        self.inflight = collections.Counter()  # queue → calls on their way that counted on it
        self.windows = plan.window_queues
        self.serving: dict[str, list[int]] = collections.defaultdict(list)
        for number in sorted(self.windows):
            for q in self.windows[number]:
                self.serving[q].append(number)
        self.idle = set(self.windows)
        self.visits: dict[int, dict] = {}  # ticket id → {"visitor", "step", "number"}
        self.waiters: dict[int, Any] = {}
        self.kiosks = None  # asyncio.Semaphore, made in the loop
        self.issued = self.arrived = self.refused = 0
        self.last_action = 0.0


class Worker:
    def __init__(self, plan: WorkerPlan, conn) -> None:
        self.plan, self.conn = plan, conn
        self.halls = {c: HallSim(c, plan) for c in plan.halls}
        self.sessions: list[Session] = []
        self.truth: dict[tuple[str, int], tuple] = {}
        self.issues: list[tuple] = []  # (hall, visitor, status, code, t_arrive, t_sent, t_answer, number)
        self.calls: list[tuple] = []  # (hall, window, ticket id | None, t_sent, t_answer, queue, status, server)
        self.actions: collections.Counter = collections.Counter()  # (action, status or error code)
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)  # other actions, s
        self.mobile_live = self.mobile_opened = self.mobile_skipped = self.mobile_peak = 0
        self.connected = self.connected_peak = 0
        self.connected_samples: list[tuple[float, int]] = []
        self.disconnects = self.not_issued = 0
        self.foreign: collections.Counter = collections.Counter()
        self.connect_failures: list[str] = []
        self.loop_lag: list[float] = []
        self.rng = random.Random(plan.seed * 1000 + plan.index)
        self.turn = 0
        self.stopping = False
        self.tasks: set = set()
        self.clients: list = []

    # -- plumbing

    def spawn(self, coro) -> None:
        import asyncio
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.actions[("task-error", repr(task.exception())[:120])] += 1

    def server_of(self, hall: str) -> int:
        if self.plan.routing == "hall":
            return self.plan.home[hall]
        self.turn += 1
        return self.turn % len(self.plan.urls)

    async def post(self, hall: str, path: str, token: str, body: dict | None = None,
                   action: str = "") -> tuple[int, Any, float, float, int]:
        """POST; retried only when it surely changed nothing (503 database_unavailable, refused).
        The time sent is the first attempt's: a retry is part of what the kiosk or clerk waits."""
        import asyncio

        import aiohttp
        t_sent = mono()
        for _attempt in range(4):
            server = self.server_of(hall)
            try:
                async with self.http.post(self.plan.urls[server] + path, json=body,
                                          headers={"Authorization": f"Bearer {token}"}) as r:
                    data = await r.json(content_type=None)
                    status = r.status
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as err:
                status, data = 0, {"error": {"code": type(err).__name__}}
            t_answer = mono()
            self.halls[hall].last_action = t_answer
            code = None
            if status == 0 or status >= 300:
                error = data.get("error") if isinstance(data, dict) else None
                code = error.get("code") if isinstance(error, dict) else str(data)[:60]
            self.actions[(action, status if code is None else f"{status} {code}")] += 1
            if status == 503 or (status == 0 and code == "ClientConnectorError"):
                await asyncio.sleep(0.5)
                continue
            return status, data, t_sent, t_answer, server
        return status, data, t_sent, t_answer, server

    # -- the day

    async def main(self) -> None:
        import asyncio

        import aiohttp
        for code in self.halls:
            self.halls[code].kiosks = asyncio.Semaphore(KIOSKS_PER_HALL)
        # As nginx talks to its upstream: kept-alive connections (deploy/nginx-hall.conf's
        # `keepalive`), or with --no-keepalive a new connection per request (nginx without it).
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=not self.plan.keepalive),
            timeout=aiohttp.ClientTimeout(total=120))
        self.ws_http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                             timeout=aiohttp.ClientTimeout(total=None))
        loop = asyncio.get_running_loop()
        try:
            t_connect = mono()
            sem = asyncio.Semaphore(self.plan.connect_concurrency)
            fixed = [LiveClient(self, spec.kind, spec.hall, spec.halls, spec.server, window=spec.window,
                                number=i) for i, spec in enumerate(self.plan.specs)]
            self.clients = fixed
            ready = await asyncio.gather(*(c.start(sem) for c in fixed))
            self.conn.send(("ready", {"connected": sum(ready), "wanted": len(fixed),
                                      "seconds": mono() - t_connect,
                                      "failures": self.connect_failures[:10],
                                      "clock": [(s.server, s.snap_at, s.snap_t) for c in fixed
                                                for s in c.sessions[:1] if s.snap_at]}))
            message = await loop.run_in_executor(None, self.conn.recv)
            if message[0] != "go":
                return
            t0 = message[1]
            cpu0 = self_cpu()
            lag = loop.create_task(self.watch_lag())
            day = loop.create_task(self.day(t0))
            stop = loop.run_in_executor(None, self.conn.recv)  # "stop" (too late) or nothing
            await asyncio.wait([day, stop], return_when=asyncio.FIRST_COMPLETED)
            if not day.done():
                self.stopping = True
                day.cancel()
                await asyncio.sleep(0)  # the kiosk queues see it before anything else is sent
            t_done = max((h.last_action for h in self.halls.values()), default=mono())
            self.conn.send(("done", {"t_done": t_done, "issues": self.issues, "calls": self.calls,
                                     "actions": dict(self.actions), "latencies": dict(self.latencies),
                                     "stopped": self.stopping, "cpu_day": self_cpu() - cpu0,
                                     "arrived": sum(h.arrived for h in self.halls.values()),
                                     "unfinished": self.unfinished()}))
            message = await stop
            if message[0] == "stop":  # the "stop" that ended the day; the final seqs follow
                message = await loop.run_in_executor(None, self.conn.recv)
            final, drain_s = message[1], message[2]
            await self.drain(final, drain_s)
            lag.cancel()
            for client in self.clients:
                await client.close()
            cpu = self_cpu()
            self.conn.send(("result", {
                "sessions": [s.summary() for s in self.sessions],
                "truth": self.truth, "cpu_total": cpu, "cpu_day_and_drain": cpu - cpu0,
                "mobile": {"opened": self.mobile_opened, "skipped": self.mobile_skipped,
                           "peak": self.mobile_peak},
                "connected_peak": self.connected_peak, "connected_samples": self.connected_samples,
                "disconnects": self.disconnects, "connect_failures": self.connect_failures[:20],
                "loop_lag": self.loop_lag, "actions": dict(self.actions), "foreign": dict(self.foreign)}))
        finally:
            await self.http.close()
            await self.ws_http.close()

    async def watch_lag(self) -> None:
        import asyncio
        while True:
            t = mono()
            await asyncio.sleep(0.1)
            self.loop_lag.append(mono() - t - 0.1)
            if len(self.loop_lag) % 10 == 0:
                self.connected_samples.append((mono(), self.connected))

    def unfinished(self) -> int:
        return sum(1 for h in self.halls.values() for v in h.visits.values() if v["step"] != "done")

    async def day(self, t0: float) -> None:
        import asyncio
        speed = self.plan.speed
        for v in self.plan.visitors:  # sorted by arrival
            delay = t0 + v.arrive_s / speed - mono()
            if delay > 0:
                await asyncio.sleep(delay)
            self.halls[v.hall].arrived += 1
            self.spawn(self.arrive(v, t0 + v.arrive_s / speed))
        # The day ends when every visitor was answered at the kiosk, every window is idle and nobody
        # waits. A hall whose counts say someone waits while every window is idle lost an answer:
        # it is dispatched again, and given up after 30 s.
        stuck_since: dict[str, float] = {}
        given_up: set[str] = set()
        while True:
            await asyncio.sleep(0.2)
            busy = False
            for hall in self.halls.values():
                if hall.issued + hall.refused < hall.arrived or len(hall.idle) < len(hall.windows):
                    busy = True
                    stuck_since.pop(hall.code, None)
                    continue
                waiting = [q for q, n in hall.waiting.items() if n > 0]
                if not waiting:
                    continue
                since = stuck_since.setdefault(hall.code, mono())
                if mono() - since < 30:
                    busy = True
                    for q in waiting:
                        self.dispatch(hall, q)
                elif hall.code not in given_up:
                    given_up.add(hall.code)
                    self.actions[("stuck", f"{hall.code} counts {dict(hall.waiting)} waiting, all idle")] += 1
            if not busy:
                return

    async def arrive(self, v: Visitor, due: float) -> None:
        hall = self.halls[v.hall]
        token = self.plan.tokens["kiosk"][v.hall][v.index % KIOSKS_PER_HALL]
        body = {"queue": v.queue, "priority": v.priority, "channel": "kiosk",
                "kiosk": f"K{v.index % KIOSKS_PER_HALL + 1}"}
        async with hall.kiosks:
            if self.stopping:  # the replay was stopped: whoever still queues at the kiosk goes home
                self.not_issued += 1
                return
            status, data, t_sent, t_answer, _ = await self.post(v.hall, f"/api/v1/halls/{v.hall}/tickets",
                                                                token, body, "issue")
        number = data.get("number") if status == 201 and isinstance(data, dict) else None
        self.issues.append((v.hall, v.index, status, None if number else str(data)[:200], due, t_sent,
                            t_answer, number))
        if status != 201 or not number:
            hall.refused += 1
            return
        hall.issued += 1
        tid = data["id"]
        hall.visits[tid] = {"visitor": v, "step": 1, "number": number}
        waiter = hall.waiters.pop(tid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        hall.waiting[data["queue"]] += 1
        self.dispatch(hall, data["queue"])
        if self.rng.random() < self.plan.mobile_share:
            if self.mobile_live < self.plan.mobile_cap and not self.stopping:
                secret = data["track_url"].split("s=", 1)[1].split("&", 1)[0]
                self.mobile_live += 1
                self.mobile_opened += 1
                self.mobile_peak = max(self.mobile_peak, self.mobile_live)
                self.turn += 1
                server = (self.turn % len(self.plan.urls))
                client = LiveClient(self, "mobile", v.hall, (v.hall,), server, ticket=tid, secret=secret)
                self.clients.append(client)
                self.spawn(client.start(None))
            else:
                self.mobile_skipped += 1

    def reserve(self, hall: HallSim, number: int) -> str | None:
        for q in self.windows_queues(number):
            if hall.waiting[q] - hall.inflight[q] > 0:
                hall.inflight[q] += 1
                return q
        return None

    def windows_queues(self, number: int) -> tuple[str, ...]:
        return self.plan.window_queues[number]

    def dispatch(self, hall: HallSim, queue: str) -> None:
        """Idle windows serving ``queue``, in number order, call while someone is left for them."""
        if self.stopping:
            return
        for number in hall.serving[queue]:
            if hall.waiting[queue] - hall.inflight[queue] <= 0:
                return
            if number in hall.idle:
                hall.idle.discard(number)
                hall.inflight[queue] += 1
                self.spawn(self.clerk(hall, number, queue))

    async def call(self, hall: HallSim, number: int, reserved: str | None) -> dict | None:
        token = self.plan.tokens["clerk"][hall.code][number]
        status, data, t_sent, t_answer, server = await self.post(
            hall.code, f"/api/v1/halls/{hall.code}/windows/{number}/call", token, None, "call")
        if reserved is not None:
            hall.inflight[reserved] -= 1
        ticket = data.get("ticket") if status == 200 and isinstance(data, dict) else None
        self.calls.append((hall.code, number, ticket["id"] if ticket else None, t_sent, t_answer,
                           ticket["queue"] if ticket else None, status, server))
        if ticket:
            hall.waiting[ticket["queue"]] -= 1
        return ticket

    async def act(self, hall: HallSim, number: int, verb: str, body: dict | None = None) -> dict | None:
        token = self.plan.tokens["clerk"][hall.code][number]
        status, data, t_sent, t_answer, _ = await self.post(
            hall.code, f"/api/v1/halls/{hall.code}/windows/{number}/{verb}", token, body, verb)
        self.latencies[verb].append(t_answer - t_sent)
        return data.get("ticket") if status == 200 and isinstance(data, dict) else None

    async def visit(self, hall: HallSim, ticket_id: int) -> dict | None:
        """The visit of a called ticket (its issue answer may still be on its way)."""
        import asyncio
        if ticket_id in hall.visits:
            return hall.visits[ticket_id]
        waiter = hall.waiters.setdefault(ticket_id, asyncio.get_running_loop().create_future())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), 30)
        return hall.visits.get(ticket_id)

    async def clerk(self, hall: HallSim, number: int, reserved: str | None) -> None:
        """A window from its first call until it goes idle: serve, call next (which finishes the visitor)."""
        import asyncio
        speed = self.plan.speed
        ticket = await self.call(hall, number, reserved)
        while ticket is not None and not self.stopping:
            visit = await self.visit(hall, ticket["id"])
            at = mono()
            v: Visitor | None = visit["visitor"] if visit else None
            finishes_by_call = True
            if visit is None:  # unknown visitor: serve as its queue usually takes
                await asyncio.sleep(self.plan.avg_service_s[ticket["queue"]] / speed)
            elif visit["step"] == 2:  # the second step of a transfer
                await asyncio.sleep(max(0.0, at + self.plan.avg_service_s[ticket["queue"]] / speed - mono()))
            elif v.no_show:
                await asyncio.sleep(max(0.0, at + RECALL_S / speed - mono()))
                await self.act(hall, number, "recall")
                await asyncio.sleep(max(0.0, at + NO_SHOW_S / speed - mono()))
                await self.act(hall, number, "no-show")
                visit["step"] = "done"
                finishes_by_call = False
            elif v.transfer_to:
                await asyncio.sleep(max(0.0, at + v.service_s / speed - mono()))
                moved = await self.act(hall, number, "transfer", {"queue": v.transfer_to})
                visit["step"] = 2
                if moved is not None:
                    hall.waiting[moved["queue"]] += 1
                    self.dispatch(hall, moved["queue"])
                finishes_by_call = False
            else:
                await asyncio.sleep(max(0.0, at + v.service_s / speed - mono()))
            if self.stopping:
                break
            reserved = self.reserve(hall, number)
            if finishes_by_call or reserved is not None:
                ticket = await self.call(hall, number, reserved)  # 下一位: finishes the visitor first
                if finishes_by_call and visit is not None:
                    visit["step"] = "done"
                if ticket is None and reserved is not None:
                    await asyncio.sleep(0.2)  # someone counted on was taken by a call on its way
            else:
                ticket = None
        hall.idle.add(number)
        # something may have come for this window while its last call was on its way
        for q in self.windows_queues(number):
            if hall.waiting[q] - hall.inflight[q] > 0:
                self.dispatch(hall, q)
                break

    async def drain(self, final: dict[str, int], drain_s: float) -> None:
        """Wait until every hall-room client still connected has its halls' last event (≤ ``drain_s``),
        then a moment for the window and ticket rooms, which are sent the same stream."""
        import asyncio
        deadline = mono() + drain_s
        while mono() < deadline:
            behind = 0
            for client in self.clients:
                s = client.current
                if s is None or client.done or s.kind in ("mobile", "window") or not s.snap:
                    continue
                behind += sum(1 for hall in s.halls if s.top.get(hall, s.snap.get(hall, 0)) < final.get(hall, 0))
            if not behind:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
