"""Evaluation pads (评价器): a 1–5 key press per window, reported as a PadRating.

Protocol "hall-pad-v1" (the framing of :mod:`devices.framing`)::

    STX 0x02 | address | command | length n | payload | XOR checksum | ETX 0x03

    pad → host  0x52 'R' RATE    payload = level (1 byte, 1 very dissatisfied … 5 very satisfied)
    host → pad  0x50 'P' PROMPT  payload = GB2312 text, at most 32 bytes ("请评价")

The address is the pad's, which by default is its window number. A RATE
frame with a bad length or a level outside 1–5 is ignored.
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

RATE = 0x52
PROMPT = 0x50
LEVELS = range(1, 6)


@dataclasses.dataclass(frozen=True)
class PadRating:
    """A key 1–5 pressed on the evaluation pad at ``address``."""

    address: int
    level: int


def encode_rating(address: int, level: int) -> bytes:
    return encode_frame(address, RATE, bytes([level]))


def decode_rating(frame: Frame) -> PadRating | None:
    if frame.command == RATE and len(frame.payload) == 1 and frame.payload[0] in LEVELS:
        return PadRating(frame.address, frame.payload[0])
    return None


class EvalPad(PadWorker):
    """Base of the evaluation pad drivers (one serial line, many addressed pads)."""

    kind = "evalpad"

    def __init__(self, name: str, *, on_rating: Callable[[PadRating], Any] | None = None,
                 on_state: StateCallback | None = None, backoff: Backoff | None = None) -> None:
        super().__init__(name, on_state=on_state, backoff=backoff)
        self.on_rating = on_rating
        self.ignored = 0

    def prompt(self, address: int, text: str = "请评价") -> None:
        """Show a short text on the pad (non-blocking)."""
        self.send_frame(encode_frame(address, PROMPT, gb2312_text(text)))

    def _dispatch(self, frame: Frame) -> None:
        rating = decode_rating(frame)
        if rating is None:
            self.ignored += 1
            log.debug("evalpad %s: ignored frame %r", self.name, frame)
            return
        call_safely(self.on_rating, rating)


class SerialEvalPad(EvalPad):
    settings_fields = ("port", "baudrate")

    def __init__(self, name: str, *, port: str, baudrate: int = 9600,
                 opener: Callable[..., serial.SerialBase] | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.wire = SerialWire(port, baudrate, self.health, self.backoff, opener)


class VirtualEvalPad(VirtualPadMixin, EvalPad):
    """The virtual twin: ``press(address, level)``; ``prompts`` records what pads showed."""

    settings_fields = ()

    def __init__(self, name: str, *, history: int = 200, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.wire = VirtualWire(self.health, history)

    def press(self, address: int, level: int) -> None:
        self.inject(encode_rating(address, level))

    @property
    def prompts(self) -> list[tuple[int, str]]:
        frames = [f for sent in list(self.wire.sent) for f in FrameParser().feed(sent)]
        return [(f.address, f.payload.decode("gb2312")) for f in frames]


#: ``driver`` in config → class.
EVALPAD_DRIVERS: dict[str, type[EvalPad]] = {"serial": SerialEvalPad, "virtual": VirtualEvalPad}
