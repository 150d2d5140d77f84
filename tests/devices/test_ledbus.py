"""LED window screens: hall-led-v1 bytes, priority and superseding, refresh, pacing over a pty."""
from __future__ import annotations

import os
import select
import threading
import time

import pytest

from devices.framing import Frame, FrameParser
from devices.health import Backoff, DeviceState
from devices.ledbus import (LED_PROTOCOLS, HallLedV1, ScreenContent, SerialLedBus,
                            VirtualLedBus)


def xor(data: bytes) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def test_hall_led_v1_frame_bytes():
    content = ScreenContent(5, "请 A023 号", "5号窗口")
    payload = b"\x05" + "请 A023 号".encode("gb2312") + b"\n" + "5号窗口".encode("gb2312")
    body = bytes([7, 0x31, len(payload)]) + payload
    assert HallLedV1().encode(7, content) == b"\x02" + body + bytes([xor(body)]) + b"\x03"


def test_text_cannot_fake_a_frame_end():
    # window 3 and address 2 put ETX and STX inside the frame; the length prefix keeps it whole
    frame = HallLedV1().encode(2, ScreenContent(3, "暂停服务"))
    assert frame.count(b"\x03") == 2
    assert FrameParser().feed(frame) == [Frame(2, 0x31, frame[4:-2])]
    assert HallLedV1().decode(frame[4:-2]) == ScreenContent(3, "暂停服务", "")


def test_long_and_unknown_text_is_cut_and_replaced():
    frame = HallLedV1().encode(1, ScreenContent(1, "欢" * 100 + "€"))
    content = HallLedV1().decode(FrameParser().feed(frame)[0].payload)
    assert content.line1 == "欢" * 60
    assert HallLedV1().decode(HallLedV1().encode(1, ScreenContent(1, "A€"))[4:-2]).line1 == "A?"


class Sent:
    """on_sent recorder with a condition to wait on."""

    def __init__(self):
        self.items: list[tuple[int, ScreenContent]] = []
        self.cond = threading.Condition()

    def __call__(self, address, content):
        with self.cond:
            self.items.append((address, content))
            self.cond.notify_all()

    def wait(self, predicate, timeout=2.0):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.items), timeout), self.items


def test_call_goes_first_and_superseded_frames_are_dropped():
    bus = VirtualLedBus("bus-1", windows=range(1, 11), heartbeat_s=None)
    for window in range(1, 11):
        bus.show(ScreenContent.idle(window), "refresh")
    bus.show(ScreenContent.paused(4), "update")
    bus.call(ScreenContent.calling(7, "A023"))
    bus.show(ScreenContent(4, "欢迎光临"), "update")  # supersedes the paused frame for 4
    assert bus.pending() == 10 and bus.superseded == 3
    with bus:
        assert bus.wait_idle(2)
    order = [(address, content) for address, content, _ in bus.history]
    assert order[0] == (7, ScreenContent.calling(7, "A023"))
    assert order[1] == (4, ScreenContent(4, "欢迎光临"))  # kept update priority, newest text
    assert [a for a, _ in order[2:]] == [1, 2, 3, 5, 6, 8, 9, 10]
    assert bus.screens[4] == ScreenContent(4, "欢迎光临")


def test_an_update_does_not_demote_a_pending_call():
    bus = VirtualLedBus("bus-1", windows=[1, 2], heartbeat_s=None)
    bus.show(ScreenContent.idle(1), "update")
    bus.call(ScreenContent.calling(2, "A001"))
    bus.show(ScreenContent(2, "请 A001 号", "请稍候"), "refresh")
    with bus:
        assert bus.wait_idle(2)
    assert [a for a, _, _ in bus.history] == [2, 1]


def test_addresses_map_windows_and_unknown_windows_are_refused():
    bus = VirtualLedBus("bus-1", windows=[11, 12], addresses=[1, 2], heartbeat_s=None)
    bus.show(ScreenContent.idle(12))
    with bus:
        assert bus.wait_idle(2)
    assert bus.history[0][0] == 2 and bus.history[0][2][1] == 2
    with pytest.raises(ValueError):
        bus.show(ScreenContent.idle(13))
    with pytest.raises(ValueError):
        VirtualLedBus("bus-2", windows=[1, 2], addresses=[1])
    with pytest.raises(ValueError, match="hall-led-v1"):
        VirtualLedBus("bus-3", windows=[1], protocol="nope")


def test_screens_are_re_sent_periodically():
    sent = Sent()
    bus = VirtualLedBus("bus-1", windows=[1, 2], heartbeat_s=0.05, on_sent=sent)
    bus.show(ScreenContent.idle(1))
    bus.show(ScreenContent.paused(2))
    with bus:
        sent.wait(lambda items: sum(a == 2 for a, _ in items) >= 3)
    assert all(c == ScreenContent.paused(2) for a, c in sent.items if a == 2)


def test_a_vendor_protocol_is_one_small_class(monkeypatch):
    class Vendor:
        name = "vendor-x"

        def encode(self, address, content):
            return b"#%02d%s\r" % (address, content.line1.encode("gb2312"))

    monkeypatch.setitem(LED_PROTOCOLS, "vendor-x", Vendor)
    bus = VirtualLedBus("bus-1", windows=[3], protocol="vendor-x", heartbeat_s=None)
    bus.call(ScreenContent(3, "请 B7 号"))
    with bus:
        assert bus.wait_idle(2)
    assert bus.history[0][2] == b"#03" + "请 B7 号".encode("gb2312") + b"\r"


def test_virtual_bus_keeps_frames_while_failing():
    states = []
    bus = VirtualLedBus("bus-1", windows=[1, 2], heartbeat_s=None, history=2,
                        backoff=Backoff(0.01, 0.02), on_state=lambda n, s: states.append(s))
    with bus:
        bus.fail()
        for n in range(5):
            bus.show(ScreenContent(1, f"A00{n}"))
        bus.show(ScreenContent.idle(2))
        assert not bus.wait_idle(0.1) and bus.pending() == 2
        bus.recover()
        assert bus.wait_idle(2)
    assert bus.screens[1] == ScreenContent(1, "A004")
    assert len(bus.history) == 2  # bounded
    assert states == [DeviceState.OFFLINE, DeviceState.ONLINE]


def read_frames(master: int, parser: FrameParser, count: int, timeout: float = 3.0):
    """Frames from the master side of a pty, each with the time it was complete."""
    frames = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(frames)} of {count} frames"
        if select.select([master], [], [], left)[0]:
            data = os.read(master, 4096)
            now = time.monotonic()
            frames += [(now, f) for f in parser.feed(data)]
    return frames


def test_serial_bus_over_a_pty_paces_frames_and_lets_a_call_jump_the_queue(pty_pair):
    master, path = pty_pair
    sent = Sent()
    bus = SerialLedBus("bus-1", windows=range(1, 21), port=path, baudrate=9600, pace=True,
                       heartbeat_s=None, on_sent=sent)
    for window in range(1, 21):
        bus.show(ScreenContent.idle(window), "refresh")
    frame_time = bus.wire_time(HallLedV1().encode(1, ScreenContent.idle(1)))
    with bus:
        sent.wait(lambda items: len(items) >= 2)
        bus.call(ScreenContent.calling(15, "A023"))
        frames = read_frames(master, FrameParser(), 20)
        assert bus.wait_idle(3)
    addresses = [f.address for _, f in frames]
    assert sorted(addresses) == list(range(1, 21))  # 15 was superseded by the call
    assert addresses.index(15) <= 3  # at most the frame on the wire is ahead of it
    assert HallLedV1().decode(frames[addresses.index(15)][1].payload).line1 == "请 A023 号"
    # one frame at a time, spaced by (at least nearly) its wire time
    gaps = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
    assert sorted(gaps)[len(gaps) // 2] >= frame_time * 0.8


def test_serial_bus_reconnects_and_repaints(state_log):
    import serial
    opened, attempts = [], []

    def flaky_opener(url, **kwargs):
        attempts.append(url)
        if len(attempts) <= 2:
            raise serial.SerialException("adapter unplugged")
        port = serial.serial_for_url("loop://", **kwargs)
        opened.append(port)
        return port

    bus = SerialLedBus("bus-1", windows=[1, 2], port="/dev/ttyUSB9", opener=flaky_opener,
                       heartbeat_s=None, backoff=Backoff(0.01, 0.02), on_state=state_log)
    bus.show(ScreenContent.idle(1))
    with bus:
        state_log.wait_for(DeviceState.ONLINE)
        assert bus.wait_idle(2)
        # the port dies on write: offline, the frame is kept; it comes back on the next open
        broken = opened[-1]
        broken.write = lambda data: (_ for _ in ()).throw(serial.SerialException("gone"))
        bus.show(ScreenContent.calling(2, "A9"))
        state_log.wait_for(DeviceState.OFFLINE)
        assert bus.wait_idle(2)
        frames = FrameParser().feed(opened[-1].read(opened[-1].in_waiting))
    assert [f.address for f in frames][:2] == [2, 1]  # the kept frame, then the repaint
    assert state_log.states == [DeviceState.ONLINE, DeviceState.OFFLINE, DeviceState.ONLINE]
    assert len(opened) == 2
