"""Fixtures for device tests: no real serial ports, pty pairs, a fake ESC/POS printer."""
from __future__ import annotations

import os
import select
import socket
import threading
import time
import tty

import pytest
import serial

from devices.health import DeviceState


class RealPortRefused(AssertionError):
    """A test tried to open a real serial port."""


def _is_real_port(url) -> bool:
    return isinstance(url, str) and url.startswith("/dev/") and not url.startswith("/dev/pts/")


@pytest.fixture(autouse=True)
def no_real_serial_ports(monkeypatch):
    """Fail any test that opens a real serial port (pty slaves /dev/pts/* are fine)."""
    refused: list[str] = []
    real_for_url, real_open = serial.serial_for_url, serial.Serial.open

    def guarded_for_url(url, *args, **kwargs):
        if _is_real_port(url):
            refused.append(url)
            raise RealPortRefused(f"test opened a real serial port {url}")
        return real_for_url(url, *args, **kwargs)

    def guarded_open(self):
        if _is_real_port(self.port):
            refused.append(self.port)
            raise RealPortRefused(f"test opened a real serial port {self.port}")
        return real_open(self)

    monkeypatch.setattr(serial, "serial_for_url", guarded_for_url)
    monkeypatch.setattr(serial.Serial, "open", guarded_open)
    yield refused
    if refused:
        pytest.fail(f"opened real serial port(s): {refused}")


@pytest.fixture
def pty_pair():
    """(master fd, slave path): the test plays the device on the master side."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def _read_until(fd: int, predicate, timeout: float = 2.0) -> bytes:
    """Read from ``fd`` until ``predicate(data)`` holds; fail after ``timeout``."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while not predicate(bytes(data)):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; got {bytes(data)!r}")
        if select.select([fd], [], [], left)[0]:
            data += os.read(fd, 4096)
    return bytes(data)


@pytest.fixture
def read_until():
    """``read_until(fd, predicate, timeout)``: read a pty master until the bytes satisfy it."""
    return _read_until


class StateLog:
    """Collects ``on_state(name, state)`` calls; ``wait_for(state)`` blocks on a condition."""

    def __init__(self) -> None:
        self.states: list[DeviceState] = []
        self._cond = threading.Condition()

    def __call__(self, name: str, state: DeviceState) -> None:
        with self._cond:
            self.states.append(state)
            self._cond.notify_all()

    def wait_for(self, state: DeviceState, timeout: float = 3.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: state in self.states, timeout), (
                f"never {state}; saw {self.states}")


@pytest.fixture
def state_log():
    return StateLog()


# Replies to DLE EOT 1 (printer), 2 (offline cause), 4 (paper sensor).
STATUS_OK = {1: 0x12, 2: 0x12, 4: 0x12}
STATUS_PAPER_OUT = {1: 0x1A, 2: 0x32, 4: 0x72}


class FakeEscposPrinter:
    """Plays an ESC/POS printer on a byte stream: answers DLE EOT n, keeps everything else."""

    def __init__(self, recv, send, readable) -> None:
        self._recv, self._send, self._readable = recv, send, readable
        self.data = bytearray()
        self.queries: list[int] = []
        self.status = dict(STATUS_OK)
        self.printed_while_out = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._buf = bytearray()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "FakeEscposPrinter":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)

    def paper(self, present: bool) -> None:
        with self._cond:
            self.status = dict(STATUS_OK if present else STATUS_PAPER_OUT)

    def wait_data(self, predicate, timeout: float = 3.0) -> bytes:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(bytes(self.data)), timeout), (
                f"printer got {bytes(self.data)!r}")
            return bytes(self.data)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._readable(0.05):
                continue
            try:
                chunk = self._recv()
            except OSError:
                return
            if not chunk:
                return
            self._buf += chunk
            self._consume()

    def _consume(self) -> None:
        with self._cond:
            while self._buf:
                if self._buf[0] == 0x10:
                    if len(self._buf) < 3:
                        return
                    if self._buf[1] == 0x04:
                        n = self._buf[2]
                        self.queries.append(n)
                        self._send(bytes([self.status.get(n, 0x12)]))
                        del self._buf[:3]
                        continue
                if self.status is not None and self.status[4] & 0x60:
                    self.printed_while_out = True
                self.data.append(self._buf.pop(0))
            self._cond.notify_all()


@pytest.fixture
def pty_printer(pty_pair):
    master, path = pty_pair
    sim = FakeEscposPrinter(lambda: os.read(master, 4096), lambda b: os.write(master, b),
                            lambda t: bool(select.select([master], [], [], t)[0])).start()
    yield sim, path
    sim.stop()


class TcpPrinterListener:
    """A loopback port-9100 printer: each accepted connection gets its own FakeEscposPrinter."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.paper_present = True
        self.sims: list[FakeEscposPrinter] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            sim = FakeEscposPrinter(
                lambda c=conn: c.recv(4096), lambda b, c=conn: c.sendall(b),
                lambda t, c=conn: bool(select.select([c], [], [], t)[0]))
            sim.paper(self.paper_present)
            sim.conn = conn
            with self._cond:
                self.sims.append(sim)
                self._cond.notify_all()
            sim.start()

    def paper(self, present: bool) -> None:
        self.paper_present = present
        for sim in self.sims:
            sim.paper(present)

    def printed(self) -> bytes:
        return b"".join(bytes(s.data) for s in self.sims)

    def wait_connected(self, timeout: float = 3.0) -> FakeEscposPrinter:
        with self._cond:
            assert self._cond.wait_for(lambda: self.sims, timeout)
            return self.sims[-1]

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for sim in self.sims:
            sim.stop()
            sim.conn.close()


@pytest.fixture
def tcp_printer():
    listener = TcpPrinterListener()
    yield listener
    listener.close()


@pytest.fixture
def tcp_listener_at():
    """Start a loopback printer on a given port later in the test (closed at teardown)."""
    started: list[TcpPrinterListener] = []

    def start(port: int) -> TcpPrinterListener:
        started.append(TcpPrinterListener(port))
        return started[-1]
    yield start
    for listener in started:
        listener.close()
