"""The city year's reports, as the web layer asks them, timed from the rollups and from the raw
tickets (the baseline) and checked equal; also the XLSX export and the API."""
from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Any

from hall import report_export, reports, runtime as runtime_mod

# -- the reports ------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float, Any]:
    """(first, median, max) in ms over ``runs`` runs after the first, and the last result."""
    t0 = time.perf_counter()
    result = fn()
    first = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return first, statistics.median(times), max(times), result


def months_of(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    out: dict[tuple[int, int], list[dt.date]] = {}
    for day in days:
        out.setdefault((day.year, day.month), []).append(day)
    return [(d[0].replace(day=1), _month_end(d[0])) for d in out.values()]


def _month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def report_of(rt: runtime_mod.Runtime, hall: Any, start: dt.date, end: dt.date, by: str,
              now: dt.datetime, use_rollups: bool = True) -> dict[str, Any]:
    """What hall/web/reports.py does for GET …/reports: a read session, reports.report."""
    with rt.db.read() as db:
        return reports.report(db, hall, start, end, by, now=now, use_rollups=use_rollups)


def city_report_of(rt: runtime_mod.Runtime, halls: list[Any], start: dt.date, end: dt.date, by: str,
                   now: dt.datetime, use_rollups: bool = True) -> dict[str, Any]:
    """What hall/web/city.py does for GET /api/v1/city/reports: a read session, reports.city_report."""
    with rt.db.read() as db:
        return reports.city_report(db, halls, start, end, by, now=now, use_rollups=use_rollups)


def measure(rt: runtime_mod.Runtime, days: list[dt.date], now: dt.datetime, runs: int,
            app_client: Any = None, manager: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every timing of the report; each with the rollups and raw, checked equal."""
    halls = list(rt.halls.values())
    hall = halls[0]  # HB, the city hall: the largest
    months = months_of(days)
    results: list[dict[str, Any]] = []

    def both(name: str, fn: Callable[[bool], Any], n: int = runs) -> None:
        row: dict[str, Any] = {"what": name}
        for mode in (True, False):
            first, med, worst, result = timed(lambda: fn(mode), n)
            row["rollups" if mode else "raw"] = (first, med, worst)
            row["result_rollups" if mode else "result_raw"] = result
        row["equal"] = row.pop("result_rollups") == row.pop("result_raw")
        results.append(row)
        r, b = row["rollups"], row["raw"]
        print(f"  {name:<44} rollups first {r[0]:8.1f} median {r[1]:8.1f} max {r[2]:8.1f} ms | "
              f"raw first {b[0]:8.1f} median {b[1]:8.1f} max {b[2]:8.1f} ms | equal {row['equal']}",
              flush=True)

    # one hall, each month, by day (the page's default) — per-month figures and over all months
    per_month = []
    for start, end in months:
        both(f"{hall.code} {start:%Y-%m} by day", lambda m, s=start, e=end: report_of(rt, hall, s, e, "day", now, m))
        per_month.append(results.pop())
    agg: dict[str, Any] = {"what": f"{hall.code}, each month by day ({len(months)} months)",
                           "equal": all(r["equal"] for r in per_month)}
    for mode in ("rollups", "raw"):
        agg[mode] = (max(r[mode][0] for r in per_month), statistics.median(r[mode][1] for r in per_month),
                     max(r[mode][2] for r in per_month))
    results.append(agg)
    busiest = max(months, key=lambda m: sum(1 for d in days if m[0] <= d <= m[1]))
    start, end = busiest
    for by in ("month", "hour", "queue", "department", "window", "clerk"):
        both(f"{hall.code} {start:%Y-%m} by {by}", lambda m, by=by: report_of(rt, hall, start, end, by, now, m))
    year_from = max(days[0], days[-1] - dt.timedelta(days=reports.MAX_DAYS - 1))
    both(f"{hall.code} whole period by month", lambda m: report_of(rt, hall, year_from, days[-1], "month", now, m),
         max(1, runs // 2))
    both(f"city: {len(halls)} halls' {start:%Y-%m}, hall by hall",
         lambda m: [report_of(rt, h, start, end, "day", now, m) for h in halls], max(1, runs // 2))
    for by in reports.CITY_GROUPINGS:
        both(f"city report: {len(halls)} halls' {start:%Y-%m} by {by}",
             lambda m, by=by: city_report_of(rt, halls, start, end, by, now, m))
    both(f"city report: {len(halls)} halls' whole period by month",
         lambda m: city_report_of(rt, halls, year_from, days[-1], "month", now, m), max(1, runs // 2))
    data = report_of(rt, hall, start, end, "day", now)
    first, med, worst, _ = timed(lambda: report_export.report_xlsx(data), runs)
    results.append({"what": "XLSX of the month's report (export only)", "rollups": (first, med, worst)})
    print(f"  XLSX export of the month by day: median {med:.1f} ms, max {worst:.1f} ms")
    if app_client is not None:
        for ext in ("", ".xlsx"):
            url = f"/api/v1/halls/{hall.code}/reports{ext}?from={start}&to={end}&by=day"
            first, med, worst, r = timed(lambda: app_client.get(url, headers=manager), runs)
            assert r.status_code == 200, r.get_data(as_text=True)
            results.append({"what": f"GET …/reports{ext} (API, month by day)", "rollups": (first, med, worst)})
            print(f"  GET {url}: first {first:.1f} median {med:.1f} max {worst:.1f} ms")
        url = f"/api/v1/city/reports?from={start}&to={end}&by=hall"
        first, med, worst, r = timed(lambda: app_client.get(url, headers=manager), runs)
        assert r.status_code == 200 and len(r.get_json()["rows"]) == len(halls), r.get_data(as_text=True)
        results.append({"what": "GET /api/v1/city/reports (API, the city's month by hall)",
                        "rollups": (first, med, worst)})
        print(f"  GET {url}: first {first:.1f} median {med:.1f} max {worst:.1f} ms")
    return results
