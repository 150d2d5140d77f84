"""Period reports and attendance: each figure per grouping on a hand-made day and month, exports, the API."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from factories import act, make_ticket, open_window
from hall import attendance, report_export, reports, stats
from support import MONDAY_9

CST = MONDAY_9.tzinfo
MON = MONDAY_9.date()
TUE = MON + dt.timedelta(days=1)


def at(day: dt.date, hhmm: str) -> dt.datetime:
    h, m = map(int, hhmm.split(":"))
    return dt.datetime(day.year, day.month, day.day, h, m, tzinfo=CST)


def build(rt, hall) -> None:
    """Monday: windows 1 (clerk01) and 3 (clerk02); A001 done, A002 no-show, B001 done after a
    recall, A003 called after closing (17:30). Window 1 pauses 30 min (meeting) and 15 min (break).
    Tuesday: C001 at window 3, transferred to B, finished at window 2 (nobody signed in)."""
    def step(day, hhmm, verb, number, *args):
        rt.clock.set(at(day, hhmm))
        return act(rt, hall, verb, number, *args)

    rt.clock.set(at(MON, "08:30"))
    open_window(rt, hall, 1, "clerk01")
    open_window(rt, hall, 3, "clerk02")
    for prefix, hhmm in (("A", "09:00"), ("A", "09:05"), ("B", "09:10")):
        rt.clock.set(at(MON, hhmm))
        make_ticket(rt, hall, prefix)
    assert step(MON, "09:10", "call_next", 1).number == "A001"   # waited 600 s
    step(MON, "09:20", "finish", 1)                               # served 600 s
    assert step(MON, "09:20", "call_next", 1).number == "A002"   # waited 900 s (on target)
    step(MON, "09:25", "no_show", 1)
    assert step(MON, "09:30", "call_next", 1).number == "B001"   # waited 1200 s
    step(MON, "09:40", "recall", 1)
    step(MON, "09:50", "finish", 1)                               # 600 s from the recall
    step(MON, "10:00", "pause", 1, "meeting")
    step(MON, "10:30", "resume", 1)
    step(MON, "11:00", "pause", 1, "break")
    step(MON, "11:15", "resume", 1)
    step(MON, "12:00", "sign_out", 1)
    rt.clock.set(at(MON, "17:00"))
    make_ticket(rt, hall, "A")
    assert step(MON, "17:40", "call_next", 3).number == "A003"   # waited 2400 s, after closing
    step(MON, "17:50", "finish", 3)
    step(MON, "18:00", "sign_out", 3)
    rt.clock.set(at(TUE, "08:55"))
    open_window(rt, hall, 3, "clerk02")
    rt.clock.set(at(TUE, "09:00"))
    make_ticket(rt, hall, "C")
    assert step(TUE, "09:05", "call_next", 3).number == "C001"   # waited 300 s
    step(TUE, "09:15", "transfer", 3, "B")                        # a transferred service, 600 s
    assert step(TUE, "09:20", "call_next", 2).number == "C001"   # waited 300 s since the transfer
    step(TUE, "09:30", "finish", 2)
    step(TUE, "10:00", "sign_out", 3)
    rt.clock.set(at(TUE, "12:00"))


@pytest.fixture
def month(rt, hall):
    build(rt, hall)
    return rt


def run(rt, hall, by, start=MON, end=TUE):
    with rt.db.read() as session:
        return reports.report(session, hall, start, end, by, now=rt.clock.now())


def rows(data):
    return {r["key"]: r for r in data["rows"]}


def test_a_one_day_report_equals_day_stats(month, hall):
    for day in (MON, TUE):
        with month.db.read() as session:
            kpis = stats.day_stats(session, hall, day)
        (row,) = run(month, hall, "day", day, day)["rows"]
        for key in ("issued", "served", "no_show", "services", "avg_wait_s", "max_wait_s",
                    "avg_service_s", "service_level"):
            assert row[key] == kpis[key], (day, key)


def test_figures_by_day_and_the_totals_row(month, hall):
    data = run(month, hall, "day")
    mon, tue = rows(data)["2026-11-30"], rows(data)["2026-12-01"]
    assert (mon["issued"], mon["served"], mon["no_show"], mon["services"]) == (4, 3, 1, 3)
    assert mon["no_show_rate"] == 0.25
    assert (mon["avg_wait_s"], mon["max_wait_s"], mon["avg_service_s"]) == (1275.0, 2400.0, 600.0)
    assert mon["service_level"] == 0.5 and mon["extended_services"] == 1
    assert mon["utilisation"] is None
    assert (tue["issued"], tue["served"], tue["services"], tue["avg_wait_s"]) == (1, 1, 2, 300.0)
    assert tue["extended_services"] == 0
    total = data["total"]
    assert (total["issued"], total["served"], total["no_show"], total["services"]) == (5, 4, 1, 5)
    assert (total["avg_wait_s"], total["max_wait_s"], total["service_level"]) == (950.0, 2400.0, 0.6667)
    assert total["days_with_tickets"] == 2 and total["daily_avg_issued"] == 2.5
    assert total["extended_services"] == 1


def test_figures_by_month_hour_queue_and_department(month, hall):
    nov, dec = run(month, hall, "month")["rows"]
    assert (nov["key"], nov["issued"], nov["services"], nov["avg_wait_s"]) == ("2026-11", 4, 3, 1275.0)
    assert (dec["key"], dec["issued"], dec["served"], dec["services"]) == ("2026-12", 1, 1, 2)
    hours = rows(run(month, hall, "hour", MON, MON))
    assert (hours["09:00"]["issued"], hours["09:00"]["services"], hours["09:00"]["no_show"]) == (3, 2, 1)
    assert (hours["17:00"]["issued"], hours["17:00"]["services"], hours["17:00"]["extended_services"]) \
        == (1, 1, 1)
    queues = rows(run(month, hall, "queue"))
    # Tickets count in their first queue; services (and waits) in the queue of each step.
    assert (queues["A"]["issued"], queues["A"]["served"], queues["A"]["no_show"]) == (3, 2, 1)
    assert (queues["A"]["services"], queues["A"]["max_wait_s"], queues["A"]["name"]) == (2, 2400.0, "综合受理")
    assert (queues["B"]["issued"], queues["B"]["services"], queues["B"]["avg_wait_s"]) == (1, 2, 750.0)
    assert (queues["C"]["issued"], queues["C"]["served"], queues["C"]["services"]) == (1, 1, 1)
    departments = rows(run(month, hall, "department"))
    assert departments["SW"]["name"] == "税务局"
    assert (departments["SW"]["issued"], departments["SW"]["services"]) == (1, 2)
    assert departments[None]["issued"] == 4


def test_figures_and_utilisation_by_window_and_clerk(month, hall):
    windows = rows(run(month, hall, "window", MON, MON))
    w1, w3 = windows[1], windows[3]
    assert w1["issued"] is None and w1["no_show_rate"] is None
    assert (w1["served"], w1["no_show"], w1["services"]) == (2, 1, 2)
    # open 08:30–10:00, 10:30–11:00, 11:15–12:00 = 9900 s; at the window 600 + 300 + 1200 s
    assert w1["utilisation"] == round(2100 / 9900, 4)
    assert w3["utilisation"] == round(600 / (9.5 * 3600), 4) and w3["extended_services"] == 1
    data = run(month, hall, "window")
    assert data["total"]["utilisation"] is not None
    w = rows(data)
    assert (w[2]["served"], w[2]["services"], w[3]["served"], w[3]["services"]) == (1, 1, 1, 2)
    # Tuesday window 3: open 08:55–10:00, busy 09:05–09:15; window 2 called without signing in
    assert w[3]["utilisation"] == round((600 + 600) / (9.5 * 3600 + 65 * 60), 4)
    clerks = rows(run(month, hall, "clerk"))
    assert clerks["clerk01"]["name"] == "王芳" and clerks["clerk01"]["services"] == 2
    assert clerks["clerk02"]["services"] == 2 and clerks[None]["served"] == 1
    assert clerks["clerk01"]["utilisation"] is None


def test_a_window_still_open_counts_up_to_now(rt, hall):
    rt.clock.set(at(MON, "09:00"))
    open_window(rt, hall, 1, "clerk01")
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    rt.clock.set(at(MON, "09:30"))
    act(rt, hall, "finish", 1)
    rt.clock.set(at(MON, "10:00"))
    (w1,) = run(rt, hall, "window", MON, MON)["rows"]
    assert w1["utilisation"] == 0.5


def test_attendance_sign_in_out_and_pause_by_reason(month, hall):
    with month.db.read() as session:
        data = attendance.attendance(session, hall, MON, TUE, now=month.clock.now())
    clerks = {c["login"]: c for c in data["clerks"]}
    (day,) = clerks["clerk01"]["days"]
    assert day["date"] == "2026-11-30" and day["windows"] == [1]
    assert day["sign_in"] == "2026-11-30T08:30:00+08:00" and day["sign_out"] == "2026-11-30T12:00:00+08:00"
    assert day["pause_s"] == {"break": 900.0, "meeting": 1800.0} and day["pause_total_s"] == 2700.0
    assert day["open_s"] == 9900.0
    mon, tue = clerks["clerk02"]["days"]
    assert (mon["sign_out"], tue["sign_in"], tue["open_s"]) == ("2026-11-30T18:00:00+08:00",
                                                                 "2026-12-01T08:55:00+08:00", 3900.0)
    assert clerks["clerk02"]["pause_s"] == {}


def test_tables_have_chinese_headers_totals_and_daily_average(month, hall):
    headers, table = report_export.report_table(run(month, hall, "day"))
    assert headers[:3] == ["日期", "取号数", "办结数"] and "延时服务人次" in headers
    assert table[-2][0] == "合计" and table[-2][1] == 5 and table[-1] == ["日均接待", 2.5] + [None] * 10
    text = report_export.to_csv(headers, table)
    assert text.startswith("\ufeff".encode("utf-8"))


# -- the API -------------------------------------------------------------------------------------

URL = "/api/v1/halls/T1"


@pytest.fixture
def filled(app):
    rt = app.extensions["hall"]
    build(rt, rt.halls["T1"])
    return rt


def test_the_report_api_xlsx_and_csv_agree(filled, client, token):
    boss = token("manager")
    r = client.get(f"{URL}/reports?from=2026-11-30&to=2026-12-01&by=day", headers=boss)
    assert r.status_code == 200
    data = r.get_json()
    assert data["total"]["issued"] == 5 and [row["key"] for row in data["rows"]] == ["2026-11-30", "2026-12-01"]
    r = client.get(f"{URL}/reports.xlsx?from=2026-11-30&to=2026-12-01&by=day", headers=boss)
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(r.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0][:12]) == ["日期", "取号数", "办结数", "过号数", "过号率", "服务人次", "平均等候(秒)",
                                    "最长等候(秒)", "平均办理(秒)", "服务达标率", "窗口利用率", "延时服务人次"]
    headers = values[0]
    first = dict(zip(headers, values[1]))
    mon = data["rows"][0]
    assert first["日期"] == "2026-11-30" and first["取号数"] == mon["issued"] == 4
    assert first["平均等候(秒)"] == mon["avg_wait_s"] and first["服务达标率"] == mon["service_level"]
    assert values[3][0] == "合计" and values[3][1] == 5 and values[4][:2] == ("日均接待", 2.5)
    r = client.get(f"{URL}/reports.csv?from=2026-11-30&to=2026-12-01&by=window", headers=boss)
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert table[0][:3] == ["窗口", "窗口名称", "取号数"] and "窗口利用率" in table[0]
    r = client.get(f"{URL}/attendance?from=2026-11-30&to=2026-11-30", headers=boss)
    assert {c["login"] for c in r.get_json()["clerks"]} == {"clerk01", "clerk02"}
    r = client.get(f"{URL}/attendance.csv?from=2026-11-30&to=2026-11-30", headers=boss)
    assert r.data.startswith(b"\xef\xbb\xbf") and "签到时间" in r.data.decode("utf-8-sig")
    assert "meeting:1800" in r.data.decode("utf-8-sig")


@pytest.mark.parametrize("path", ["reports", "reports.xlsx", "reports.csv", "attendance",
                                  "attendance.csv"])
def test_only_managers_and_admins_get_reports(client, token, path):
    assert client.get(f"{URL}/{path}").status_code == 401
    for role, window in (("clerk", 1), ("kiosk", None), ("screen", None), ("pad", 1)):
        assert client.get(f"{URL}/{path}", headers=token(role, window)).status_code == 403, role
    assert client.get(f"{URL}/{path}", headers=token("manager")).status_code == 200
    assert client.get(f"{URL}/{path}", headers=token("admin", hall=None)).status_code == 200


@pytest.mark.parametrize("query, field", [
    ("from=2026-13-01", "from"), ("to=yesterday", "to"), ("from=2026-12-02&to=2026-12-01", "from"),
    ("from=2025-01-01&to=2026-12-01", "to"), ("by=week", "by"), ("from=20261101", "from")])
def test_bad_parameters_are_422(client, token, query, field):
    for path in ("reports", "reports.xlsx", "reports.csv"):
        r = client.get(f"{URL}/{path}?{query}", headers=token("manager"))
        assert r.status_code == 422, (path, query)
        assert r.get_json()["error"]["field"] == field
    if field != "by":
        assert client.get(f"{URL}/attendance?{query}", headers=token("manager")).status_code == 422


def test_a_whole_year_is_allowed(client, token):
    r = client.get(f"{URL}/reports?from=2025-12-01&to=2026-11-30&by=month", headers=token("manager"))
    assert r.status_code == 200


def _login(app, client, name):
    from hall import staff
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        staff.set_password(session, rt.halls["T1"], name, "secret-pass-1")
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/login", data={"hall": "T1", "login": name, "password": "secret-pass-1",
                                       "csrf_token": csrf}).status_code == 302


def test_the_reports_page(app, client):
    r = client.get("/manage/T1/reports")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "统计报表" in html and "echarts.min.js" in html
    assert "js/reports.js" in html and "延时服务人次" in html
    english = client.get("/manage/T1/reports?lang=en").get_data(as_text=True)
    assert "Reports" in english and "Extended-hours services" in english
    _login(app, client, "clerk01")
    assert client.get("/manage/T1/reports").status_code == 403
    _login(app, client, "boss")
    assert client.get("/manage/T1/reports").status_code == 200
    assert client.get(f"{URL}/reports").status_code == 200  # the page's session works on the API
