"""ESC/POS ticket printers (取号票打印机) via python-escpos: serial, USB, network and virtual.

The slip is built on any :class:`escpos.escpos.Escpos` (``Dummy`` in tests).
Chinese text is encoded by us as GB18030 inside the ESC/POS Chinese mode
(``FS &`` … ``FS .``), so full-width punctuation (，。：（）【】) prints too;
python-escpos' magic encoding is never used. Paper 58 mm = 32 columns,
80 mm = 48 columns (font A; a Chinese character takes two).

Status is read with DLE EOT n (n = 1 printer, 2 offline cause, 4 paper sensor)
before and after each job. A job waits at the head of the queue while the
printer is not OK and is retried with backoff; it is never dropped, and a job
whose write failed half-way is sent again whole (a torn slip may precede it).
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import logging
import socket
from collections.abc import Callable
from typing import Any

import serial
from escpos.constants import (CTL_LF, FS, HW_INIT, PAPER_PART_CUT, RT_STATUS, TXT_NORMAL,
                              TXT_SIZE, TXT_STYLE)
from escpos.escpos import Escpos
from escpos.printer import Dummy

from devices.escpos_io import NoReply, PortEscpos, SocketEscpos
from devices.health import OK_STATES, Backoff, DeviceState, StateCallback, call_safely
from devices.worker import DeviceWorker

log = logging.getLogger(__name__)

CHINESE_ON = FS + b"&"  # FS & select Chinese character mode
CHINESE_OFF = FS + b"."  # FS . cancel Chinese character mode
COLUMNS = {58: 32, 80: 48}
QR_SIZE = {58: 5, 80: 6}
NUMBER_SIZE = 4  # the ticket number printed 4× wide and 4× high


@dataclasses.dataclass(frozen=True)
class TicketSlip:
    """What a ticket slip (取号凭条) says."""

    hall: str
    queue: str
    number: str
    ahead: int
    wait_min: int
    issued_at: dt.datetime
    url: str
    notice: str = ""


def text_width(text: str) -> int:
    """Printed columns: a GB18030 double-byte character is two columns wide."""
    return sum(1 if ord(c) < 0x80 else 2 for c in text)


def text_bytes(text: str) -> bytes:
    """ASCII as is; anything else as GB18030 wrapped in FS & … FS . (Chinese mode)."""
    if text.isascii():
        return text.encode("ascii")
    return CHINESE_ON + text.encode("gb18030") + CHINESE_OFF


def two_columns(left: str, right: str, columns: int) -> str:
    gap = max(1, columns - text_width(left) - text_width(right))
    return left + " " * gap + right


def wrap(text: str, columns: int) -> list[str]:
    lines, line = [], ""
    for char in text:
        if text_width(line + char) > columns:
            lines.append(line)
            line = ""
        line += char
    return lines + [line] if line else lines


def render_slip(p: Escpos, slip: TicketSlip, paper_width_mm: int = 80) -> None:
    """Write the slip's ESC/POS commands to ``p``."""
    columns = COLUMNS[paper_width_mm]

    def line(text: str) -> None:
        p._raw(text_bytes(text) + CTL_LF)

    p._raw(HW_INIT)
    p._raw(TXT_STYLE["align"]["center"] + TXT_STYLE["bold"][True])
    line(slip.hall)
    p._raw(TXT_STYLE["bold"][False])
    line(slip.queue)
    p._raw(TXT_SIZE + bytes([TXT_STYLE["width"][NUMBER_SIZE] + TXT_STYLE["height"][NUMBER_SIZE]]))
    line(slip.number)
    p._raw(TXT_NORMAL + TXT_STYLE["align"]["left"])
    line(two_columns("前面等候：", f"{slip.ahead} 人", columns))
    line(two_columns("预计等待：", f"约 {slip.wait_min} 分钟", columns))
    line(two_columns("取号时间：", slip.issued_at.strftime("%Y-%m-%d %H:%M"), columns))
    p._raw(TXT_STYLE["align"]["center"])
    p.qr(slip.url, size=QR_SIZE[paper_width_mm], native=True)
    line("扫码查看排队进度")
    for text in wrap(slip.notice, columns):
        line(text)
    p._raw(CTL_LF * 4 + PAPER_PART_CUT)


def slip_bytes(slip: TicketSlip, paper_width_mm: int = 80) -> bytes:
    dummy = Dummy()
    render_slip(dummy, slip, paper_width_mm)
    return dummy.output


def status_valid(byte: int) -> bool:
    """Every DLE EOT reply has bit 1 and bit 4 set, bit 0 and bit 7 clear."""
    return byte & 0x93 == 0x12


def decode_status(printer: int, offline_cause: int, paper: int) -> DeviceState:
    """Map the replies to DLE EOT 1, 2 and 4 to one state, the most serious first."""
    if not all(status_valid(b) for b in (printer, offline_cause, paper)):
        return DeviceState.ERROR
    if offline_cause & 0x04:
        return DeviceState.COVER_OPEN
    if paper & 0x60 or offline_cause & 0x20:
        return DeviceState.PAPER_OUT
    if offline_cause & 0x40:
        return DeviceState.ERROR
    if printer & 0x08:
        return DeviceState.OFFLINE
    if paper & 0x0C:
        return DeviceState.PAPER_NEAR_END
    return DeviceState.ONLINE


@dataclasses.dataclass
class PrintJob:
    id: int
    slip: TicketSlip | None
    data: bytes | None = None  # raw ESC/POS when not a slip


class Printer(DeviceWorker):
    """The queue and the worker; subclasses implement ``_query()`` and ``_write(data)``."""

    kind = "printer"

    def __init__(self, name: str, *, paper_width_mm: int = 80, heartbeat_s: float = 10.0,
                 kiosk: str | None = None, backoff: Backoff | None = None,
                 on_state: StateCallback | None = None,
                 on_printed: Callable[[int], Any] | None = None) -> None:
        super().__init__(name, on_state=on_state)
        if paper_width_mm not in COLUMNS:
            raise ValueError(f"{name}: paper_width_mm must be 58 or 80, not {paper_width_mm}")
        self.paper_width_mm, self.heartbeat_s, self.kiosk = paper_width_mm, heartbeat_s, kiosk
        self.backoff = backoff or Backoff()
        self.on_printed = on_printed
        self._jobs: collections.deque[PrintJob] = collections.deque()
        self._ids = itertools.count(1)
        self._busy = False
        self._poll_due = True

    def submit(self, slip: TicketSlip | bytes) -> int:
        """Queue a slip (or raw ESC/POS bytes) and return its job id at once."""
        with self._cond:
            job = PrintJob(next(self._ids), None, slip) if isinstance(slip, bytes) else (
                PrintJob(next(self._ids), slip))
            self._jobs.append(job)
            self._cond.notify_all()
        return job.id

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def poll_now(self) -> None:
        """Query the status now instead of at the next heartbeat or backoff."""
        with self._cond:
            self._poll_due = True
        self._wake()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._busy, timeout)

    def _step(self) -> None:
        with self._cond:
            if not self._jobs and not self._poll_due:
                if not self._cond.wait(self.heartbeat_s):
                    self._poll_due = True  # idle for a heartbeat: ask the printer again
                return
            self._poll_due = False
            job = self._jobs[0] if self._jobs else None
            self._busy = job is not None
        try:
            state = self._poll()
            if job is None:
                return
            if state not in OK_STATES:
                self._sleep(self.backoff.next())  # poll with backoff; the job stays first
                return
            data = job.data if job.data is not None else slip_bytes(job.slip, self.paper_width_mm)
            if not self._write(data):
                self.health.set(DeviceState.OFFLINE)
                self._sleep(self.backoff.next())
                return
            with self._cond:
                self._jobs.popleft()
            self.backoff.reset()
            call_safely(self.on_printed, job.id)
            self._poll()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _poll(self) -> DeviceState:
        state = self._query()
        self.health.set(state)
        return state

    def _query(self) -> DeviceState:  # pragma: no cover - abstract
        raise NotImplementedError

    def _write(self, data: bytes) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class EscposPrinter(Printer):
    """A real printer: ``_connect()`` returns an open escpos transport."""

    def __init__(self, name: str, *, status_timeout: float = 1.0, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.status_timeout = status_timeout
        self._transport: Escpos | None = None

    def _connect(self) -> Escpos:  # pragma: no cover - abstract
        raise NotImplementedError

    def _io_timeout(self, seconds: float) -> None:
        """Set the read/write timeout of the transport, if it has one."""

    def _drop(self, exc: BaseException) -> None:
        log.warning("printer %s: %s: %s", self.name, type(exc).__name__, exc)
        transport, self._transport = self._transport, None
        if transport is not None:
            try:
                transport.close()
            except Exception:  # noqa: BLE001 - it is gone anyway
                pass

    def _query(self) -> DeviceState:
        try:
            if self._transport is None:
                self._transport = self._connect()
            transport = self._transport
            self._io_timeout(self.status_timeout)
            if hasattr(transport, "clear_input"):
                transport.clear_input()
            replies = []
            for n in (1, 2, 4):
                transport._raw(RT_STATUS + bytes([n]))
                reply = transport._read()
                if not reply:
                    raise NoReply(f"no answer to DLE EOT {n}")
                replies.append(reply[-1])
        except Exception as exc:  # noqa: BLE001 - serial, socket, USB and escpos errors alike
            self._drop(exc)
            return DeviceState.OFFLINE
        return decode_status(*replies)

    def _write(self, data: bytes) -> bool:
        if self._transport is None:
            return False
        try:
            self._io_timeout(10.0)
            self._transport._raw(data)
            device = self._transport.device
            if isinstance(device, serial.SerialBase):
                device.flush()
        except Exception as exc:  # noqa: BLE001
            self._drop(exc)
            return False
        return True

    def _close(self) -> None:
        if self._transport is not None:
            self._drop(ConnectionAbortedError("stopped"))


class SerialPrinter(EscposPrinter):
    """A printer on a pyserial URL: ``/dev/ttyUSB0``, ``socket://…``, a pty."""

    settings_fields = ("port", "baudrate")

    def __init__(self, name: str, *, port: str, baudrate: int = 9600,
                 opener: Callable[..., serial.SerialBase] | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.port, self.baudrate, self.opener = port, baudrate, opener

    def _connect(self) -> Escpos:
        opener = self.opener or serial.serial_for_url  # looked up now: tests patch it
        return PortEscpos(opener(self.port, baudrate=self.baudrate,
                                 timeout=self.status_timeout, write_timeout=10.0))

    def _io_timeout(self, seconds: float) -> None:
        self._transport.device.timeout = min(seconds, self.status_timeout)


class NetworkPrinter(EscposPrinter):
    """A printer on TCP port 9100."""

    settings_fields = ("host", "tcp_port")

    def __init__(self, name: str, *, host: str, tcp_port: int = 9100, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.host, self.tcp_port = host, tcp_port

    def _connect(self) -> Escpos:
        return SocketEscpos(socket.create_connection((self.host, self.tcp_port),
                                                     timeout=self.status_timeout))

    def _io_timeout(self, seconds: float) -> None:
        self._transport.device.settimeout(seconds)


class UsbPrinter(EscposPrinter):
    """A USB printer through escpos' own ``Usb`` transport (needs pyusb)."""

    settings_fields = ("usb_vendor", "usb_product")

    def __init__(self, name: str, *, usb_vendor: int, usb_product: int, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.usb_vendor, self.usb_product = usb_vendor, usb_product

    def _connect(self) -> Escpos:
        from escpos.printer import Usb

        printer = Usb(self.usb_vendor, self.usb_product, timeout=int(self.status_timeout * 1000))
        printer.open()
        return printer


class VirtualPrinter(Printer):
    """The virtual twin: keeps what it printed; ``fail(state)`` / ``recover()`` for tests."""

    initial_state = DeviceState.ONLINE

    settings_fields = ()

    def __init__(self, name: str, *, history: int = 200, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.printed: collections.deque[tuple[TicketSlip | None, bytes]] = (
            collections.deque(maxlen=history))
        self._simulated = DeviceState.ONLINE

    def fail(self, state: DeviceState = DeviceState.PAPER_OUT) -> None:
        self._simulated = state
        self.poll_now()

    def recover(self) -> None:
        self._simulated = DeviceState.ONLINE
        self.poll_now()

    def _query(self) -> DeviceState:
        return self._simulated

    def _write(self, data: bytes) -> bool:
        if self._simulated not in OK_STATES:
            return False
        with self._cond:
            slip = self._jobs[0].slip if self._jobs else None
            self.printed.append((slip, data))
        return True


#: ``driver`` in config → class.
PRINTER_DRIVERS: dict[str, type[Printer]] = {
    "serial": SerialPrinter, "network": NetworkPrinter, "usb": UsbPrinter,
    "virtual": VirtualPrinter,
}
