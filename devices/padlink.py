"""The worker shared by evaluation pads and call pads: read frames in, write short texts out."""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable

import serial

from devices.framing import Frame, FrameParser
from devices.health import Backoff, DeviceState, SerialLink, StateCallback, StateHolder
from devices.worker import DeviceWorker

STX, ETX = 0x02, 0x03


def gb2312_text(text: str, limit: int = 32) -> bytes:
    """Encode for a pad display, cut at a character boundary; unknown characters → "?"."""
    out = bytearray()
    for char in text:
        b = char.encode("gb2312", errors="replace")
        if len(out) + len(b) > limit:
            break
        out += b
    return bytes(out)


class SerialWire:
    """Pad bytes over a pyserial URL, reopened with backoff."""

    def __init__(self, url: str, baudrate: int, holder: StateHolder, backoff: Backoff,
                 opener: Callable[..., serial.SerialBase] | None = None) -> None:
        self.link = SerialLink(url, baudrate, holder=holder, opener=opener, backoff=backoff)

    def read(self) -> bytes | None:
        return self.link.read()

    def write(self, data: bytes) -> bool:
        return self.link.write(data)

    def close(self) -> None:
        self.link.close()


class VirtualWire:
    """In-memory pad bytes: ``inject`` plays the pad, ``sent`` records what the host wrote."""

    def __init__(self, holder: StateHolder, history: int = 200) -> None:
        self.holder = holder
        self.sent: collections.deque[bytes] = collections.deque(maxlen=history)
        self._inbox = bytearray()
        self._cond = threading.Condition()
        self.failing: DeviceState | None = None

    def inject(self, data: bytes) -> None:
        with self._cond:
            if self.failing is None:  # a dead pad sends nothing
                self._inbox += data
                self._cond.notify_all()

    def read(self) -> bytes | None:
        with self._cond:
            if self.failing is not None:
                return None
            self._cond.wait_for(lambda: self._inbox, 0.05)
            data, self._inbox = bytes(self._inbox), bytearray()
            return data

    def write(self, data: bytes) -> bool:
        if self.failing is not None:
            return False
        self.sent.append(data)
        return True

    def close(self) -> None:
        pass


class PadWorker(DeviceWorker):
    """Reads frames from the wire and hands each to ``_dispatch``; sends queued frames."""

    max_payload = 64
    outbox_limit = 64  # a pad display only needs the latest few texts

    def __init__(self, name: str, *, on_state: StateCallback | None = None,
                 backoff: Backoff | None = None) -> None:
        super().__init__(name, on_state=on_state)
        self.backoff = backoff or Backoff()
        self.parser = FrameParser(self.max_payload)
        self._outbox: collections.deque[bytes] = collections.deque(maxlen=self.outbox_limit)
        self.wire: SerialWire | VirtualWire

    def send_frame(self, frame: bytes) -> None:
        """Queue a frame for the pad; returns at once (oldest dropped beyond the limit)."""
        with self._cond:
            self._outbox.append(frame)

    def wait_sent(self, timeout: float = 2.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._outbox, timeout)

    def _step(self) -> None:
        with self._cond:
            frame = self._outbox[0] if self._outbox else None
        if frame is not None:
            if not self.wire.write(frame):
                self._sleep(self.backoff.next())
                return
            with self._cond:
                if self._outbox and self._outbox[0] is frame:
                    self._outbox.popleft()
                self._cond.notify_all()
        data = self.wire.read()
        if data is None:
            self._sleep(self.backoff.next())
            return
        self.backoff.reset()
        if not data:
            # The line was idle for a read timeout: a device never pauses inside a frame, so a
            # partial frame is garbage. Dropping it re-synchronises on the next frame, which a
            # length-prefixed framing cannot always do by itself (noise can look like a header).
            self.parser.reset()
            return
        for parsed in self.parser.feed(data):
            self._dispatch(parsed)

    def _dispatch(self, frame: Frame) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:
        self.wire.close()


class VirtualPadMixin:
    """``fail()``/``recover()`` and ``inject()`` for the virtual twin of a pad."""

    initial_state = DeviceState.ONLINE

    wire: VirtualWire
    health: StateHolder
    _wake: Callable[[], None]

    def fail(self, state: DeviceState = DeviceState.OFFLINE) -> None:
        self.wire.failing = state
        self.health.set(state)

    def recover(self) -> None:
        self.wire.failing = None
        self.health.set(DeviceState.ONLINE)
        self._wake()

    def inject(self, data: bytes) -> None:
        """Bytes as if the pad had sent them (garbage included)."""
        self.wire.inject(data)
