"""Ticket printer: slip bytes, status decoding, serial over a pty, network over loopback."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from escpos.constants import (CTL_LF, ESC, FS, GS, HW_INIT, PAPER_PART_CUT, RT_STATUS,
                              TXT_NORMAL, TXT_SIZE, TXT_STYLE)
from escpos.printer import Dummy

from devices.health import DeviceState
from devices.printer import (NetworkPrinter, SerialPrinter, TicketSlip, VirtualPrinter,
                             decode_status, render_slip, slip_bytes, text_bytes, text_width,
                             two_columns)

SLIP = TicketSlip(hall="某某市政务服务中心", queue="社保医保", number="A023", ahead=5,
                  wait_min=12, issued_at=dt.datetime(2025, 3, 4, 9, 30),
                  url="https://hall.example/t/8f3a", notice="请留意叫号，过号作废。")


def gb(text: str) -> bytes:
    """Chinese mode on (FS &), GB18030, Chinese mode off (FS .)."""
    return FS + b"&" + text.encode("gb18030") + FS + b"."


def qr_native(data: bytes, size: int) -> bytes:
    def fn(f: bytes, body: bytes) -> bytes:
        n = len(body) + 2
        return GS + b"(k" + bytes([n & 0xFF, n >> 8]) + b"1" + f + body
    return (fn(b"A", b"2\x00") + fn(b"C", bytes([size])) + fn(b"E", b"0")
            + fn(b"P", b"0" + data) + fn(b"Q", b"0"))


@pytest.mark.parametrize("width, columns, qr_size", [(58, 32, 5), (80, 48, 6)])
def test_slip_bytes_are_exact(width, columns, qr_size):
    def row(label, value):
        pad = columns - len(label) * 2 - len(value.encode("gb18030"))
        return gb(label + " " * pad + value) + CTL_LF

    expected = (
        HW_INIT + TXT_STYLE["align"]["center"] + TXT_STYLE["bold"][True]
        + gb("某某市政务服务中心") + CTL_LF + TXT_STYLE["bold"][False]
        + gb("社保医保") + CTL_LF
        + TXT_SIZE + b"\x33" + b"A023" + CTL_LF  # GS ! 0x33: 4x wide, 4x high
        + TXT_NORMAL + TXT_STYLE["align"]["left"]
        + row("前面等候：", "5 人") + row("预计等待：", "约 12 分钟")
        + row("取号时间：", "2025-03-04 09:30")
        + TXT_STYLE["align"]["center"]
        + qr_native(b"https://hall.example/t/8f3a", qr_size)
        + gb("扫码查看排队进度") + CTL_LF
        + gb("请留意叫号，过号作废。") + CTL_LF
        + CTL_LF * 4 + PAPER_PART_CUT)
    dummy = Dummy()
    render_slip(dummy, SLIP, width)
    assert dummy.output == expected
    assert slip_bytes(SLIP, width) == expected
    assert HW_INIT == ESC + b"@"


def test_full_width_punctuation_goes_out_as_gb18030():
    text = "【温馨提示】请带好身份证（原件）：谢谢。"
    assert text_bytes(text) == gb(text)
    assert text_bytes(text)[2:-2].decode("gb18030") == text
    assert text_bytes("A023") == b"A023"
    assert text_width("请，A1") == 6


def test_notice_wraps_to_the_paper_width():
    long = TicketSlip(**{**SLIP.__dict__, "notice": "办" * 30})
    assert slip_bytes(long, 58).count(gb("办" * 16) + CTL_LF) == 1
    assert slip_bytes(long, 80).count(gb("办" * 24) + CTL_LF) == 1
    assert len(two_columns("前面等候：", "5 人", 32).encode("gb18030")) == 32


@pytest.mark.parametrize("s1, s2, s4, state", [
    (0x12, 0x12, 0x12, DeviceState.ONLINE),
    (0x12, 0x12, 0x1E, DeviceState.PAPER_NEAR_END),
    (0x1A, 0x32, 0x72, DeviceState.PAPER_OUT),
    (0x12, 0x12, 0x72, DeviceState.PAPER_OUT),
    (0x1A, 0x16, 0x12, DeviceState.COVER_OPEN),
    (0x1A, 0x12, 0x12, DeviceState.OFFLINE),
    (0x1A, 0x52, 0x12, DeviceState.ERROR),
    (0xFF, 0x12, 0x12, DeviceState.ERROR),  # not a status byte at all
])
def test_decode_status(s1, s2, s4, state):
    assert decode_status(s1, s2, s4) == state


def printed_event():
    done = threading.Event()
    ids: list[int] = []

    def on_printed(job_id):
        ids.append(job_id)
        done.set()
    return done, ids, on_printed


def test_serial_printer_over_a_pty_queries_status_and_prints(pty_printer, state_log):
    sim, path = pty_printer
    done, ids, on_printed = printed_event()
    printer = SerialPrinter("kiosk-1", port=path, paper_width_mm=58, status_timeout=0.5,
                            on_state=state_log, on_printed=on_printed).start()
    try:
        job = printer.submit(SLIP)
        assert done.wait(3)
        assert ids == [job]
        sim.wait_data(lambda d: d == slip_bytes(SLIP, 58))
        assert printer.wait_idle(2)
        assert sim.queries[:3] == [1, 2, 4]  # before the job
        assert len(sim.queries) >= 6  # and after it
        assert printer.state == DeviceState.ONLINE
    finally:
        printer.stop()
    assert RT_STATUS == b"\x10\x04"


def test_serial_printer_waits_for_paper_then_prints(pty_printer, state_log):
    from devices.health import Backoff
    sim, path = pty_printer
    sim.paper(False)
    done, _, on_printed = printed_event()
    printer = SerialPrinter("kiosk-1", port=path, status_timeout=0.5, on_state=state_log,
                            on_printed=on_printed, backoff=Backoff(0.02, 0.1)).start()
    try:
        printer.submit(SLIP)
        state_log.wait_for(DeviceState.PAPER_OUT)
        assert printer.pending() == 1 and not sim.data
        sim.paper(True)
        assert done.wait(3)
        sim.wait_data(lambda d: d == slip_bytes(SLIP, 80))
        assert not sim.printed_while_out
        assert state_log.states[-1] == DeviceState.ONLINE
    finally:
        printer.stop()


def test_network_printer_paper_out_then_back(tcp_printer, state_log):
    from devices.health import Backoff
    tcp_printer.paper(False)
    done, _, on_printed = printed_event()
    printer = NetworkPrinter("kiosk-2", host="127.0.0.1", tcp_port=tcp_printer.port,
                             status_timeout=0.5, on_state=state_log, on_printed=on_printed,
                             backoff=Backoff(0.02, 0.1)).start()
    try:
        first, second = printer.submit(SLIP), printer.submit(b"raw\n")
        state_log.wait_for(DeviceState.PAPER_OUT)
        assert tcp_printer.printed() == b""
        tcp_printer.paper(True)
        assert printer.wait_idle(3)
        assert done.is_set() and first < second
        assert tcp_printer.printed() == slip_bytes(SLIP, 80) + b"raw\n"
        assert not any(s.printed_while_out for s in tcp_printer.sims)
        # a reply set read while the paper went back in may look "offline" for one poll
        assert state_log.states[0] == DeviceState.PAPER_OUT
        assert state_log.states[-1] == DeviceState.ONLINE
    finally:
        printer.stop()


def test_network_printer_that_is_down_keeps_the_job_until_it_comes_up(state_log, tcp_listener_at):
    from devices.health import Backoff
    import socket
    with socket.socket() as probe:  # a free port nobody listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tried = threading.Event()

    class CountingPrinter(NetworkPrinter):
        attempts = 0

        def _query(self):
            state = super()._query()
            self.attempts += 1
            if self.attempts >= 3:
                tried.set()
            return state

    done, _, on_printed = printed_event()
    printer = CountingPrinter("kiosk-3", host="127.0.0.1", tcp_port=port, status_timeout=0.2,
                              on_state=state_log, on_printed=on_printed,
                              backoff=Backoff(0.02, 0.05)).start()
    listener = None
    try:
        printer.submit(SLIP)
        assert tried.wait(3)
        assert printer.state == DeviceState.OFFLINE and printer.pending() == 1
        listener = tcp_listener_at(port)
        assert done.wait(3)
        listener.wait_connected().wait_data(lambda d: d == slip_bytes(SLIP, 80))
        assert state_log.states == [DeviceState.ONLINE]
    finally:
        printer.stop()
        if listener:
            listener.close()


def test_virtual_printer_keeps_jobs_while_failing_and_submit_never_blocks(state_log):
    from devices.health import Backoff
    printer = VirtualPrinter("demo", history=3, on_state=state_log,
                             backoff=Backoff(0.01, 0.05)).start()
    try:
        printer.fail(DeviceState.COVER_OPEN)
        state_log.wait_for(DeviceState.COVER_OPEN)
        started = time.monotonic()
        ids = [printer.submit(SLIP) for _ in range(500)]
        assert time.monotonic() - started < 0.5
        assert printer.pending() == 500 and not printer.printed
        printer.recover()
        assert printer.wait_idle(3)
        assert ids == list(range(1, 501))
        assert len(printer.printed) == 3  # bounded history
        assert printer.printed[-1] == (SLIP, slip_bytes(SLIP, 80))
    finally:
        printer.stop()


def test_usb_printer_without_the_device_is_offline_and_keeps_jobs():
    from devices.printer import UsbPrinter
    printer = UsbPrinter("kiosk-usb", usb_vendor=0xFFFE, usb_product=0xFFFE)
    printer.submit(SLIP)
    assert printer._poll() == DeviceState.OFFLINE  # no such device (or no libusb): offline
    assert printer.pending() == 1
