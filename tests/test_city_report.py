"""The report of many halls together (GET /api/v1/city/reports): each hall's row is that hall's own
report, the total adds them up, kept and raw days give the same figures, and a token reads only
its tree of halls."""
from __future__ import annotations

import csv
import datetime as dt
import io
import shutil

import pytest

from factories import make_ticket
from hall import daily, reports, tokens
from hall.app import create_app
from support import MONDAY_9, FrozenClock
from test_city_view import _tree
from test_reports import MON, TUE, at, build

WED = TUE + dt.timedelta(days=1)
FIGURES = ("issued", "served", "no_show", "no_show_rate", "services", "avg_wait_s", "max_wait_s",
           "avg_service_s", "service_level", "extended_services")


def fill_city(rt) -> None:
    """The tickets of the city HB → XS → JD (and OT): XS and JD each test_reports' hand-made Monday
    and Tuesday, HB one ticket on Tuesday 11:00 never called, OT two on Monday 10:00."""
    build(rt, rt.halls["XS"])
    build(rt, rt.halls["JD"])
    rt.clock.set(at(TUE, "11:00"))
    make_ticket(rt, rt.halls["HB"], "B")
    rt.clock.set(at(MON, "10:00"))
    make_ticket(rt, rt.halls["OT"], "A")
    make_ticket(rt, rt.halls["OT"], "A")


@pytest.fixture
def city(tmp_path, migrated_template):
    """XS and JD with test_reports' hand-made Monday and Tuesday, HB with one Tuesday ticket still
    waiting, OT (outside HB's tree) with two Monday tickets; at Wednesday 01:00 XS's two days are
    closed by the end-of-day job, JD's and the others' are not."""
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(_tree(tmp_path), clock=FrozenClock(MONDAY_9), base_url="http://hall.test")
    rt = app.extensions["hall"]
    fill_city(rt)
    rt.clock.set(at(WED, "01:00"))
    for day in (MON, TUE):
        with rt.db.write() as session:
            daily.close_day(session, rt.halls["XS"], day, rt.clock.now())

    def token(role, hall=None):
        with rt.db.write() as session:
            value = tokens.create_token(session, rt.halls[hall] if hall else None, role, rt.clock.now())
        return {"Authorization": f"Bearer {value}"}

    yield app, rt, token
    rt.close()


def _hall_total(rt, code, start=MON, end=TUE):
    with rt.db.read() as session:
        return reports.report(session, rt.halls[code], start, end, "day", now=rt.clock.now())["total"]


def test_each_halls_row_is_its_own_report_and_the_total_adds_them_up(city):
    app, rt, token = city
    r = app.test_client().get(f"/api/v1/city/reports?from={MON}&to={TUE}", headers=token("city", "HB"))
    assert r.status_code == 200, r.json
    data = r.json
    assert data["hall"] == "HB" and data["by"] == "hall" and data["halls"] == ["HB", "JD", "XS"]
    rows = {row["key"]: row for row in data["rows"]}
    assert list(rows) == ["HB", "JD", "XS"]
    assert (rows["XS"]["level"], rows["XS"]["parent"]) == ("district", "HB")
    for code in rows:
        own = _hall_total(rt, code)
        assert {k: rows[code][k] for k in FIGURES} == {k: own[k] for k in FIGURES}, code
    # what the hand-made days give, twice, plus HB's waiting ticket
    assert rows["XS"]["issued"] == 5 and rows["XS"]["served"] == 4 and rows["XS"]["no_show"] == 1
    assert rows["HB"]["issued"] == 1 and rows["HB"]["served"] == 0 and rows["HB"]["avg_wait_s"] is None
    total = data["total"]
    assert total["issued"] == 11 and total["served"] == 8 and total["no_show"] == 2
    assert total["services"] == sum(row["services"] for row in rows.values())
    assert total["avg_wait_s"] == rows["XS"]["avg_wait_s"] == rows["JD"]["avg_wait_s"]  # equal halls
    assert total["max_wait_s"] == 2400.0
    assert total["days_with_tickets"] == 2 and total["daily_avg_issued"] == 5.5


@pytest.mark.parametrize("by", reports.CITY_GROUPINGS)
def test_kept_days_and_raw_tickets_give_the_same_city_report(city, by):
    app, rt, _ = city
    halls = list(rt.halls.values())
    with rt.db.read() as session:
        kept = reports.city_report(session, halls, MON, WED, by, now=rt.clock.now())
        raw = reports.city_report(session, halls, MON, WED, by, now=rt.clock.now(), use_rollups=False)
    assert kept == raw
    assert kept["total"]["issued"] == 13


def test_by_day_and_by_month_add_the_halls_of_each_day(city):
    app, rt, token = city
    client, head = app.test_client(), token("city")
    by_day = client.get(f"/api/v1/city/reports?from={MON}&to={WED}&by=day", headers=head).json
    assert by_day["halls"] == ["HB", "JD", "OT", "XS"]
    assert [(row["key"], row["issued"]) for row in by_day["rows"]] == [
        (MON.isoformat(), 4 + 4 + 2), (TUE.isoformat(), 1 + 1 + 1)]  # Wednesday: nothing yet
    by_month = client.get(f"/api/v1/city/reports?from={MON}&to={WED}&by=month", headers=head).json
    months = {row["key"]: row["issued"] for row in by_month["rows"]}
    assert months == {"2026-11": 10, "2026-12": 3}
    assert by_month["total"] == by_day["total"]


def test_a_token_reads_only_its_tree(city):
    app, rt, token = city
    client = app.test_client()
    head = token("city", "HB")
    assert client.get("/api/v1/city/reports?under=XS", headers=head).json["halls"] == ["JD", "XS"]
    r = client.get("/api/v1/city/reports?under=OT", headers=head)
    assert r.status_code == 403 and r.json["error"]["field"] == "under"
    assert client.get("/api/v1/city/reports", headers=token("manager", "XS")).status_code == 403
    assert client.get("/api/v1/city/reports").status_code == 401
    r = client.get("/api/v1/city/reports?by=window", headers=head)
    assert r.status_code == 422 and r.json["error"]["field"] == "by"
    r = client.get("/api/v1/city/reports?from=2026-12-01&to=2026-11-30", headers=head)
    assert r.status_code == 422 and r.json["error"]["field"] == "from"
    assert client.get("/api/v1/city/reports?under=ZZ", headers=head).status_code == 404


def test_the_city_report_exports_with_chinese_headers(city):
    app, rt, token = city
    client, head = app.test_client(), token("admin")
    r = client.get(f"/api/v1/city/reports.csv?from={MON}&to={TUE}", headers=head)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "report-city-" in r.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert table[0][:3] == ["大厅编码", "大厅名称", "取号数"]
    assert [row[0] for row in table[1:]] == ["HB", "JD", "OT", "XS", "合计", "日均接待"]
    assert table[-2][2] == "13"
    r = client.get(f"/api/v1/city/reports.xlsx?from={MON}&to={TUE}&by=day", headers=head)
    assert r.status_code == 200 and r.data[:2] == b"PK"
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert sheet["A1"].value == "日期" and sheet["B2"].value == 10
