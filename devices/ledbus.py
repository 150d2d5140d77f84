"""RS-485 LED window screens (窗口屏): one bus, many addressed screens, a priority queue.

Default protocol "hall-led-v1" (the framing of :mod:`devices.framing`)::

    STX 0x02 | address 1-254 | command | length n | payload | XOR checksum | ETX 0x03

    command 0x31 SHOW   payload = window number (1 byte)
                                  + line1 in GB2312 + LF 0x0A + line2 in GB2312
    address 0xFF is broadcast (reserved; not sent by the bus)

Each line is cut at a character boundary to 120 bytes; characters outside
GB2312 become "?". The length prefix keeps text from faking a frame end.

A vendor protocol is one small class with ``name`` and ``encode(address,
content) -> bytes``, registered in :data:`LED_PROTOCOLS`.

The worker writes ONE frame at a time and waits for it to drain
(``flush()``; with ``pace=True`` it also sleeps the frame's wire time,
bytes × 10 / baud, for ports that do not drain at the baud rate: ptys,
``loop://``, ``socket://``). It always sends the most urgent pending frame
first (``call`` > ``update`` > ``refresh``, oldest first within a priority)
and keeps only the newest frame per address: a superseded frame is dropped
(the address keeps the higher of the two priorities). Every ``heartbeat_s``
all screens are re-sent as ``refresh`` so a power-cycled screen recovers.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable

import serial

from devices.framing import FrameParser, encode_frame
from devices.health import Backoff, DeviceState, SerialLink, StateCallback, call_safely
from devices.worker import DeviceWorker

#: Priority names → rank (lower is sent first).
PRIORITIES = {"call": 0, "update": 1, "refresh": 2}


@dataclasses.dataclass(frozen=True)
class ScreenContent:
    """What one window screen shows: one or two lines of text."""

    window: int
    line1: str
    line2: str = ""

    @classmethod
    def calling(cls, window: int, number: str) -> "ScreenContent":
        return cls(window, f"请 {number} 号", f"{window}号窗口")

    @classmethod
    def paused(cls, window: int) -> "ScreenContent":
        return cls(window, "暂停服务", f"{window}号窗口")

    @classmethod
    def idle(cls, window: int) -> "ScreenContent":
        return cls(window, "欢迎光临", f"{window}号窗口")


def _gb2312(text: str, limit: int) -> bytes:
    out = bytearray()
    for char in text:
        b = char.encode("gb2312", errors="replace")
        if len(out) + len(b) > limit:
            break
        out += b
    return bytes(out)


class HallLedV1:
    """The default LED frame: STX addr 0x31 len [window line1 LF line2] xor ETX."""

    name = "hall-led-v1"
    SHOW = 0x31
    LINE_BYTES = 120

    def encode(self, address: int, content: ScreenContent) -> bytes:
        if not 1 <= address <= 254:
            raise ValueError(f"screen address {address} outside 1-254")
        payload = (bytes([content.window & 0xFF]) + _gb2312(content.line1, self.LINE_BYTES)
                   + b"\n" + _gb2312(content.line2, self.LINE_BYTES))
        return encode_frame(address, self.SHOW, payload)

    def parser(self) -> FrameParser:
        return FrameParser()

    def decode(self, payload: bytes) -> ScreenContent:
        """Inverse of the payload of ``encode`` (tests, the bench, a screen simulator)."""
        line1, _, line2 = payload[1:].partition(b"\n")
        return ScreenContent(payload[0], line1.decode("gb2312"), line2.decode("gb2312"))


#: Protocol name in config → class.
LED_PROTOCOLS: dict[str, type] = {HallLedV1.name: HallLedV1}


@dataclasses.dataclass
class _Pending:
    rank: int
    seq: int
    content: ScreenContent
    frame: bytes


class LedBus(DeviceWorker):
    """Base of the LED bus drivers; subclasses implement ``_send(frame) -> bool``."""

    kind = "led_bus"

    def __init__(self, name: str, windows: Iterable[int], addresses: Iterable[int] | None = None,
                 *, protocol: str = "hall-led-v1", heartbeat_s: float | None = 10.0,
                 backoff: Backoff | None = None, on_state: StateCallback | None = None,
                 on_sent: Callable[[int, ScreenContent], object] | None = None) -> None:
        super().__init__(name, on_state=on_state)
        self.windows = list(windows)
        addresses = list(addresses) if addresses else list(self.windows)
        if len(addresses) != len(self.windows):
            raise ValueError(f"{name}: {len(self.windows)} windows but {len(addresses)} addresses")
        self.address_of = dict(zip(self.windows, addresses))
        try:
            self.protocol = LED_PROTOCOLS[protocol]()
        except KeyError:
            raise ValueError(f"{name}: unknown LED protocol {protocol!r}; "
                             f"known: {sorted(LED_PROTOCOLS)}") from None
        self.heartbeat_s = heartbeat_s
        self.backoff = backoff or Backoff()
        self.on_sent = on_sent
        self._pending: dict[int, _Pending] = {}
        self._last: dict[int, ScreenContent] = {}
        self._seq = itertools.count()
        self._busy = False
        self._next_refresh = time.monotonic() + (heartbeat_s or 0)
        self.superseded = 0  # frames dropped because a newer one replaced them

    # -- the interface the domain side uses; none of it blocks ---------------------
    def show(self, content: ScreenContent, priority: str = "update") -> None:
        """Queue ``content`` for its window's screen; returns at once."""
        rank = PRIORITIES[priority]
        address = self.address_of.get(content.window)
        if address is None:
            raise ValueError(f"{self.name}: window {content.window} is not on this bus")
        frame = self.protocol.encode(address, content)
        with self._cond:
            self._last[address] = content
            old = self._pending.get(address)
            if old is not None:
                self.superseded += 1
                rank = min(rank, old.rank)
            self._pending[address] = _Pending(rank, next(self._seq), content, frame)
            self._cond.notify_all()

    def call(self, content: ScreenContent) -> None:
        """Show the window whose ticket was just called, ahead of everything else."""
        self.show(content, "call")

    def refresh_all(self) -> None:
        """Re-send every known screen at ``refresh`` priority (not replacing newer work)."""
        with self._cond:
            for address, content in self._last.items():
                if address not in self._pending:
                    frame = self.protocol.encode(address, content)
                    self._pending[address] = _Pending(PRIORITIES["refresh"], next(self._seq),
                                                      content, frame)
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued frame is on the wire (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    # -- the worker ---------------------------------------------------------------------
    def _take(self) -> tuple[int, _Pending] | None:
        with self._cond:
            now = time.monotonic()
            if self.heartbeat_s and now >= self._next_refresh:
                self._next_refresh = now + self.heartbeat_s
                for address, content in self._last.items():
                    if address not in self._pending:
                        self._pending[address] = _Pending(
                            PRIORITIES["refresh"], next(self._seq), content,
                            self.protocol.encode(address, content))
            if not self._pending:
                wait = self._next_refresh - now if self.heartbeat_s else 3600.0
                self._cond.wait(max(wait, 0.001))
                return None
            address = min(self._pending, key=lambda a: (self._pending[a].rank, self._pending[a].seq))
            self._busy = True
            return address, self._pending.pop(address)

    def _step(self) -> None:
        taken = self._take()
        if taken is None:
            return
        address, item = taken
        ok = False
        try:
            ok = self._send(item.frame, item.content)
        finally:
            with self._cond:
                if not ok and address not in self._pending:  # keep it unless superseded
                    self._pending[address] = item
                self._busy = False
                self._cond.notify_all()
        if ok:
            self.backoff.reset()
            call_safely(self.on_sent, address, item.content)
        else:
            self._sleep(self.backoff.next())

    def _send(self, frame: bytes, content: ScreenContent) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class SerialLedBus(LedBus):
    """A real RS-485 bus on a pyserial URL (``/dev/ttyUSB0``, ``socket://…``, a pty)."""

    settings_fields = ("port", "baudrate")

    def __init__(self, name: str, windows: Iterable[int], addresses: Iterable[int] | None = None,
                 *, port: str, baudrate: int = 9600, pace: bool = False,
                 opener: Callable[..., serial.SerialBase] | None = None, **kwargs) -> None:
        super().__init__(name, windows, addresses, **kwargs)
        self.baudrate, self.pace = baudrate, pace
        self.link = SerialLink(port, baudrate, holder=self.health, opener=opener,
                               backoff=self.backoff)
        self._lost = False

    def wire_time(self, frame: bytes) -> float:
        """Seconds a frame takes on the wire: 8N1 is 10 bits per byte."""
        return len(frame) * 10 / self.baudrate

    def _send(self, frame: bytes, content: ScreenContent) -> bool:
        if not self.link.write(frame, drain=True):
            self._lost = True
            return False
        if self._lost:  # screens may have lost power with the adapter: repaint them all
            self._lost = False
            self.refresh_all()
        if self.pace:
            self._pause(self.wire_time(frame))
        return True

    def _close(self) -> None:
        self.link.close()


class VirtualLedBus(LedBus):
    """The virtual twin: records what each screen shows; ``fail()``/``recover()`` for tests."""

    initial_state = DeviceState.ONLINE
    settings_fields = ()

    def __init__(self, name: str, windows: Iterable[int], addresses: Iterable[int] | None = None,
                 *, history: int = 500, **kwargs) -> None:
        super().__init__(name, windows, addresses, **kwargs)
        self.screens: dict[int, ScreenContent] = {}  # window → what it shows now
        self.history: collections.deque[tuple[int, ScreenContent, bytes]] = (
            collections.deque(maxlen=history))
        self._failing: DeviceState | None = None

    def fail(self, state: DeviceState = DeviceState.OFFLINE) -> None:
        self._failing = state
        self.health.set(state)

    def recover(self) -> None:
        self._failing = None
        self.health.set(DeviceState.ONLINE)
        self._wake()

    def _send(self, frame: bytes, content: ScreenContent) -> bool:
        if self._failing is not None:
            return False
        with self._cond:
            self.screens[content.window] = content
            self.history.append((self.address_of[content.window], content, frame))
        return True


#: ``driver`` in config → class.
LED_DRIVERS: dict[str, type[LedBus]] = {"serial": SerialLedBus, "virtual": VirtualLedBus}
