"""Time hall.city.city_view over 50 halls (1 city, 9 districts, 40 streets; config.toml's hall as the model)
with a day of tickets each, against a loop of 50 hall.stats.day_stats (the per-hall way).

    .venv/bin/python bench/city_view.py [--halls 50] [--tickets 400] [--runs 20]
"""
from __future__ import annotations

import argparse
import pathlib
import random
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402

from dashboard_snapshot import NOW, fill_day, timed  # noqa: E402
from hall import city, runtime as runtime_mod, scope, stats  # noqa: E402
from hall.clock import Clock  # noqa: E402
from hall.config import parse_config  # noqa: E402
from hall.config_errors import read_toml  # noqa: E402
from hall.models import Rating, Service, Window, WindowState  # noqa: E402


def tree(model: dict, n: int) -> list[dict]:
    """HB (city) → D1…D9 (districts) → S10… (streets, spread over the districts)."""
    halls = [{**model, "code": "HB", "level": "city", "parent": None, "name": "市民之家"}]
    districts = max(1, min(9, n // 5))
    for i in range(1, districts + 1):
        halls.append({**model, "code": f"D{i}", "level": "district", "parent": "HB", "name": f"第{i}区政务服务中心"})
    for i in range(districts + 1, n):
        halls.append({**model, "code": f"S{i}", "level": "street", "parent": f"D{1 + i % districts}",
                      "name": f"第{i}街道便民服务中心"})
    for h in halls:
        if h["parent"] is None:
            h.pop("parent")
        h.pop("devices", None)
    return halls


def rate(session, rng: random.Random) -> int:
    """Rate 90 % of today's done services (5/4 mostly, a few bad ones)."""
    rows = session.execute(sa.select(Service.id, Service.hall_id, Service.ticket_id, Service.business_day,
                                     Service.ended_at).where(Service.outcome == "done")).all()
    ratings = [dict(hall_id=h, service_id=sid, ticket_id=tid, business_day=day,
                    level=rng.choices([5, 4, 3, 2, 1], [80, 12, 5, 2, 1])[0], reasons=[], channel="pad",
                    at=ended, defaulted=False)
               for sid, h, tid, day, ended in rows if rng.random() < 0.9]
    session.execute(sa.insert(Rating), ratings)
    return len(ratings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--halls", type=int, default=50)
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-city-"))
    data = read_toml(ROOT / "config.toml")
    data["server"] = {**data.get("server", {}), "database": f"sqlite:///{tmp}/hall.db",
                      "secret_key_file": str(tmp / "secret_key")}
    data["halls"] = tree(data["halls"][0], args.halls)
    t0 = time.perf_counter()
    rt = runtime_mod.start(parse_config(data, base_dir=ROOT), clock=Clock(NOW))
    rng = random.Random(9)
    next_id = [1]
    with rt.db.write() as session:
        for hall in rt.halls.values():
            fill_day(session, hall, NOW.date(), args.tickets, NOW, rng, next_id)
        rated = rate(session, rng)
        for w in session.scalars(sa.select(Window)):
            w.state = rng.choice([WindowState.IDLE, WindowState.SERVING, WindowState.PAUSED, WindowState.CLOSED])
            w.state_since = NOW
    built = time.perf_counter() - t0
    halls = scope.below(rt.halls, "HB")
    windows = sum(len(h.window_ids) for h in halls)
    with rt.db.read() as session:
        view = city.city_view(session, halls, NOW)
        med, worst = timed(lambda: city.city_view(session, halls, NOW), args.runs)
        loop_med, loop_max = timed(lambda: [stats.day_stats(session, h, NOW.date()) for h in halls],
                                   max(3, args.runs // 5))
    totals = view["totals"]
    print(f"{len(halls)} halls, {windows} windows, {args.tickets} tickets each today "
          f"({len(halls) * args.tickets} in all, {rated} ratings), SQLite; built in {built:.1f} s, {args.runs} runs")
    print(f"  totals: waiting {totals['waiting']}, served {totals['served']}, open windows "
          f"{totals['open_windows']}, evaluation_rate {totals['evaluation_rate']}, good_rate {totals['good_rate']}")
    print(f"  city_view                 median {med:6.1f} ms   max {worst:6.1f} ms   (target ≤ 100 ms)")
    print(f"  {len(halls)} × stats.day_stats     median {loop_med:6.1f} ms   max {loop_max:6.1f} ms   (the per-hall loop)")
    rt.close()


if __name__ == "__main__":
    main()
