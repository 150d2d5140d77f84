"""The hall screen speaks each call, one announcement after the other (and says when the browser
wants a touch before it may play sound)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hall import tickets, windows

pytestmark = pytest.mark.browser
T = 15_000


def test_hall_screen_announces_a_call_after_a_touch(hall_server, browser):
    if not (hall_server.app.static_folder and __import__("pathlib").Path(
            hall_server.app.static_folder, "voice", "manifest.json").exists()):
        pytest.fail("the voice clips are missing: bin/setup makes them (tools/make_voice_clips.py)")
    url, tok = hall_server.url, hall_server.tokens
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{url}/screen/T1?token={tok['screen']}")
    screen = page.locator(".screen")
    expect(page.locator("#queues li").first).to_be_visible(timeout=T)
    rt = hall_server.app.extensions["hall"]
    hall = rt.halls["T1"]

    def call() -> str:
        with rt.db.write() as session:
            number = tickets.issue_ticket(session, hall, tickets.IssueRequest(queue="B"), "test",
                                          rt.clock.now()).view["number"]
        with rt.db.write() as session:
            windows.call_next(session, hall, 2, "test", rt.clock.now())
        return number

    first = call()
    hint = page.locator("#voice-hint")
    page.wait_for_timeout(1000)
    if hint.is_visible():  # audio blocked until a gesture: the screen says so, a touch unlocks it
        page.mouse.click(960, 540)
        expect(hint).to_be_hidden(timeout=T)
    expect(screen).to_have_attribute("data-voice-ticket", f"{first}@2", timeout=T)
    expect(screen).to_have_attribute("data-voice-state", "playing", timeout=T)
    # A second call while the first is being said waits its turn: never two voices at once.
    second = call()
    page.wait_for_timeout(500)
    assert screen.get_attribute("data-voice-ticket") == f"{first}@2"
    expect(screen).to_have_attribute("data-voice-ticket", f"{second}@2", timeout=30_000)
