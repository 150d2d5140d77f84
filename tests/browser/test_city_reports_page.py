"""The city's reports page (/city/reports) in a real browser: the hall reports page over
GET /api/v1/city/reports — a row per hall with the API's figures and the total, by day, a CSV
download; and who may open it."""
from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from hall import staff, tokens
from hall.app import create_app
from support import MONDAY_9, FrozenClock, hall_dict, settings_for
from test_city_report import fill_city
from test_reports import MON, TUE, at

T = 10_000
HALLS = [hall_dict("HB", name="滨海市政务服务中心", level="city"),
         hall_dict("XS", name="西山区政务服务中心", level="district", parent="HB"),
         hall_dict("JD", name="东街街道便民服务中心", level="street", parent="XS"),
         hall_dict("OT", name="南湖区政务服务中心", level="district")]


def _city_app(tmp_path, migrated_template, base_url="http://hall.test"):
    """HB → XS → JD and OT: XS and JD with test_reports' Monday and Tuesday, HB one Tuesday ticket,
    OT two Monday tickets; the clock stands on Tuesday evening."""
    shutil.copy(migrated_template, tmp_path / "hall.db")
    app = create_app(settings_for(tmp_path, HALLS), clock=FrozenClock(MONDAY_9), base_url=base_url)
    rt = app.extensions["hall"]
    fill_city(rt)
    rt.clock.set(at(TUE, "19:00"))
    return app, rt


def _cells(row):
    return [c.strip() for c in row.locator("td, th").all_inner_texts()]


@pytest.mark.browser
def test_the_city_reports_page_shows_the_api_figures(tmp_path, migrated_template, browser, shot):
    from tests.browser.conftest import Server, _free_port
    port = _free_port()
    app, rt = _city_app(tmp_path, migrated_template, base_url=f"http://127.0.0.1:{port}")
    with rt.db.write() as session:
        city = tokens.create_token(session, None, "city", rt.clock.now())
    server = Server(app, port)
    server.start()
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
        page.goto(f"{server.url}/city/reports?token={city}")
        assert "token=" not in page.url
        expect(page.locator("h1")).to_have_text("全市 · 统计报表")
        expect(page.locator("a.btn", has_text="实时监控")).to_have_attribute("href", "/city")
        assert page.locator('th[data-key="utilisation"]').count() == 0
        assert page.locator('[data-download="attendance.csv"]').count() == 0
        assert page.locator('select[name="by"] option').all_inner_texts() == ["按大厅", "按日", "按月"]
        headers = page.locator("th[data-key]").evaluate_all("ths => ths.map((th) => th.dataset.key)")
        issued_at = 1 + headers.index("issued")  # the first cell is the key

        page.fill('input[name="from"]', MON.isoformat())
        page.fill('input[name="to"]', TUE.isoformat())
        page.select_option('select[name="by"]', "hall")
        page.click("#filters button.primary")
        api = page.request.get(f"{server.url}/api/v1/city/reports?from={MON}&to={TUE}&by=hall",
                               headers={"Authorization": f"Bearer {city}"}).json()
        assert [r["key"] for r in api["rows"]] == ["HB", "JD", "OT", "XS"]
        rows = page.locator("#rows tr")
        expect(rows).to_have_count(4, timeout=T)
        expect(rows.first).to_contain_text("HB 滨海市政务服务中心", timeout=T)
        expect(page.locator("#key-title")).to_have_text("大厅")
        for i, r in enumerate(api["rows"]):
            cells = _cells(rows.nth(i))
            assert cells[0] == f"{r['key']} {r['name']}"
            assert cells[issued_at] == str(r["issued"]), cells
        assert [r["issued"] for r in api["rows"]] == [1, 5, 2, 5]
        total = _cells(page.locator("#totals tr").first)
        assert total[0] == "合计" and total[issued_at] == str(api["total"]["issued"]) == "13"
        expect(page.locator("#totals tr").nth(1)).to_have_text("日均接待 6.5")
        expect(page.locator("#chart canvas")).to_have_count(1, timeout=T)
        shot(page, "city-reports-by-hall")

        with page.expect_download(timeout=T) as info:
            page.click('[data-download="csv"]')
        download = info.value
        assert download.suggested_filename == f"report-city-{MON}-{TUE}-hall.csv"
        text = open(download.path(), encoding="utf-8-sig").read()
        header = text.splitlines()[0].split(",")
        assert header[:2] == ["大厅编码", "大厅名称"] and "窗口利用率" in header

        page.select_option('select[name="by"]', "day")
        page.click("#filters button.primary")
        expect(page.locator("#key-title")).to_have_text("日期", timeout=T)
        expect(rows).to_have_count(2, timeout=T)
        expect(rows.first.locator("td").first).to_have_text(MON.isoformat())
        by_day = page.request.get(f"{server.url}/api/v1/city/reports?from={MON}&to={TUE}&by=day",
                                  headers={"Authorization": f"Bearer {city}"}).json()
        assert [_cells(rows.nth(i))[issued_at] for i in range(2)] == \
            [str(r["issued"]) for r in by_day["rows"]] == ["10", "3"]
        total = _cells(page.locator("#totals tr").first)
        assert total[issued_at] == "13"
        shot(page, "city-reports-by-day")
    finally:
        server.stop()
        rt.close()


@pytest.mark.browser
def test_the_hall_reports_page_still_reads_its_hall(hall_server, browser):
    """The same template and script on /manage/<code>/reports: the hall's API, its manager token,
    every grouping, the utilisation column and the attendance download."""
    url, tok = hall_server.url, hall_server.tokens
    issued = browser.new_page().request.post(f"{url}/api/v1/halls/T1/tickets", data={"queue": "A"},
                                             headers={"Authorization": f"Bearer {tok['kiosk']}"})
    assert issued.status == 201
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)
    page.goto(f"{url}/manage/T1/reports?token={tok['manager']}")
    assert "token=" not in page.url
    expect(page.locator("h1")).to_have_text("测试政务服务中心 · 统计报表")
    expect(page.locator("a.btn", has_text="实时监控")).to_have_attribute("href", "/manage/T1")
    assert page.locator('th[data-key="utilisation"]').count() == 1
    assert page.locator('[data-download="attendance.csv"]').count() == 1
    assert page.locator('select[name="by"] option').count() == 7
    page.fill('input[name="from"]', "2026-11-30")
    page.fill('input[name="to"]', "2026-11-30")
    page.click("#filters button.primary")
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(1, timeout=T)
    expect(rows.first.locator("td").nth(1)).to_have_text("1", timeout=T)
    expect(page.locator("#key-title")).to_have_text("日期")
    assert any("/api/v1/halls/T1/reports?from=2026-11-30" in u for u in asked), asked


def _login(app, client, hall, name="boss"):
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        staff.set_password(session, rt.halls[hall], name, "secret-pass-1")
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/login", data={"hall": hall, "login": name, "password": "secret-pass-1",
                                       "csrf_token": csrf}).status_code == 302


def test_who_opens_the_city_reports_page(tmp_path, migrated_template):
    app, rt = _city_app(tmp_path, migrated_template)
    try:
        client = app.test_client()
        page = client.get("/city/reports")  # no session: the page's script uses a city token
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and 'data-base="/api/v1/city"' in html
        assert 'data-token-kind="city"' in html and "js/reports.js" in html
        assert 'data-key="utilisation"' not in html and "attendance.csv" not in html
        assert 'href="/city/reports"' in client.get("/city").get_data(as_text=True)
        english = client.get("/city/reports?lang=en").get_data(as_text=True)
        assert "All halls · Reports" in english and "By hall" in english
        assert "figures are those of its own report" in english
        hall_page = client.get("/manage/XS/reports").get_data(as_text=True)  # the hall's, as before
        assert 'data-base="/api/v1/halls/XS"' in hall_page and 'data-token-kind="manager"' in hall_page
        assert 'data-key="utilisation"' in hall_page and "attendance.csv" in hall_page

        _login(app, client, "XS")  # a district hall's manager: its own reports, not the city's
        assert client.get("/city/reports").status_code == 403
        assert client.get("/city").status_code == 403
        assert client.get("/manage/XS/reports").status_code == 200

        city_manager = app.test_client()
        _login(app, city_manager, "HB")  # a city-level hall's manager: the page on the session
        page = city_manager.get("/city/reports")
        assert page.status_code == 200 and 'data-session="1"' in page.get_data(as_text=True)
        data = city_manager.get(f"/api/v1/city/reports?from={MON}&to={TUE}").json
        assert data["halls"] == ["HB", "JD", "XS"]
    finally:
        rt.close()
