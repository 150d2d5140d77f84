"""Live fan-out: N Socket.IO clients on one server process; call → delivery latency at each client.

    .venv/bin/python bench/live_fanout.py [--clients 2000] [--calls 200] [--rate 5]
        [--server runpy | runpy-gevent | gunicorn-threads | gunicorn-gevent]

Starts ``run.py`` (or gunicorn; ``--server``, whose gevent kinds set ``[server] async_mode``)
on a temporary copy of config.toml (hall XS, 52 windows) and a fresh SQLite
file, issues tickets, connects hall screens, window screens and mobile tickets over websocket,
then makes calls over HTTP with a manager token and times, at every client that should hear of
each call, its receive time minus the time the call was sent (both time.time() in this process).
Loopback only, bounded in count and time; stops the server by itself.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import pathlib
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
import psutil
import socketio

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import SERVERS, server_command, set_async_mode, without_issue_limit  # noqa: E402

HALL = "XS"
WINDOWS = list(range(1, 53))
QUEUES = "ABCDEFGHJ"  # K (办不成事) is left out: few windows serve it
CALLING = [w for w in WINDOWS if w != 47]  # 47 serves only K
CLOCK = "2026-11-30T09:00:00+08:00"


@dataclasses.dataclass
class Client:
    kind: str  # hall | window | ticket
    auth: dict
    window: int | None = None
    ticket_id: int | None = None
    sio: socketio.AsyncClient | None = None
    called: dict = dataclasses.field(default_factory=dict)  # ticket id → receive time
    events: int = 0
    seqs: list = dataclasses.field(default_factory=list)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # the server inherits it
    return want


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_py(*args: str) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=120)
    return out.stdout.strip().splitlines()[-1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Tree:
    """The server's processes (gunicorn: the master and its worker) as one for CPU, threads, memory."""

    def __init__(self, root: psutil.Process) -> None:
        self.root = root

    def all(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def serving(self) -> psutil.Process:
        return max(self.all(), key=lambda p: p.memory_info().rss)

    def serving_rss(self) -> int:
        return self.serving().memory_info().rss

    def cpu_times(self) -> tuple[float, float]:
        times = [p.cpu_times() for p in self.all()]
        return sum(t.user for t in times), sum(t.system for t in times)

    def num_threads(self) -> int:
        return sum(p.num_threads() for p in self.all())

    def num_fds(self) -> int:
        return sum(p.num_fds() for p in self.all())

    def memory_info(self):
        return _Rss(sum(p.memory_info().rss for p in self.all()))


@dataclasses.dataclass
class _Rss:
    rss: int


def stop_tree(server: subprocess.Popen, gunicorn: bool) -> None:
    """Stop the server and its workers: a gunicorn worker with thousands of threads can outlive
    a killed master (it then goes on burning CPU), so whatever is left is killed by pid."""
    try:
        workers = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        workers = []
    # gunicorn: SIGINT is the quick shutdown, not a wait for the open websockets
    server.send_signal(signal.SIGINT if gunicorn else signal.SIGTERM)
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)
    _, alive = psutil.wait_procs(workers, timeout=5)
    for worker in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.kill()


async def wait_healthy(session: aiohttp.ClientSession, base: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            async with session.get(f"{base}/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the server did not answer /healthz within 30 s")


async def issue_tickets(session, base, kiosk, count) -> list[tuple[int, str]]:
    """Issue ``count`` tickets across the queues; return (id, secret) of each."""
    headers = {"Authorization": f"Bearer {kiosk}"}
    out: list[tuple[int, str]] = []
    sem = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with sem, session.post(f"{base}/api/v1/halls/{HALL}/tickets", headers=headers,
                                     json={"queue": QUEUES[i % len(QUEUES)]}) as r:
            body = await r.json()
            if r.status != 201:
                raise SystemExit(f"issuing a ticket failed: {r.status} {body}")
            secret = dict(p.split("=", 1) for p in body["track_url"].split("?", 1)[1].split("&"))["s"]
            out.append((body["id"], secret))

    await asyncio.gather(*(one(i) for i in range(count)))
    return out


async def connect(client: Client, base: str, http: aiohttp.ClientSession, sem: asyncio.Semaphore) -> bool:
    sio = socketio.AsyncClient(reconnection=False, http_session=http)
    client.sio = sio
    ready = asyncio.Event()

    @sio.on("snapshot", namespace="/live")
    async def _snapshot(data):
        ready.set()

    @sio.on("*", namespace="/live")
    async def _any(name, data):
        now = time.time()
        client.events += 1
        if client.kind == "hall" and isinstance(data, dict) and "seq" in data:
            client.seqs.append(data["seq"])
        if name == "ticket.called" and isinstance(data, dict):
            client.called.setdefault(data["ticket"]["id"], now)

    async with sem:
        try:
            await sio.connect(base, auth=client.auth, namespaces=["/live"], transports=["websocket"],
                              wait_timeout=30)
            await asyncio.wait_for(ready.wait(), 30)
            return True
        except (socketio.exceptions.ConnectionError, asyncio.TimeoutError) as err:
            print(f"  {client.kind} client failed to connect: {err}", file=sys.stderr)
            return False


async def bench(args: argparse.Namespace) -> int:
    limit = raise_fd_limit()
    for name in ("engineio.client", "socketio.client"):  # the server's shutdown is not news
        logging.getLogger(name).disabled = True
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="live-fanout-"))
    config = tmp / "config.toml"
    shutil.copy(ROOT / "config.toml", config)
    shutil.copytree(ROOT / "holidays", config.parent / "holidays", dirs_exist_ok=True)
    without_issue_limit(config)
    set_async_mode(config, "gevent" if args.server.endswith("gevent") else "threading")
    common = ["--config", str(config), "--database", f"sqlite:///{tmp}/hall.db"]
    n_hall = max(1, min(args.hall_screens, args.clients // 50))
    n_window = min(len(WINDOWS), max(0, args.clients - n_hall))
    n_ticket = max(0, args.clients - n_hall - n_window)
    print(f"server: {args.server}; clients: {n_hall} hall screens, {n_window} window screens, "
          f"{n_ticket} mobile tickets (fd limit {limit}); {args.calls} calls at {args.rate}/s; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; work dir {tmp}")

    t_setup = time.time()
    screen = run_py("token", "create", "--role", "screen", "--hall", HALL, *common)
    kiosk = run_py("token", "create", "--role", "kiosk", "--hall", HALL, *common)
    manager = run_py("token", "create", "--role", "manager", "--hall", HALL, *common)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "w")
    command = server_command(args.server, port, threads=args.clients + 100,
                             connections=args.clients + 1000, run_py_args=(*common, "--clock", CLOCK))
    env = {**os.environ, "HALL_CONFIG": str(config), "HALL_DATABASE_URL": f"sqlite:///{tmp}/hall.db",
           "HALL_CLOCK": CLOCK, "HALL_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc = Tree(psutil.Process(server.pid))
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 timeout=aiohttp.ClientTimeout(total=60))
    clients: list[Client] = []
    try:
        await wait_healthy(http, base, server)
        print(f"setup: tokens and server in {time.time() - t_setup:.1f} s")
        tickets = await issue_tickets(http, base, kiosk, max(n_ticket, args.calls))
        print(f"setup: tokens, server and {len(tickets)} tickets in {time.time() - t_setup:.1f} s")
        clients += [Client("hall", {"token": screen, "hall": HALL}) for _ in range(n_hall)]
        clients += [Client("window", {"token": screen, "hall": HALL, "window": w}, window=w)
                    for w in WINDOWS[:n_window]]
        clients += [Client("ticket", {"ticket": tid, "secret": s}, ticket_id=tid)
                    for tid, s in tickets[:n_ticket]]
        t0 = time.time()
        sem = asyncio.Semaphore(args.connect_concurrency)
        ok = await asyncio.gather(*(connect(c, base, http, sem) for c in clients))
        connected = [c for c, good in zip(clients, ok) if good]
        print(f"connected {len(connected)}/{len(clients)} clients in {time.time() - t0:.1f} s; "
              f"server threads {proc.num_threads()}, fds {proc.num_fds()}, rss {proc.memory_info().rss >> 20} MiB")
        await asyncio.sleep(2)

        spy = None
        if args.py_spy:
            exe = shutil.which("py-spy") or str(pathlib.Path(sys.executable).with_name("py-spy"))
            spy = subprocess.Popen([exe, "record", "--gil", "--nonblocking", "--rate", "10", "--format", "raw",
                                    "--duration", str(int(args.calls / args.rate)), "-o", args.py_spy,
                                    "--pid", str(proc.serving().pid)], stdout=log, stderr=log)
        cpu0, t_calls = sum(proc.cpu_times()[:2]), time.time()
        sent: dict[int, tuple[float, int]] = {}  # ticket id → (sent at, window)
        per_call: dict[int, tuple[int, float]] = {}  # ticket id → (call number, HTTP ms)
        failures = 0
        answered: list[float] = []  # HTTP response times, ms
        headers = {"Authorization": f"Bearer {manager}"}

        async def call(i: int) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, t_calls + i / args.rate - time.time()))
            window = CALLING[i % len(CALLING)]
            at = time.time()
            try:  # a new connection per call, as a clerk's call pad makes it: no keep-alive race
                async with calls_http.post(f"{base}/api/v1/halls/{HALL}/windows/{window}/call",
                                           headers=headers) as r:
                    body = await r.json()
            except aiohttp.ClientError as err:
                print(f"  call #{i} failed: {err!r}", file=sys.stderr)
                failures += 1
                return
            answered.append((time.time() - at) * 1000)
            if r.status == 200 and body.get("ticket"):
                sent[body["ticket"]["id"]] = (at, window)
                per_call[body["ticket"]["id"]] = (i, answered[-1])
            else:
                failures += 1

        calls_http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True),
                                           timeout=aiohttp.ClientTimeout(total=60))
        try:
            await asyncio.gather(*(call(i) for i in range(args.calls)))
        finally:
            await calls_http.close()
        by_client = {c.ticket_id: c for c in connected if c.kind == "ticket"}
        expected = [(c, tid) for tid, (_, window) in sent.items()
                    for c in connected if c.kind == "hall" or (c.kind == "window" and c.window == window)]
        expected += [(by_client[tid], tid) for tid in sent if tid in by_client]
        deadline = time.time() + args.drain_s
        while time.time() < deadline and any(tid not in c.called for c, tid in expected):
            await asyncio.sleep(0.1)
        calls_s, cpu = time.time() - t_calls, sum(proc.cpu_times()[:2]) - cpu0

        latencies = {kind: [] for kind in ("hall", "window", "ticket")}
        for c, tid in expected:
            if tid in c.called:
                latencies[c.kind].append((c.called[tid] - sent[tid][0]) * 1000)
        every = [v for values in latencies.values() for v in values]
        last = {}  # ticket id → its slowest delivery, ms
        for c, tid in expected:
            if tid in c.called:
                last[tid] = max(last.get(tid, 0.0), (c.called[tid] - sent[tid][0]) * 1000)
        gaps = sum(sum(1 for a, b in zip(c.seqs, c.seqs[1:]) if b != a + 1)
                   for c in connected if c.kind == "hall")
        print(f"\ncalls: {len(sent)} made ({failures} failed or found nobody) in {calls_s:.1f} s; "
              f"server CPU {cpu:.1f} s during calls + drain; events received {sum(c.events for c in connected)}")
        print(f"HTTP call answered: p50 {statistics.median(answered or [float('nan')]):.1f} ms, "
              f"p99 {percentile(answered, 0.99):.1f} ms, max {max(answered, default=float('nan')):.1f} ms")
        slow = sorted(last, key=last.get, reverse=True)[:3]
        print("slowest calls: " + "; ".join(f"#{per_call[t][0]} HTTP {per_call[t][1]:.0f} ms, last delivery "
                                            f"{last[t]:.0f} ms" for t in slow))
        print(f"delivered {len(every)}/{len(expected)} ({100 * len(every) / max(1, len(expected)):.2f} %), "
              f"hall-room seq gaps {gaps}")
        print(f"{'clients':>8} {'kind':>7} {'deliveries':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for kind, values in [*latencies.items(), ("all", every)]:
            count = sum(1 for c in connected if kind in (c.kind, "all"))
            if values:
                print(f"{count:>8} {kind:>7} {len(values):>10} {statistics.median(values):>8.1f} "
                      f"{percentile(values, 0.99):>8.1f} {max(values):>8.1f}")
        print(f"server: CPU total {sum(proc.cpu_times()[:2]):.1f} s, threads {proc.num_threads()}, "
              f"rss {proc.memory_info().rss >> 20} MiB (serving process {proc.serving_rss() >> 20} MiB); "
              f"bench process CPU {sum(psutil.Process().cpu_times()[:2]):.1f} s; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if spy is not None:
            try:
                spy.wait(120)
            except subprocess.TimeoutExpired:
                spy.kill()
        return 0 if every and len(every) == len(expected) else 1
    finally:
        stop_tree(server, args.server.startswith("gunicorn"))
        await http.close()
        log.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--rate", type=float, default=1.0,
                        help="calls per second (default 1: a 52-window hall at its busiest calls ~0.3/s)")
    parser.add_argument("--hall-screens", type=int, default=8)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--drain-s", type=float, default=15.0, help="wait this long for late deliveries")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the server (GIL holders) during the calls "
                        "with py-spy into FILE (collapsed stacks)")
    parser.add_argument("--server", choices=SERVERS, default="runpy",
                        help="run.py (Werkzeug, threading), run.py under gevent, or gunicorn -w 1 with "
                        "threads (one per client) or gevent; the gevent kinds set [server] async_mode")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (server.log, hall.db)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.calls < 1 or args.calls > 5000 or args.rate <= 0:
        parser.error("--clients ≥ 1, 1 ≤ --calls ≤ 5000, --rate > 0")
    return asyncio.run(asyncio.wait_for(bench(args), timeout=600))


if __name__ == "__main__":
    sys.exit(main())
