"""好差评 figures on a small hand-made day, the window ranking, and the provincial export."""
from __future__ import annotations

import datetime as dt

import pytest

from factories import act, make_ticket, open_window
from hall import evaluation, evaluation_stats, ratings_export, rectification as rect
from hall.models import Rating, Service

import sqlalchemy as sa


def served(rt, hall, window, queue, **ticket):
    t = make_ticket(rt, hall, queue, **ticket)
    act(rt, hall, "call_next", window)
    act(rt, hall, "finish", window)
    return t


def rate(rt, hall, ticket, level, channel="pad"):
    with rt.db.write() as session:
        evaluation.rate_service(session, hall, ticket.id, level, "test", rt.clock.now(),
                                ["attitude"] if level <= 2 else (), None, channel)


def close_case(rt, hall, ticket, through="close"):
    with rt.db.write() as session:
        case = session.scalars(sa.select(rect.RectificationCase).where(
            rect.RectificationCase.ticket_id == ticket.id)).one()
        now = rt.clock.now()
        rect.verify(session, hall, case.id, "boss", now)
        rect.rectify(session, hall, case.id, "boss", now, note="整改")
        rect.call_back(session, hall, case.id, "boss", now, visitor_view="satisfied")
        if through == "close":
            rect.close(session, hall, case.id, "boss", now)


@pytest.fixture
def day(rt, hall, frozen_clock):
    """Mon 30 Nov: window 1 (王芳, queue A) rates 5, 1 (case closed), none, plus a no-show;
    window 2 (李强, queue B of 税务局) rates 3 (mobile), 2 (case called back), one default.
    Tue 1 Dec: window 1 rates 5."""
    open_window(rt, hall, 1, "clerk01")
    open_window(rt, hall, 2, "clerk02")
    t1 = served(rt, hall, 1, "A", matters=["M1"], id_number="11010519491231002X")
    rate(rt, hall, t1, 5)
    t2 = served(rt, hall, 1, "A")
    rate(rt, hall, t2, 1)
    close_case(rt, hall, t2)
    served(rt, hall, 1, "A")
    make_ticket(rt, hall, "A")
    act(rt, hall, "call_next", 1)
    act(rt, hall, "no_show", 1)
    t4 = served(rt, hall, 2, "B")
    rate(rt, hall, t4, 3, channel="mobile")
    t5 = served(rt, hall, 2, "B")
    rate(rt, hall, t5, 2)
    close_case(rt, hall, t5, through="call-back")
    t6 = served(rt, hall, 2, "B")
    with rt.db.write() as session:  # as the default job would (tested in test_rectification)
        service = session.scalars(sa.select(Service).where(Service.ticket_id == t6.id)).one()
        session.add(Rating(hall_id=hall.id, service_id=service.id, ticket_id=t6.id,
                           business_day=service.business_day, level=3, reasons=[],
                           channel="default", at=rt.clock.now(), defaulted=True))
    frozen_clock.advance(86400)
    rate(rt, hall, served(rt, hall, 1, "A"), 5)
    return {"t1": t1}


MONDAY, TUESDAY = dt.date(2026, 11, 30), dt.date(2026, 12, 1)


def test_figures_of_the_day(rt, hall, day):
    with rt.db.read() as session:
        result = evaluation_stats.figures(session, hall, MONDAY, MONDAY, "window")
    total = result["total"]
    assert (total["services"], total["ratings"], total["defaulted"], total["good"], total["bad"],
            total["cases_closed"], total["called_back"]) == (6, 4, 1, 1, 2, 1, 2)
    assert (total["evaluation_rate"], total["good_rate"], total["rectify_rate"],
            total["callback_rate"]) == (0.6667, 0.25, 0.5, 1.0)
    w1, w2 = result["groups"]
    assert (w1["key"], w1["name"], w1["services"], w1["ratings"]) == (1, "1号窗口", 3, 2)
    assert (w1["good_rate"], w1["rectify_rate"], w1["callback_rate"]) == (0.5, 1.0, 1.0)
    assert (w2["key"], w2["services"], w2["ratings"], w2["defaulted"]) == (2, 3, 2, 1)
    assert (w2["good_rate"], w2["rectify_rate"], w2["callback_rate"]) == (0.0, 0.0, 1.0)


def test_defaults_never_count_as_active(rt, hall, day):
    with rt.db.read() as session:
        w2 = evaluation_stats.figures(session, hall, MONDAY, MONDAY, "window")["groups"][1]
    assert w2["evaluation_rate"] == round(2 / 3, 4)  # the default of the third service is not counted


@pytest.mark.parametrize("by, keys", [
    ("day", ["2026-11-30", "2026-12-01"]), ("month", ["2026-11", "2026-12"]),
    ("department", ["SW", None]), ("clerk", ["clerk01", "clerk02"]), ("window", [1, 2]),
])
def test_groupings(rt, hall, day, by, keys):
    with rt.db.read() as session:
        result = evaluation_stats.figures(session, hall, MONDAY, TUESDAY, by)
    assert [g["key"] for g in result["groups"]] == keys
    assert sum(g["services"] for g in result["groups"]) == result["total"]["services"] == 7
    if by == "clerk":
        assert result["groups"][0]["name"] == "王芳"
    if by == "department":
        assert result["groups"][0]["name"] == "税务局"


def test_monthly_ranking_of_windows(rt, hall, day):
    with rt.db.read() as session:
        november = evaluation_stats.window_ranking(session, hall, MONDAY)
        december = evaluation_stats.window_ranking(session, hall, TUESDAY)
    assert november["month"] == "2026-11"
    assert [(w["key"], w["rank"]) for w in november["windows"]] == [(1, 1), (2, 2)]
    assert [(w["key"], w["good_rate"]) for w in december["windows"]] == [(1, 1.0)]


def test_export_fields_and_masking(rt, hall, day):
    with rt.db.read() as session:
        records = ratings_export.export_ratings(session, hall, MONDAY, MONDAY)
    assert len(records) == 5  # 4 given + 1 default
    first = records[0]
    service_id = int(first["case_no"][-8:])
    assert first["case_no"] == f"T120261130{service_id:08d}"
    assert (first["matter_code"], first["matter_name"], first["department_code"],
            first["department_name"]) == ("M1", "社保卡补办", "RS", "人社局")
    assert (first["channel_name"], first["level"], first["level_name"]) == ("评价器", 5, "非常满意")
    assert (first["window"], first["staff_login"], first["staff_name"]) == (1, "clerk01", "王芳")
    assert first["applicant_id"] == "110***********002X"
    assert first["rated_at"].startswith("2026-11-30T09:") and first["rated_at"].endswith("+08:00")
    channels = {r["channel"]: r["channel_name"] for r in records}
    assert channels == {"pad": "评价器", "mobile": "二维码", "default": "默认评价"}
    bad = next(r for r in records if r["level"] == 1)
    assert bad["reasons"] == ["服务态度"] and bad["matter_code"] == "A" and bad["applicant_id"] is None
    text = ratings_export.csv_text(ratings_export.FIELDS, records)
    assert text.startswith("\ufeff评价编号,事项编码,事项名称,部门编码,部门名称")
    assert "11010519491231002X" not in text and "110***********002X" in text


def test_evaluation_and_export_over_http(client, token, frozen_clock):
    kiosk, clerk, pad, manager = (token("kiosk"), token("clerk", window=1), token("pad", window=1),
                                  token("manager"))
    client.post("/api/v1/halls/T1/windows/1/sign-in", json={"login": "clerk01"}, headers=clerk)
    for level in (5, 4, 2):
        tid = client.post("/api/v1/halls/T1/tickets", json={"queue": "A"},
                          headers=kiosk).get_json()["id"]
        client.post("/api/v1/halls/T1/windows/1/call", headers=clerk)
        client.post("/api/v1/halls/T1/windows/1/finish", headers=clerk)
        client.post(f"/api/v1/tickets/{tid}/rating", json={"level": level, "reasons": ["other"]
                                                            if level < 3 else []}, headers=pad)
    r = client.get("/api/v1/halls/T1/evaluation?by=clerk", headers=manager)
    body = r.get_json()
    assert r.status_code == 200 and body["from"] == "2026-11-01" and body["to"] == "2026-11-30"
    assert (body["total"]["evaluation_rate"], body["total"]["good_rate"]) == (1.0, 0.6667)
    assert body["groups"][0]["key"] == "clerk01" and body["total"]["rectify_rate"] == 0.0
    assert client.get("/api/v1/halls/T1/evaluation?by=year", headers=manager).status_code == 422
    assert client.get("/api/v1/halls/T1/evaluation?from=x", headers=manager).status_code == 422
    r = client.get("/api/v1/halls/T1/evaluation/ranking?month=2026-11", headers=manager)
    assert r.get_json()["windows"][0]["rank"] == 1
    r = client.get("/api/v1/halls/T1/ratings/export?from=2026-11-30&to=2026-11-30", headers=manager)
    assert [x["level"] for x in r.get_json()["ratings"]] == [5, 4, 2]
    r = client.get("/api/v1/halls/T1/ratings/export?format=csv", headers=manager)
    assert r.mimetype == "text/csv" and r.data.startswith("\ufeff评价编号".encode())
    assert len(r.data.decode("utf-8").strip().splitlines()) == 4
    assert client.get("/api/v1/halls/T1/ratings/export?format=xml",
                      headers=manager).status_code == 422
    assert client.get("/api/v1/halls/T1/evaluation", headers=clerk).status_code == 403
