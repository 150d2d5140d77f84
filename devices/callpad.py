"""Call pads at the windows (呼叫器): each key press becomes a PadKey; texts go back to the pad.

Protocol "hall-pad-v1" (the framing of :mod:`devices.framing`)::

    STX 0x02 | address | command | length n | payload | XOR checksum | ETX 0x03

    pad → host  0x4B 'K' KEY      payload = key code (1 byte) [+ argument]
                  0x01 call 呼叫   0x02 recall 重呼   0x03 no_show 过号   0x04 finish 完成
                  0x05 pause 暂停  0x06 resume 恢复
                  0x07 transfer 转移: + target window, 2 bytes big-endian
    host → pad  0x44 'D' DISPLAY  payload = GB2312 text, at most 32 bytes

The address is the pad's, which by default is its window number. A KEY
frame with an unknown code or a wrong argument length is ignored.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import serial

from devices.framing import Frame, FrameParser, encode_frame
from devices.health import Backoff, StateCallback, call_safely
from devices.padlink import PadWorker, SerialWire, VirtualPadMixin, VirtualWire, gb2312_text

log = logging.getLogger(__name__)

KEY = 0x4B
DISPLAY = 0x44
KEY_CODES = {0x01: "call", 0x02: "recall", 0x03: "no_show", 0x04: "finish",
             0x05: "pause", 0x06: "resume", 0x07: "transfer"}
CODE_OF = {name: code for code, name in KEY_CODES.items()}
KEYS_WITH_TARGET = frozenset({"transfer"})


@dataclasses.dataclass(frozen=True)
class PadKey:
    """A key pressed on the call pad at ``address``; ``arg`` is the transfer target."""

    address: int
    key: str
    arg: int | None = None


def encode_key(address: int, key: str, arg: int | None = None) -> bytes:
    payload = bytes([CODE_OF[key]])
    if key in KEYS_WITH_TARGET:
        if arg is None or not 0 <= arg <= 0xFFFF:
            raise ValueError(f"{key} needs a target window 0-65535")
        payload += arg.to_bytes(2, "big")
    return encode_frame(address, KEY, payload)


def decode_key(frame: Frame) -> PadKey | None:
    if frame.command != KEY or not frame.payload:
        return None
    key = KEY_CODES.get(frame.payload[0])
    if key is None:
        return None
    rest = frame.payload[1:]
    if key in KEYS_WITH_TARGET:
        return PadKey(frame.address, key, int.from_bytes(rest, "big")) if len(rest) == 2 else None
    return PadKey(frame.address, key) if not rest else None


class CallPad(PadWorker):
    """Base of the call pad drivers (one RS-485 line, many addressed pads)."""

    kind = "callpad"

    def __init__(self, name: str, *, on_key: Callable[[PadKey], Any] | None = None,
                 on_state: StateCallback | None = None, backoff: Backoff | None = None) -> None:
        super().__init__(name, on_state=on_state, backoff=backoff)
        self.on_key = on_key
        self.ignored = 0

    def show_text(self, address: int, text: str) -> None:
        """Show a short text on the pad's display ("A023 已呼叫"); non-blocking."""
        self.send_frame(encode_frame(address, DISPLAY, gb2312_text(text)))

    def _dispatch(self, frame: Frame) -> None:
        key = decode_key(frame)
        if key is None:
            self.ignored += 1
            log.debug("callpad %s: ignored frame %r", self.name, frame)
            return
        call_safely(self.on_key, key)


class SerialCallPad(CallPad):
    settings_fields = ("port", "baudrate")

    def __init__(self, name: str, *, port: str, baudrate: int = 9600,
                 opener: Callable[..., serial.SerialBase] | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.wire = SerialWire(port, baudrate, self.health, self.backoff, opener)


class VirtualCallPad(VirtualPadMixin, CallPad):
    """The virtual twin: ``press(address, key, arg)``; ``texts`` records what pads showed."""

    settings_fields = ()

    def __init__(self, name: str, *, history: int = 200, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.wire = VirtualWire(self.health, history)

    def press(self, address: int, key: str, arg: int | None = None) -> None:
        self.inject(encode_key(address, key, arg))

    @property
    def texts(self) -> list[tuple[int, str]]:
        frames = [f for sent in list(self.wire.sent) for f in FrameParser().feed(sent)]
        return [(f.address, f.payload.decode("gb2312")) for f in frames]


#: ``driver`` in config → class.
CALLPAD_DRIVERS: dict[str, type[CallPad]] = {"serial": SerialCallPad, "virtual": VirtualCallPad}
