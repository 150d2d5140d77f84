"""The city day's /live clients: one websocket per client (a minimal Socket.IO client), and the
sessions that record what each was sent from its snapshot on."""
from __future__ import annotations

import array
import contextlib
import json
import re
from typing import TYPE_CHECKING

from .plan import KIOSKS_PER_HALL
from .services import mono

if TYPE_CHECKING:
    from .load import Worker

NS = "/live"


class Session:
    """One websocket connection of one client: what it was sent, from its snapshot on."""

    __slots__ = ("kind", "hall", "halls", "window", "ticket", "queue", "server", "snap", "end",
                 "seqs", "times", "extra_halls", "opened", "closed", "error", "snap_at", "snap_t", "top")

    def __init__(self, kind: str, hall: str, halls: tuple[str, ...], server: int, window: int | None = None,
                 ticket: int | None = None) -> None:
        self.kind, self.hall, self.halls, self.server = kind, hall, halls, server
        self.window, self.ticket, self.queue = window, ticket, None
        self.snap: dict[str, int] = {}  # hall → seq its snapshot covers
        self.end: dict[str, int] = {}  # hall → last seq meant for it (mobile: its ticket's last event)
        self.seqs, self.times = array.array("q"), array.array("d")
        self.extra_halls: dict[str, tuple[array.array, array.array]] = {}  # a city view: per hall
        self.opened = self.closed = 0.0
        self.error = ""
        self.snap_at, self.snap_t = "", 0.0
        self.top: dict[str, int] = {}  # hall → highest seq received

    def summary(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


HEAD = re.compile(r'",\s*\{"seq":\s*(\d+),\s*"at":\s*"[^"]*",\s*"hall":\s*"([^"]*)"')
FINAL = ("done", "no_show", "cancelled")


def compact_event(name: str, message: dict) -> tuple:
    """(name, ticket id, ticket status, window number, queue prefix): which rooms it went to,
    exactly as hall.realtime.deliver decides it."""
    ticket = message.get("ticket")
    window = message.get("window")
    queue = message.get("queue")
    return (name,
            ticket.get("id") if isinstance(ticket, dict) else None,
            ticket.get("status") if isinstance(ticket, dict) else None,
            window.get("number") if isinstance(window, dict) else None,
            queue.get("prefix") if name == "queue.changed" and isinstance(queue, dict) else None)


class LiveClient:
    """A /live client over one websocket (Engine.IO 4, Socket.IO 5): auth, snapshot, events, pings.

    Reconnects like the pages do after an unexpected close; a mobile ticket reconnects after its
    ticket was transferred (ticket.js) and closes once the ticket is done.
    """

    def __init__(self, worker: Worker, kind: str, hall: str, halls: tuple[str, ...], server: int,
                 window: int | None = None, ticket: int | None = None, secret: str | None = None,
                 number: int = 0) -> None:
        self.worker, self.kind, self.hall, self.halls, self.server = worker, kind, hall, halls, server
        self.number = number
        self.window, self.ticket, self.secret = window, ticket, secret
        self.sessions: list[Session] = []
        self.current: Session | None = None
        self.ws = None
        self.done = False
        self.reader = None

    def auth(self) -> dict:
        t = self.worker.plan.tokens
        if self.kind == "mobile":
            return {"ticket": self.ticket, "secret": self.secret}
        if self.kind == "city":
            return {"token": t["city"][self.hall], "city": True}
        if self.kind == "kiosk":
            token = t["kiosk"][self.hall][self.number % KIOSKS_PER_HALL]
        elif self.kind == "dashboard":
            token = t["manager"][self.hall]
        else:  # hall screens and window screens
            token = t["screen"][self.hall]
        auth = {"token": token, "hall": self.hall}
        if self.window is not None:
            auth["window"] = self.window
        return auth

    async def start(self, sem) -> bool:
        import asyncio
        import contextlib as cl

        import aiohttp
        w = self.worker
        session = Session(self.kind, self.hall, self.halls, self.server, self.window, self.ticket)
        snapshot = asyncio.get_running_loop().create_future()
        snapshot.add_done_callback(lambda f: f.cancelled() or f.exception())  # a late failure is no news
        url = w.plan.urls[self.server].replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        ctx = sem if sem is not None else cl.nullcontext()
        try:
            async with ctx:
                self.ws = await asyncio.wait_for(w.ws_http.ws_connect(
                    url, autoping=True, max_msg_size=0, compress=0,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10)), 60)
                opening = await asyncio.wait_for(self.ws.receive(), 60)
                if not isinstance(opening.data, str) or not opening.data.startswith("0"):
                    raise ConnectionError(f"no Engine.IO open packet: {opening.data!r}"[:200])
                await self.ws.send_str(f"40{NS}," + json.dumps(self.auth()))
                session.opened = mono()
                self.current = session
                self.sessions.append(session)
                w.sessions.append(session)
                self.reader = asyncio.get_running_loop().create_task(self.read(session, snapshot))
                await asyncio.wait_for(asyncio.shield(snapshot), 60)
        except Exception as err:  # noqa: BLE001 - counted and reported
            w.connect_failures.append(f"{self.kind} {self.hall}: {err!r}"[:300])
            session.error = "connect failed: " + repr(err)[:200]  # not evaluated, even if a snapshot came late
            if self.ws is not None:
                await self.ws.close()
            self.done = True
            if self.kind == "mobile":
                w.mobile_live -= 1
            return False
        w.connected += 1
        w.connected_peak = max(w.connected_peak, w.connected)
        return True

    async def read(self, s: Session, snapshot) -> None:
        import aiohttp
        w = self.worker
        truth = w.truth
        seqs_append, times_append = s.seqs.append, s.times.append
        mobile = self.kind == "mobile"
        city = self.kind == "city"
        ws = self.ws
        top = s.top
        halls = set(self.halls)
        ended = "closed"
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                d = msg.data
                if d == "2":
                    await ws.send_str("3")
                    continue
                if not d.startswith('42/live,["'):
                    if d.startswith("44/live"):
                        s.error = d[:200]
                        if not snapshot.done():
                            snapshot.set_exception(ConnectionError(d[:200]))
                        ended = "refused"
                        break
                    continue
                t = mono()
                j = d.index('"', 10)
                name = d[10:j]
                if name == "snapshot":
                    self.on_snapshot(s, json.loads(d[8:])[1], t)
                    if not snapshot.done():
                        snapshot.set_result(None)
                    if mobile and s.end:
                        ended = "final"
                        break
                    continue
                m = HEAD.match(d, j)
                if m is None:
                    message = json.loads(d[8:])[1]
                    seq, hall = message["seq"], message["hall"]
                else:
                    seq, hall, message = int(m.group(1)), m.group(2), None
                if hall not in halls:
                    # Another installation's event: Redis pub/sub channels are global to the Redis
                    # server (not per db) and Flask-SocketIO's is always "flask-socketio", so every
                    # Hall server on this Redis emits everyone's events into its own rooms.
                    w.foreign[(self.kind, hall, name)] += 1
                    continue
                if seq > top.get(hall, 0):
                    top[hall] = seq
                key = (hall, seq)
                if key not in truth or mobile:
                    message = message or json.loads(d[8:])[1]
                    truth.setdefault(key, compact_event(name, message))
                if city:
                    arrays = s.extra_halls.get(hall)
                    if arrays is None:
                        arrays = s.extra_halls[hall] = (array.array("q"), array.array("d"))
                    arrays[0].append(seq)
                    arrays[1].append(t)
                    continue
                seqs_append(seq)
                times_append(t)
                if mobile:
                    ticket = message.get("ticket") if isinstance(message, dict) else None
                    if not isinstance(ticket, dict) or ticket.get("id") != self.ticket:
                        continue
                    status = ticket.get("status")
                    if (name in ("ticket.finished", "ticket.no_show", "ticket.cancelled")
                            and status in FINAL):
                        s.end[hall] = seq
                        ended = "final"
                        break
                    if name == "ticket.transferred" or (name == "ticket.finished" and status == "waiting"):
                        s.end[hall] = seq
                        ended = "moved"
                        break
        except Exception as err:  # noqa: BLE001
            s.error = repr(err)[:200]
            ended = "error"
        s.closed = mono()
        if self.current is s:
            self.current = None
        w.connected -= 1 if s.snap else 0
        if not snapshot.done():
            snapshot.set_exception(ConnectionError(s.error or "closed before the snapshot"))
        if self.done:
            return
        if ended in ("final", "moved"):
            await ws.close()
            if ended == "final":
                self.done = True
                w.mobile_live -= 1
                return
            w.spawn(self.start(None))  # ticket.js: reconnect to hear the new queue
            return
        if ended in ("closed", "error", "refused"):
            # closed by the server or the network: nothing after its last event is owed to it
            # (the page reconnects and gets a new snapshot; the disconnect is counted)
            s.end = {hall: max(s.top.get(hall, 0), s.snap.get(hall, 0)) for hall in s.snap}
            w.disconnects += 1
            await ws.close()
            if not w.stopping:
                w.spawn(self.start(None))

    def on_snapshot(self, s: Session, snap: dict, t: float) -> None:
        if self.kind == "city":
            for row in snap.get("halls", []):
                s.snap[row["code"]] = row.get("seq") or 0
            s.halls = tuple(s.snap)
        else:
            s.snap[snap["hall"]] = snap["seq"]
            s.snap_at, s.snap_t = snap.get("at", ""), t
            ticket = snap.get("ticket")
            if self.kind == "mobile" and isinstance(ticket, dict):
                s.queue = ticket.get("queue")
                if ticket.get("status") in FINAL:
                    s.end[snap["hall"]] = snap["seq"]

    async def close(self) -> None:
        self.done = True
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(BaseException):
                await self.reader
