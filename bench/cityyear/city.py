"""The city year's city: its config (config.toml's hall copied into a city tree), its opening days
and tickets per hall-day, every day simulated and written, and every day closed as production does."""
from __future__ import annotations

import datetime as dt
import pathlib
import random
import time
from typing import Any
from zoneinfo import ZoneInfo

from city_view import tree
from hall import calendar, daily, runtime as runtime_mod
from hall.config import parse_config
from hall.config_errors import read_toml

from .loaders import Ids, city_day_rows
from .simulate import Plan, simulate

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FIRST_DAY = dt.date(2025, 1, 2)
WEEKDAY_FACTOR = (1.18, 1.05, 1.0, 0.97, 0.88, 0.5, 0.5)
MONTH_FACTOR = (1.05, 0.85, 1.1, 1.0, 0.95, 1.05, 0.95, 0.95, 1.0, 0.95, 1.0, 1.1)
LEVEL_WEIGHT = {"city": 2.2, "district": 1.3, "street": 0.85, "community": 0.5}


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
