"""Device health: states, backoff, and the serial link that reconnects with backoff."""
from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import Any

import serial

log = logging.getLogger(__name__)


class DeviceState(enum.Enum):
    """What a device reports through its ``on_state(name, state)`` callback."""

    ONLINE = "online"
    OFFLINE = "offline"
    PAPER_OUT = "paper_out"
    PAPER_NEAR_END = "paper_near_end"
    COVER_OPEN = "cover_open"
    ERROR = "error"


#: The device works (paper near end is a warning: slips still print).
OK_STATES = frozenset({DeviceState.ONLINE, DeviceState.PAPER_NEAR_END})
#: The device is reachable but needs a person (paper, cover, a jam).
ATTENTION_STATES = frozenset(
    {DeviceState.PAPER_OUT, DeviceState.PAPER_NEAR_END, DeviceState.COVER_OPEN, DeviceState.ERROR}
)
#: Jobs wait in the queue while the device is in one of these.
BLOCKED_STATES = frozenset(DeviceState) - OK_STATES

StateCallback = Callable[[str, DeviceState], Any]


class Backoff:
    """Delays 1 s, 2 s, 4 s … capped at ``cap``; ``reset()`` after a success."""

    def __init__(self, base: float = 1.0, cap: float = 30.0, factor: float = 2.0) -> None:
        if base <= 0 or cap < base or factor < 1:
            raise ValueError("need 0 < base <= cap and factor >= 1")
        self.base, self.cap, self.factor = base, cap, factor
        self.attempts = 0

    def next(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        delay = min(self.cap, self.base * self.factor ** self.attempts)
        if delay < self.cap:
            self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0


def call_safely(callback: Callable[..., Any] | None, *args: Any) -> None:
    """Call a listener; a failing listener is logged and never stops a worker."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # noqa: BLE001 - a listener must not kill the device thread
        log.exception("device listener %r failed", callback)


class StateHolder:
    """The current state of one device; reports each change once through ``on_state``."""

    def __init__(self, name: str, on_state: StateCallback | None = None,
                 initial: DeviceState = DeviceState.OFFLINE) -> None:
        self.name = name
        self.on_state = on_state
        self._state = initial
        self._lock = threading.Lock()

    @property
    def state(self) -> DeviceState:
        return self._state

    def set(self, state: DeviceState) -> None:
        with self._lock:
            changed, self._state = state != self._state, state
        if changed:
            log.info("device %s is %s", self.name, state.value)
            call_safely(self.on_state, self.name, state)


def _open_url(url: str, **kwargs: Any) -> serial.SerialBase:
    # Looked up at call time so a test can patch serial.serial_for_url.
    return serial.serial_for_url(url, **kwargs)


class SerialLink:
    """One serial port opened with ``serial_for_url``; a lost port goes offline and reopens.

    Nothing here sleeps: ``ensure_open()`` returns None while the port is away and
    ``retry_delay()`` tells the worker how long to wait (its own stop-aware wait).
    """

    def __init__(self, url: str, baudrate: int = 9600, *, holder: StateHolder,
                 opener: Callable[..., serial.SerialBase] | None = None,
                 backoff: Backoff | None = None, timeout: float = 0.05) -> None:
        self.url, self.baudrate, self.timeout = url, baudrate, timeout
        self.holder = holder
        self.opener = opener or _open_url
        self.backoff = backoff or Backoff()
        self.port: serial.SerialBase | None = None

    def ensure_open(self) -> serial.SerialBase | None:
        if self.port is not None:
            return self.port
        try:
            self.port = self.opener(self.url, baudrate=self.baudrate,
                                    timeout=self.timeout, write_timeout=2.0)
        except (serial.SerialException, OSError, ValueError) as exc:
            log.warning("device %s: cannot open %s: %s", self.holder.name, self.url, exc)
            self.holder.set(DeviceState.OFFLINE)
            return None
        self.backoff.reset()
        self.holder.set(DeviceState.ONLINE)
        return self.port

    def retry_delay(self) -> float:
        return self.backoff.next()

    def lost(self, exc: BaseException) -> None:
        """The adapter disappeared (unplugged, pty closed): close and go offline."""
        log.warning("device %s: lost %s: %s", self.holder.name, self.url, exc)
        self.close()
        self.holder.set(DeviceState.OFFLINE)

    def write(self, data: bytes, *, drain: bool = True) -> bool:
        """Write and (on a real port) wait until sent; False when the port is gone."""
        port = self.ensure_open()
        if port is None:
            return False
        try:
            port.write(data)
            if drain:
                port.flush()
        except (serial.SerialException, OSError) as exc:
            self.lost(exc)
            return False
        return True

    def read(self, size: int = 256) -> bytes | None:
        """Read what is there (waits at most ``timeout``); None when the port is gone."""
        port = self.ensure_open()
        if port is None:
            return None
        try:
            waiting = port.in_waiting
            return port.read(max(1, min(size, waiting)) if waiting else 1)
        except (serial.SerialException, OSError) as exc:
            self.lost(exc)
            return None

    def close(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass
