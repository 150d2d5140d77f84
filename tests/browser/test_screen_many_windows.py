"""A hall screen of a big hall (52 windows, like the reference hall) shows every window, inside the
screen, without scrolling."""
from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from hall import tokens
from hall.app import create_app
from hall.clock import Clock
from support import MONDAY_9, hall_dict, settings_for

pytestmark = pytest.mark.browser


def test_fifty_two_windows_all_visible(tmp_path, migrated_template, browser, shot):
    from tests.browser.conftest import Server, _free_port
    shutil.copy(migrated_template, tmp_path / "hall.db")
    windows = [{"number": n, "queues": ["A"]} for n in range(1, 53)]
    port = _free_port()
    app = create_app(settings_for(tmp_path, [hall_dict(windows=windows, queues=[
        {"prefix": "A", "name": "综合受理"}], matters=[], bundles=[], staff=[])]),
        clock=Clock(MONDAY_9), base_url=f"http://127.0.0.1:{port}")
    rt = app.extensions["hall"]
    with rt.db.write() as session:
        screen = tokens.create_token(session, rt.halls["T1"], "screen", rt.clock.now())
    server = Server(app, port)
    server.start()
    try:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{server.url}/screen/T1?token={screen}")
        tiles = page.locator("#windows .win")
        expect(tiles).to_have_count(52, timeout=15_000)
        area = page.locator(".wins").bounding_box()
        last = tiles.nth(51).bounding_box()
        assert last["y"] + last["height"] <= area["y"] + area["height"]  # not cut off
        assert page.evaluate("document.documentElement.scrollHeight <= innerHeight")
        shot(page, "hall-screen-52-windows")
    finally:
        server.stop()
        rt.close()
