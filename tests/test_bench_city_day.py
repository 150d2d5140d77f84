"""bench/city_day.py at a tiny scale, as a user runs it: 2 halls, the first 6 minutes of their day at
240×, 20 live clients on 2 gunicorn-gevent processes sharing a PostgreSQL database and Redis. Every
visitor gets a number and is served, every client gets every event meant for its rooms, and the
figures the issue asks for are printed."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from server_process import ROOT
from services import postgres_database, redis_url

pytestmark = pytest.mark.services
MAKE_DAY = ROOT / "bench" / "workloads" / "make_day.py"


@pytest.fixture
def pg_url():
    yield from postgres_database()


def _numbers(line: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", line)]


@pytest.mark.timeout(180)
def test_a_tiny_city_day_issues_serves_and_delivers_everything(tmp_path, pg_url):
    queue = redis_url()
    if not MAKE_DAY.exists():
        pytest.skip(f"the workload generator {MAKE_DAY} is not here")
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "city_day.py"), "--halls", "2", "--minutes", "6",
         "--speed", "240", "--clients", "20", "--database", pg_url, "--redis", queue,
         "--drain", "10", "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=170)
    out = result.stdout
    assert result.returncode == 0, f"exit {result.returncode}\n{out[-4000:]}\n{result.stderr[-4000:]}"

    # Every visitor of the replayed minutes got a number, once, and was served (or marked no-show).
    visitors, issued, refused, duplicates, unfinished = map(int, re.search(
        r"visitors ([\d,]+): issued ([\d,]+), refused or failed ([\d,]+), duplicate numbers (\d+), "
        r"not finished (\d+)", out).groups())
    assert visitors > 5
    assert (issued, refused, duplicates, unfinished) == (visitors, 0, 0, 0)
    in_db = dict((k, int(v.replace(",", ""))) for k, v in re.findall(
        r"(done|no_show|waiting|called|serving|cancelled) ([\d,]+)", out.split("tickets in the database:")[1]
        .splitlines()[0]))
    assert sum(in_db.values()) == visitors and set(in_db) <= {"done", "no_show"}

    # Every client got every event meant for its rooms.
    delivered, expected, share = re.search(r"delivered ([\d,]+)/([\d,]+) \(([\d.]+) %\)", out).groups()
    assert int(delivered.replace(",", "")) == int(expected.replace(",", "")) > 0
    assert share == "100.00"
    assert "duplicates 0, misrouted 0" in out

    # The figures: p50/p99 of issue, call and call → delivery, CPU per visitor, the targets.
    lines = out.splitlines()
    for label in ("issue (POST /tickets", "call (POST …/call", "call → ticket.called delivered (from sent)",
                  "call → ticket.called delivered (from answer)"):
        line = next(x for x in lines if x.startswith(label))
        n, p50, p99, worst = _numbers(line.split(")", 1)[1])[-4:]
        assert n > 0 and 0 <= p50 <= p99 <= worst, line
    for label in ("servers (2 gunicorn trees", "PostgreSQL backends", "load generator"):
        line = next(x for x in lines if x.startswith(label))
        seconds, per_visitor = _numbers(line.split(")", 1)[1] if ")" in line else line)[-2:]
        assert seconds > 0 and per_visitor > 0, line
    assert re.search(r"targets: day ≤ 10 min wall: met .*; call → delivery p99 ≤ 200 ms: (met|NOT met) "
                     r"\(\d+ ms\); 100 % delivered: met", out)
    data = json.loads(figures.read_text())
    assert data["issued"] == visitors and data["delivered_share"] == 1.0
    assert data["mobile"]["opened"] > 0 and data["connect_failures"] == 0
