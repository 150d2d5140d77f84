"""CPU and SQL statements per issue and per call, in-process (Flask test client, no HTTP): the
domain's own cost, without the network, the HTTP server or a client on the same cores.

    .venv/bin/python bench/hot_path.py [--tickets 600] [--database postgresql+psycopg://…/empty_db]

The reference hall of config.toml (52 windows) on a fresh SQLite file (or the given empty
database), the hall clock frozen at Monday 09:00, the kiosk limit lifted. Prints, for a request
that does no work (GET /healthz, the baseline), an issue and a call: the CPU time per request
(best of 5 blocks: the least disturbed by other work on the machine), wall time, and how many
SQL statements the request sent to the write engine (not counting BEGIN, COMMIT and the pool's
connection checks); on PostgreSQL also the database server's CPU per request (all its
processes, so run it on an otherwise idle database).
"""
from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import re
import shutil
import sys
import tempfile
import time

import sqlalchemy as sa

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from common import MONDAY_9, ROOT, database_cpu, without_issue_limit  # noqa: E402

from hall import tokens  # noqa: E402
from hall.app import create_app  # noqa: E402
from hall.clock import ManualClock  # noqa: E402
from hall.config import load_config  # noqa: E402

QUEUES = "ABCDEFGHJK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=600)
    parser.add_argument("--database", default=None, help="an empty database URL (default: SQLite)")
    parser.add_argument("--trace", action="store_true",
                        help="also print the SQL of one issue and one call (after the timed blocks)")
    args = parser.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hot-path-"))
    config = tmp / "config.toml"
    shutil.copy(ROOT / "config.toml", config)
    shutil.copytree(ROOT / "holidays", tmp / "holidays")
    without_issue_limit(config)
    url = args.database or f"sqlite:///{tmp}/hall.db"
    config.write_text(re.sub(r'(?m)^database\s*=.*$', f'database = "{url}"', config.read_text(), count=1))
    clock = ManualClock(dt.datetime.fromisoformat(MONDAY_9))
    app = create_app(load_config(str(config)), clock=clock, base_url="http://hall.test", realtime=False)
    rt = app.extensions["hall"]
    try:
        with rt.db.write() as session:
            kiosk = tokens.create_token(session, rt.halls["XS"], "kiosk", clock.now())
            clerks = {n: tokens.create_token(session, rt.halls["XS"], "clerk", clock.now(), window=n)
                      for n in range(1, 53)}
        client = app.test_client()
        statements = [0]

        @sa.event.listens_for(rt.db.engine, "before_cursor_execute")
        def _count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements[0] += 1
            if traced is not None:
                traced.append(" ".join(statement.split()))

        traced: list[str] | None = None

        def noop(i: int) -> None:
            client.get("/healthz")

        def issue(i: int) -> None:
            r = client.post("/api/v1/halls/XS/tickets", json={"queue": QUEUES[i % len(QUEUES)]},
                            headers={"Authorization": f"Bearer {kiosk}"})
            assert r.status_code == 201, r.get_json()

        def call(i: int) -> None:
            n = 1 + i % 52
            r = client.post(f"/api/v1/halls/XS/windows/{n}/call",
                            headers={"Authorization": f"Bearer {clerks[n]}"})
            assert r.status_code == 200, r.get_json()

        print(f"in-process, {rt.db.engine.dialect.name}, reference hall XS (52 windows)")
        server = not rt.db.is_sqlite
        print(f"{'request':<8} {'n':>5} {'CPU ms':>8} {'wall ms':>8} {'statements':>11}"
              + (f" {'server CPU ms':>14}" if server else ""))
        for name, fn, n in (("no-op", noop, 300), ("issue", issue, args.tickets),
                            ("call", call, args.tickets // 2)):
            block = max(1, n // 5)
            blocks = []
            done = 0
            for _ in range(5):
                statements[0] = 0
                s0 = database_cpu() if server else 0.0
                c0, t0 = time.process_time(), time.perf_counter()
                for i in range(block):
                    fn(done + i)
                blocks.append(((time.process_time() - c0) / block, (time.perf_counter() - t0) / block,
                               statements[0] / block, ((database_cpu() - s0) / block) if server else 0.0))
                done += block
            cpu, wall, stmts, db_cpu = min(blocks)
            print(f"{name:<8} {done:>5} {cpu * 1000:8.2f} {wall * 1000:8.2f} {stmts:11.1f}"
                  + (f" {db_cpu * 1000:14.2f}" if server else ""))
        if args.trace:
            for name, fn in (("issue", issue), ("call", call)):
                traced = []
                fn(done)
                print(f"\n{name}: {len(traced)} statements")
                for i, statement in enumerate(traced, 1):
                    print(f"{i:3}. {statement[:160]}")
            traced = None
    finally:
        rt.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
