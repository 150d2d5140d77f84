"""The live hall in a real browser: kiosk → counter → hall screen, window screen and phone, without reload."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
T = 10_000  # ms: "within a blink" with room for a slow CI box


def _no_scrollbars(page) -> None:
    sizes = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight,"
                          " innerWidth, innerHeight]")
    assert sizes[0] <= sizes[2] and sizes[1] <= sizes[3], sizes


def test_ticket_call_pause_and_resync(hall_server, browser, shot):
    url, tok = hall_server.url, hall_server.tokens
    # Devices: screens and the kiosk take ?token= once.
    screen = browser.new_page(viewport={"width": 1920, "height": 1080})
    screen.goto(f"{url}/screen/T1?token={tok['screen']}")
    expect(screen.locator("#queues li")).to_have_count(4, timeout=T)
    assert "token=" not in screen.url
    window = browser.new_page(viewport={"width": 1280, "height": 720})
    window.goto(f"{url}/window/T1/1?token={tok['screen']}")
    kiosk = browser.new_page(viewport={"width": 1080, "height": 1920}, has_touch=True)
    kiosk.goto(f"{url}/kiosk/T1?token={tok['kiosk']}")
    expect(kiosk.locator('[data-queue="A"] [data-waiting]')).to_have_text(re.compile("0"), timeout=T)
    shot(kiosk, "kiosk-portrait")

    # Take an elderly-priority ticket in queue A.
    kiosk.click('[data-priority="elderly"]')
    kiosk.click('[data-queue="A"]')
    slip = kiosk.locator("#ticket")
    expect(slip).to_be_visible(timeout=T)
    expect(slip.locator('[data-t="number"]')).to_have_text("A001")
    expect(slip.locator('[data-t="printer"]')).to_be_hidden()
    expect(slip.locator('[data-t="qr"]')).to_have_attribute("src", re.compile(r"/kiosk/T1/qr/\d+\.svg\?s="))
    kiosk.wait_for_function("document.querySelector('[data-t=qr]').naturalWidth > 0")
    shot(kiosk, "kiosk-ticket")
    src = slip.locator('[data-t="qr"]').get_attribute("src")
    ticket_id, secret = re.search(r"/qr/(\d+)\.svg\?s=(.+)$", src).groups()
    expect(screen.locator("#queues li").first).to_contain_text("1", timeout=T)

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.add_init_script("navigator.vibrate = (p) => { window.__vibrated = p; return true; }")
    phone.goto(f"{url}/t/{ticket_id}?s={secret}")
    expect(phone.locator("#m-number")).to_have_text("A001")
    expect(phone.locator("#m-ahead")).to_have_text("0")
    shot(phone, "mobile-waiting")

    # The clerk logs in, signs in to window 1 and calls with F1.
    clerk = browser.new_page(viewport={"width": 1440, "height": 900})
    clerk.goto(f"{url}/counter/T1/1")
    assert "/login" in clerk.url
    clerk.fill('input[name="login"]', "clerk01")
    clerk.fill('input[name="password"]', "wrong-password")
    clerk.click('button[type="submit"]')
    expect(clerk.locator(".error")).to_be_visible()
    clerk.fill('input[name="login"]', "clerk01")
    clerk.fill('input[name="password"]', "secret-pass-1")
    clerk.click('button[type="submit"]')
    clerk.click("#sign-in")
    expect(clerk.locator('[data-action="call"]')).to_be_enabled(timeout=T)
    expect(clerk.locator('[data-action="finish"]')).to_be_disabled()
    expect(clerk.locator("#waiting li")).to_have_count(1, timeout=T)
    clerk.keyboard.press("F1")
    expect(clerk.locator("#c-number")).to_have_text("A001", timeout=T)
    expect(clerk.locator('[data-action="finish"]')).to_be_enabled()
    expect(clerk.locator('[data-action="pause"]')).to_be_disabled()
    shot(clerk, "clerk")

    # Everyone sees it without a reload.
    expect(screen.locator("#callout-number")).to_have_text("A001", timeout=T)
    expect(screen.locator("#callout-window")).to_contain_text("1")
    expect(screen.locator("#recent li").first).to_contain_text("A001")
    expect(window.locator("#w-ticket")).to_have_text("A001", timeout=T)
    expect(window.locator("#w-clerk")).to_have_text("王芳")
    expect(phone.locator("#m-call")).to_be_visible(timeout=T)
    expect(phone.locator("#m-call")).to_contain_text("1")
    assert phone.evaluate("window.__vibrated") is not None
    shot(screen, "hall-screen")
    shot(window, "window-screen")
    shot(phone, "mobile-called")
    _no_scrollbars(screen)
    _no_scrollbars(window)

    # A failing action says why, as a sentence; then finish and pause.
    clerk.keyboard.press("F4")
    expect(clerk.locator("#c-number")).to_have_text("—", timeout=T)
    expect(phone.locator("#m-status")).not_to_be_empty(timeout=T)
    clerk.select_option("#pause-reason", "meeting")
    clerk.click('[data-action="pause"]')
    expect(window.locator("#w-paused")).to_be_visible(timeout=T)
    expect(screen.locator(".win.paused")).to_have_count(1, timeout=T)
    expect(clerk.locator('[data-action="call"]')).to_be_disabled()
    shot(window, "window-screen-paused")
    clerk.click('[data-action="resume"]')
    expect(window.locator("#w-paused")).to_be_hidden(timeout=T)

    # Restart the server while something happens: the screens catch up on reconnect.
    hall_server.stop()
    expect(screen.locator("#offline")).to_be_visible(timeout=T)
    client = hall_server.app.test_client()
    headers = {"Authorization": f"Bearer {tok['kiosk']}"}
    assert client.post("/api/v1/halls/T1/tickets", json={"queue": "B"}, headers=headers).status_code == 201
    with client.session_transaction() as s:
        s.update({"staff": {"id": 1, "login": "clerk01", "name": "王芳", "hall": "T1", "role": "clerk"}})
    rt = hall_server.app.extensions["hall"]
    from hall import windows
    with rt.db.write() as session:
        windows.call_next(session, rt.halls["T1"], 1, "test", rt.clock.now())
    hall_server.start()
    expect(screen.locator("#offline")).to_be_hidden(timeout=15_000)
    expect(window.locator("#w-ticket")).to_have_text("B001", timeout=T)
    expect(screen.locator(".win").first).to_contain_text("B001", timeout=T)
    expect(clerk.locator("#c-number")).to_have_text("B001", timeout=T)


def test_kiosk_layouts_and_english(hall_server, browser, shot):
    url, tok = hall_server.url, hall_server.tokens
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, has_touch=True)
    page = context.new_page()
    page.goto(f"{url}/kiosk/T1?token={tok['kiosk']}")
    expect(page.locator('[data-queue="K"] [data-waiting]')).not_to_have_text("—", timeout=T)
    shot(page, "kiosk-landscape")
    _no_scrollbars(page)
    page.click("#elderly")
    expect(page.locator("body")).to_have_class(re.compile("elderly"))
    shot(page, "kiosk-elderly")
    portrait = context.new_page()  # same browser profile: the token is in its localStorage
    portrait.set_viewport_size({"width": 1080, "height": 1920})
    portrait.goto(f"{url}/kiosk/T1?elderly=1")  # the token is remembered by this browser
    expect(portrait.locator('[data-queue="A"] [data-waiting]')).not_to_have_text("—", timeout=T)
    shot(portrait, "kiosk-elderly-portrait")
    page.goto(f"{url}/kiosk/T1?lang=en")
    expect(page.locator("#elderly")).to_have_text("Large text")
    expect(page.locator('[data-queue="A"] [data-waiting]')).to_contain_text("waiting", timeout=T)
    shot(page, "kiosk-english")


def test_printer_fault_shows_on_the_slip(hall_server, browser):
    url, tok = hall_server.url, hall_server.tokens
    page = browser.new_page(viewport={"width": 1080, "height": 1920})
    page.goto(f"{url}/kiosk/T1?token={tok['kiosk']}")
    expect(page.locator('[data-queue="A"] [data-waiting]')).not_to_have_text("—", timeout=T)
    rt = hall_server.app.extensions["hall"]
    from hall import events
    with rt.db.write() as session:
        events.record(session, rt.halls["T1"].id, "T1", events.DEVICE_CHANGED, rt.clock.now(),
                      device={"name": "printer-k1", "kind": "printer", "ok": False})
    rt.bus.wait_idle()
    page.wait_for_timeout(300)
    page.click('[data-queue="B"]')
    expect(page.locator('[data-t="printer"]')).to_be_visible(timeout=T)
    expect(page.locator('[data-t="printer"]')).to_contain_text("打印机故障")


def test_a_hall_screen_puts_events_that_arrive_out_of_order_back_in_order(hall_server, browser):
    """With several server processes one hall's events can reach a screen out of order (each
    process forwards its own through Redis). The screen holds an event that comes after a gap
    until the missing one arrives and shows both, without asking for a new snapshot; an event
    that never comes makes it ask after a second, and the snapshot puts it right."""
    import time

    from hall import realtime, tickets

    url, tok = hall_server.url, hall_server.tokens
    rt = hall_server.app.extensions["hall"]
    sio = hall_server.app.extensions["hall.socketio"]
    resyncs: list[str] = []
    handlers = sio.server.handlers[realtime.NAMESPACE]
    answer_resync = handlers["resync"]

    def counting_resync(*args):
        resyncs.append(args[0])
        return answer_resync(*args)

    handlers["resync"] = counting_resync
    deliver = next(s for lane in rt.bus._lanes for _, s in lane.subscribers
                   if getattr(s, "__qualname__", "").endswith("init_app.<locals>.deliver"))

    def issue_unsent(queue: str) -> list:
        """Issue a ticket with live delivery held back: its events, to send by hand."""
        caught: list = []
        rt.bus.unsubscribe(deliver)
        rt.bus.subscribe(caught.append)
        try:
            with rt.db.write() as session:
                tickets.issue_ticket(session, rt.halls["T1"], tickets.IssueRequest(queue=queue),
                                     "kiosk", rt.clock.now())
            assert rt.bus.wait_idle(5)
        finally:
            rt.bus.unsubscribe(caught.append)
            rt.bus.subscribe(deliver, own_thread=True)
        assert [e.name for e in caught] == ["ticket.issued", "queue.changed"]
        return caught

    screen = browser.new_page(viewport={"width": 1920, "height": 1080})
    screen.goto(f"{url}/screen/T1?token={tok['screen']}")
    queue_a = screen.locator("#queues li").first
    expect(queue_a).to_contain_text("A", timeout=T)
    waiting_a = queue_a.locator("b")
    expect(waiting_a).to_have_text("0")

    issued, changed = issue_unsent("A")  # seq 1, 2
    deliver(changed)  # 2 first: held, waiting for 1
    time.sleep(0.3)
    expect(waiting_a).to_have_text("0")
    deliver(issued)
    expect(waiting_a).to_have_text("1", timeout=T)
    time.sleep(1.5)  # past the wait: a screen that had given up would have asked by now
    assert resyncs == []

    _lost, changed = issue_unsent("A")  # seq 3 never reaches the screen, 4 does
    deliver(changed)
    expect(waiting_a).to_have_text("2", timeout=T)  # from the snapshot it asked for
    assert len(resyncs) == 1


STUB_SOCKET_IO = """
window.__sockets = [];
Object.defineProperty(window, "io", {
  configurable: true,
  set(_) {},  // the real socket.io script assigns io: keep the stub
  get() {
    return (path, options) => {
      const socket = { handlers: {}, emitted: [],
        on(name, cb) { this.handlers[name] = cb; return this; },
        emit(name) { this.emitted.push(name); return this; } };
      window.__sockets.push(socket);
      return socket;
    };
  },
});
"""


def test_a_hall_screen_keeps_an_event_that_arrives_before_its_snapshot(hall_server, browser):
    """An event committed while the server reads a new client's snapshot can reach the client
    before the snapshot (same process, same socket). The page keeps it and applies it after the
    snapshot when it follows on, instead of dropping it and asking for a new snapshot. The socket
    is a stub here, so the order is the test's."""
    url, tok = hall_server.url, hall_server.tokens
    screen = browser.new_page(viewport={"width": 1920, "height": 1080})
    screen.add_init_script(STUB_SOCKET_IO)
    screen.goto(f"{url}/screen/T1?token={tok['screen']}")
    screen.wait_for_function("window.__sockets.length === 1")

    def fire(name: str, payload: dict) -> None:
        screen.evaluate("([n, p]) => window.__sockets[0].handlers[n](p)", [name, payload])

    def queue(waiting: int) -> dict:
        return {"prefix": "A", "name": "综合", "open": True, "waiting": waiting, "expected_wait_s": 0}

    fire("queue.changed", {"seq": 6, "hall": "T1", "queue": queue(3)})  # before the snapshot
    fire("snapshot", {"hall": "T1", "seq": 5, "queues": [queue(2)], "windows": [], "recent_calls": [],
                      "notices": [], "devices": []})
    waiting_a = screen.locator("#queues li").first.locator("b")
    expect(waiting_a).to_have_text("3", timeout=T)
    fire("queue.changed", {"seq": 8, "hall": "T1", "queue": queue(5)})  # 7 is late
    fire("queue.changed", {"seq": 7, "hall": "T1", "queue": queue(4)})
    expect(waiting_a).to_have_text("5", timeout=T)
    screen.wait_for_timeout(1500)
    assert screen.evaluate("window.__sockets[0].emitted") == []  # never asked for a snapshot
    fire("queue.changed", {"seq": 10, "hall": "T1", "queue": queue(7)})  # 9 never comes
    screen.wait_for_function("window.__sockets[0].emitted.includes('resync')", timeout=T)
    expect(waiting_a).to_have_text("5")  # 10 waits for the snapshot the page asked for
