"""bench/city_year.py at a tiny scale (2 halls, 10 opening days, SQLite): the generated days are
closed as production closes them, and every monthly report read from the kept rollups gives the same
figures as the report computed from the raw tickets."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from support import ROOT  # noqa: F401  (puts the project on sys.path)

import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))

import city_year  # noqa: E402
from hall import reports, rollups  # noqa: E402
from hall.models import Service, Ticket  # noqa: E402


def test_monthly_reports_from_the_rollups_equal_the_raw_tickets(tmp_path, monkeypatch):
    # From 2025-01-22: two months, the Spring Festival holidays and two 调休 working weekend days.
    rt, days, now, summary = city_year.build(
        "sqlite", f"sqlite:///{tmp_path}/city.db", halls=2, n_days=10, tickets=150, seed=3,
        workdir=tmp_path, first=dt.date(2025, 1, 22), progress=False)
    try:
        assert [d.isoformat() for d in days] == [
            "2025-01-22", "2025-01-23", "2025-01-24", "2025-01-26", "2025-01-27",
            "2025-02-05", "2025-02-06", "2025-02-07", "2025-02-08", "2025-02-10"]
        with rt.db.read() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == summary["load"]["tickets"]
            assert session.scalar(sa.select(sa.func.count()).select_from(Service)) == summary["load"]["services"]
            kept = dict(session.execute(
                sa.select(rollups.DayRollupPart.business_day, sa.func.sum(rollups.DayRollupPart.issued))
                .where(rollups.DayRollupPart.dim == "day").group_by(rollups.DayRollupPart.business_day)).all())
        # every day but the last was closed with its rollups, and the days without tickets since
        # the month before the first one were kept (empty) on the way
        assert {d for d, issued in kept.items() if issued} == set(days[:-1])
        assert min(kept) == days[0] - dt.timedelta(days=rollups.GAP_DAYS)
        assert max(kept) == days[-2] and len(kept) == (days[-2] - min(kept)).days + 1

        raw_reads: list[list[dt.date] | None] = []
        day_parts = reports.day_parts

        def counting(*args, **kwargs):
            raw_reads.append(kwargs.get("days"))
            return day_parts(*args, **kwargs)

        monkeypatch.setattr(reports, "day_parts", counting)
        months = city_year.months_of(days)
        assert [m[0].month for m in months] == [1, 2]
        for hall in rt.halls.values():
            for start, end in months:
                for by in reports.GROUPINGS:
                    raw_reads.clear()
                    kept = city_year.report_of(rt, hall, start, end, by, now)
                    # Only the days without rollups are read from the tickets: none in January; in
                    # February the days since the last closed one: Sunday and the last day (over,
                    # not closed yet). The days after it have no tickets yet.
                    assert raw_reads == ([] if start.month == 1 else [[days[-2] + dt.timedelta(days=1),
                                                                       days[-1]]]), (hall.code, by)
                    raw = city_year.report_of(rt, hall, start, end, by, now, use_rollups=False)
                    assert kept == raw, (hall.code, start, by)
                total = kept["total"]
                assert total["issued"] > 0 and 0 < total["served"] <= total["issued"]
                assert total["services"] >= total["served"] and total["service_level"] is not None
        # the days add up: the months' totals are the whole period's
        hall = rt.halls["HB"]
        whole = city_year.report_of(rt, hall, days[0], days[-1], "month", now)
        month_rows = [city_year.report_of(rt, hall, s, e, "day", now)["total"] for s, e in months]
        assert [r["issued"] for r in whole["rows"]] == [m["issued"] for m in month_rows]
        assert whole["total"]["issued"] == sum(m["issued"] for m in month_rows)
    finally:
        rt.close()
