"""Length-prefixed serial frames shared by hall-led-v1 and hall-pad-v1, and their parser.

Wire format (all one byte each except the payload)::

    STX 0x02 | address | command | length n | payload (n bytes) | checksum | ETX 0x03

``checksum`` is the XOR of address, command, length and every payload byte.
The length prefix means payload bytes are never interpreted, so text that
contains 0x02 or 0x03 cannot fake a frame start or end; a frame is accepted
only when the ETX sits exactly where the length says and the checksum matches.
"""
from __future__ import annotations

from functools import reduce
from typing import NamedTuple

STX = 0x02
ETX = 0x03
HEADER = 4  # STX address command length
TRAILER = 2  # checksum ETX


class Frame(NamedTuple):
    address: int
    command: int
    payload: bytes


def checksum(address: int, command: int, payload: bytes) -> int:
    return reduce(lambda a, b: a ^ b, payload, address ^ command ^ len(payload))


def encode_frame(address: int, command: int, payload: bytes = b"") -> bytes:
    if not 0 <= address <= 255 or not 0 <= command <= 255:
        raise ValueError("address and command are one byte each")
    if len(payload) > 255:
        raise ValueError(f"payload of {len(payload)} bytes; at most 255")
    return bytes([STX, address, command, len(payload)]) + payload + bytes(
        [checksum(address, command, payload), ETX])


_OK, _BAD, _MORE = range(3)


class FrameParser:
    """Incremental: ``feed(bytes) -> list[Frame]``; garbage and broken frames are skipped.

    On a bad candidate only its STX is dropped and the search resumes at the next
    byte, so a valid frame that follows garbage is still found. A truncated frame
    whose length would swallow a complete valid frame behind it is abandoned for
    that frame. The buffer never holds more than one maximal frame.
    """

    def __init__(self, max_payload: int = 255) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()
        self.dropped = 0  # bytes discarded as garbage, for diagnostics

    def _check(self, pos: int) -> tuple[int, int]:
        buf = self._buf
        if len(buf) < pos + HEADER:
            return _MORE, 0
        length = buf[pos + 3]
        if length > self.max_payload:
            return _BAD, 0
        end = pos + HEADER + length + TRAILER
        if len(buf) < end:
            return _MORE, 0
        payload = bytes(buf[pos + HEADER:end - TRAILER])
        if buf[end - 1] != ETX or buf[end - 2] != checksum(buf[pos + 1], buf[pos + 2], payload):
            return _BAD, 0
        return _OK, end

    def _drop(self, n: int) -> None:
        self.dropped += n
        del self._buf[:n]

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while self._buf:
            start = self._buf.find(STX)
            if start < 0:
                self._drop(len(self._buf))
                break
            self._drop(start)
            status, end = self._check(0)
            if status == _OK:
                buf = self._buf
                frames.append(Frame(buf[1], buf[2], bytes(buf[HEADER:end - TRAILER])))
                del self._buf[:end]
            elif status == _BAD:
                self._drop(1)
            else:
                later = self._complete_frame_after(1)
                if later is None:
                    break
                self._drop(later)
        return frames

    def _complete_frame_after(self, pos: int) -> int | None:
        while True:
            pos = self._buf.find(STX, pos)
            if pos < 0:
                return None
            if self._check(pos)[0] == _OK:
                return pos
            pos += 1

    def reset(self) -> None:
        self._buf.clear()
