"""The tablet evaluation pad: after a service at its window it asks 满意吗; a bad rating asks for
reasons; the rating is stored once, with channel pad, and the pad goes back to idle."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from hall import tickets, tokens, windows
from hall.models import Rating

pytestmark = pytest.mark.browser
T = 15_000


def _serve(rt, hall, number: int) -> str:
    with rt.db.write() as session:
        ticket = tickets.issue_ticket(session, hall, tickets.IssueRequest(queue="B"), "test",
                                      rt.clock.now()).view["number"]
    with rt.db.write() as session:
        windows.call_next(session, hall, number, "test", rt.clock.now())
    with rt.db.write() as session:
        windows.finish(session, hall, number, "test", rt.clock.now())
    return ticket


def test_pad_asks_after_finish_and_stores_one_rating(hall_server, browser, shot):
    rt = hall_server.app.extensions["hall"]
    hall = rt.halls["T1"]
    with rt.db.write() as session:
        pad = tokens.create_token(session, hall, "pad", rt.clock.now(), window=2)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{hall_server.url}/pad/T1/2?token={pad}")
    root = page.locator(".pad")
    expect(root).to_have_attribute("data-view", "idle", timeout=T)
    page.wait_for_timeout(500)  # the live connection is up (snapshot) before the service ends

    first = _serve(rt, hall, 2)
    expect(root).to_have_attribute("data-view", "ask", timeout=T)
    expect(page.locator("#p-ticket")).to_have_text(first)
    shot(page, "pad-ask")
    page.click("button.level.l2")  # 不满意: reasons first
    expect(page.locator("#p-reasons")).to_be_visible()
    page.click("#p-reasons button[type=submit]")
    expect(page.locator("#status")).to_be_visible()  # no reason chosen: said, nothing sent
    page.check("#p-reasons input[value=efficiency]")
    page.click("#p-reasons button[type=submit]")
    expect(root).to_have_attribute("data-view", "thanks", timeout=T)
    with rt.db.read() as session:
        rows = session.execute(sa.select(Rating.level, Rating.reasons, Rating.channel)).all()
    assert [(r.level, r.reasons, r.channel) for r in rows] == [(2, ["efficiency"], "pad")]
    expect(root).to_have_attribute("data-view", "idle", timeout=T)
