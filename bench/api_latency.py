"""Issue and call over HTTP on loopback with 1 and 8 concurrent clients: p50/p99 latency, throughput.

    .venv/bin/python bench/api_latency.py [--tickets 1200] [--calls 600] [--server gunicorn-gevent]
                                          [--database postgresql+psycopg://…/an_empty_database]

Serves the reference hall (config.toml, 52 windows) with a production server (gunicorn, 1 worker,
threads or gevent) on a fresh SQLite database (or the given empty one), at a hall clock of Monday 09:00. Tickets come
from one kiosk token (the per-kiosk limit lifted), calls from each window's clerk token. The baseline,
in the same run, is GET /healthz: the cost of a request that does no work, so the ratio shows
what the domain adds. Each row also gives the server's CPU per request (and, on PostgreSQL, the
database's: all its processes, so use an otherwise idle one). Targets (issue #2): issue p50 ≤ 3 ms, p99 ≤ 15 ms; ≥ 400 tickets/s with 8.

The clients are plain keep-alive HTTP/1.1 connections (http.client), one per client thread, as a
kiosk's browser holds one: a request costs the client about 0.1 ms. (The first version used
``requests`` sessions, which cost about 2.5 ms of client CPU per request on this machine and
showed in every latency; ``--client requests`` keeps that for comparison.)
"""
from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import itertools
import json
import time
import urllib.parse

import requests

from common import SERVERS, database_cpu, hall_server, percentile

QUEUES = "ABCDEFGHJK"


class Client:
    """One keep-alive connection, as a kiosk or a clerk's page holds one."""

    def __init__(self, base: str) -> None:
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def request(self, method: str, url: str, json_body: object = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        path = urllib.parse.urlsplit(url).path
        body = None if json_body is None else json.dumps(json_body).encode()
        head = dict(headers or {})
        if body is not None:
            head["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=head)
        response = self.conn.getresponse()
        return response.status, response.read()


class RequestsClient:
    def __init__(self, base: str) -> None:
        self.session = requests.Session()

    def request(self, method: str, url: str, json_body: object = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        response = self.session.request(method, url, json=json_body, headers=headers, timeout=30)
        return response.status_code, response.content


CLIENTS = {"http.client": Client, "requests": RequestsClient}


def timed(client, method: str, url: str, **kwargs) -> float:
    start = time.perf_counter()
    status, content = client.request(method, url, kwargs.get("json"), kwargs.get("headers"))
    elapsed = time.perf_counter() - start
    if status >= 400:
        raise RuntimeError(f"{method} {url}: {status} {content[:200]!r}")
    return elapsed


def run(clients: int, jobs: list[tuple[str, str, dict]], base: str, kind: str = "http.client"
        ) -> tuple[list[float], float]:
    """Send ``jobs`` from ``clients`` threads, each with its own keep-alive connection."""
    sessions = [CLIENTS[kind](base) for _ in range(clients)]
    chunks = [jobs[i::clients] for i in range(clients)]

    def work(k: int) -> list[float]:
        return [timed(sessions[k], m, u, **kw) for m, u, kw in chunks[k]]

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        latencies = list(itertools.chain.from_iterable(pool.map(work, range(clients))))
    return latencies, time.perf_counter() - start


def row(name: str, clients: int, latencies: list[float], wall: float, base_p50: float | None) -> str:
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    ratio = f"{p50 / base_p50:5.1f}×" if base_p50 else "    –"
    return (f"{name:<10} {clients:>7} {len(latencies):>6} {p50:8.2f} {p99:8.2f} "
            f"{len(latencies) / wall:9.0f} {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1200)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--server", choices=[k for k in SERVERS if k.startswith("gunicorn")],
                        default="gunicorn-gevent")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="http.client")
    parser.add_argument("--database", default=None, help="an empty database URL (default: a new SQLite file)")
    args = parser.parse_args()
    on_pg = bool(args.database) and not args.database.startswith("sqlite")
    with hall_server(kind=args.server, database=args.database) as server:
        kiosk = server.token("kiosk")
        clerks = server.clerk_tokens(range(1, 53))  # each window calls with its own clerk token
        k_head = {"Authorization": f"Bearer {kiosk}"}
        issue = f"{server.url}/api/v1/halls/XS/tickets"
        engine = "PostgreSQL" if on_pg else "SQLite"
        print(f"server: {args.server}, 1 worker; {engine}; reference hall XS; {server.url}; "
              f"clients: {args.client}")
        print(f"{'request':<10} {'clients':>7} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9} vs no-op"
              f" {'server CPU ms':>14}" + (f" {'database CPU ms':>16}" if on_pg else ""))

        def measured(name: str, clients: int, jobs: list, base_p50: float | None) -> list[float]:
            s0, d0 = server.cpu_seconds(), database_cpu() if on_pg else 0.0
            lat, wall = run(clients, jobs, server.url, args.client)
            cpu = (server.cpu_seconds() - s0) / len(jobs) * 1000
            db = (database_cpu() - d0) / len(jobs) * 1000 if on_pg else None
            print(row(name, clients, lat, wall, base_p50) + f" {cpu:14.2f}"
                  + (f" {db:16.2f}" if db is not None else ""))
            return lat

        for clients in (1, 8):
            noop = [("GET", f"{server.url}/healthz", {})] * 400
            base_p50 = percentile(measured("no-op", clients, noop, None), 50) * 1000
            jobs = [("POST", issue, {"json": {"queue": QUEUES[i % len(QUEUES)]}, "headers": k_head})
                    for i in range(args.tickets // (2 if clients == 1 else 1))]
            measured("issue", clients, jobs, base_p50)
            calls = [("POST", f"{server.url}/api/v1/halls/XS/windows/{1 + i % 52}/call",
                      {"headers": {"Authorization": f"Bearer {clerks[1 + i % 52]}"}})
                     for i in range(args.calls // (2 if clients == 1 else 1))]
            measured("call", clients, calls, base_p50)
        print(f"server CPU: {server.cpu_seconds():.1f} s")


if __name__ == "__main__":
    main()
