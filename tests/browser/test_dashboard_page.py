"""The manager's live dashboard in a real browser: waiting counts that move on an issue, an ECharts chart."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
T = 10_000


def test_dashboard_updates_live_on_an_issue(hall_server, browser, shot):
    url, tok = hall_server.url, hall_server.tokens
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{url}/manage/T1?token={tok['manager']}")
    assert "token=" not in page.url
    row = page.locator('#queues tr[data-queue="A"] td.num').first
    expect(row).to_have_text("0", timeout=T)
    expect(page.locator("#chart canvas")).to_have_count(1, timeout=T)
    expect(page.locator("#alerts li")).to_have_text("当前没有预警")

    for _ in range(2):
        issued = page.request.post(f"{url}/api/v1/halls/T1/tickets", data={"queue": "A"},
                                   headers={"Authorization": f"Bearer {tok['kiosk']}"})
        assert issued.status == 201
    expect(row).to_have_text("2", timeout=T)
    expect(page.locator("#k-waiting")).to_contain_text("2", timeout=T)
    expect(page.locator("#k-issued")).to_have_text("2", timeout=T)
    called = page.request.post(f"{url}/api/v1/halls/T1/windows/1/call",
                               headers={"Authorization": f"Bearer {tok['manager']}"})
    assert called.status == 200
    expect(page.locator('#windows [data-window="1"]')).to_have_class("dw ws-serving", timeout=T)
    expect(row).to_have_text("1", timeout=T)
    assert page.evaluate("document.querySelector('#chart canvas').width") > 0
    shot(page, "dashboard")
