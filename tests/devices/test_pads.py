"""Evaluation pads and call pads: canned frames, random garbage, a pty, the virtual twins."""
from __future__ import annotations

import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.callpad import PadKey, SerialCallPad, VirtualCallPad, decode_key, encode_key
from devices.evalpad import (PadRating, SerialEvalPad, VirtualEvalPad, decode_rating,
                             encode_rating)
from devices.framing import STX, Frame, FrameParser, encode_frame
from devices.health import Backoff, DeviceState


def frame(address: int, command: int, payload: bytes) -> bytes:
    """Built by hand from the documented format, not with encode_frame."""
    check = address ^ command ^ len(payload)
    for b in payload:
        check ^= b
    return bytes([0x02, address, command, len(payload)]) + payload + bytes([check, 0x03])


RATING_FRAMES = [
    (frame(5, 0x52, b"\x05"), PadRating(5, 5)),
    (frame(12, 0x52, b"\x01"), PadRating(12, 1)),
    (frame(12, 0x52, b"\x00"), None),  # level out of range
    (frame(12, 0x52, b"\x06"), None),
    (frame(12, 0x52, b"\x03\x03"), None),  # wrong length
    (frame(12, 0x4B, b"\x01"), None),  # a call pad key on the rating line
]

KEY_FRAMES = [
    (frame(3, 0x4B, b"\x01"), PadKey(3, "call")),
    (frame(3, 0x4B, b"\x02"), PadKey(3, "recall")),
    (frame(3, 0x4B, b"\x03"), PadKey(3, "no_show")),
    (frame(3, 0x4B, b"\x04"), PadKey(3, "finish")),
    (frame(3, 0x4B, b"\x05"), PadKey(3, "pause")),
    (frame(3, 0x4B, b"\x06"), PadKey(3, "resume")),
    (frame(3, 0x4B, b"\x07\x00\x0c"), PadKey(3, "transfer", 12)),
    (frame(3, 0x4B, b"\x07\x01\x00"), PadKey(3, "transfer", 256)),
    (frame(3, 0x4B, b"\x07"), None),  # transfer without a target
    (frame(3, 0x4B, b"\x01\x00"), None),  # call with an argument
    (frame(3, 0x4B, b"\x09"), None),  # unknown key
    (frame(3, 0x4B, b""), None),
    (frame(3, 0x52, b"\x05"), None),  # a rating on the call pad line
]


@pytest.mark.parametrize("raw, expected", RATING_FRAMES)
def test_rating_frames(raw, expected):
    (parsed,) = FrameParser().feed(raw)
    assert decode_rating(parsed) == expected
    if expected:
        assert encode_rating(expected.address, expected.level) == raw


@pytest.mark.parametrize("raw, expected", KEY_FRAMES)
def test_key_frames(raw, expected):
    (parsed,) = FrameParser().feed(raw)
    assert decode_key(parsed) == expected
    if expected:
        assert encode_key(expected.address, expected.key, expected.arg) == raw


@pytest.mark.parametrize("broken", [
    frame(1, 0x52, b"\x05")[:-1] + b"\x04",  # ETX wrong
    frame(1, 0x52, b"\x05")[:-2] + b"\x00\x03",  # checksum wrong
    frame(1, 0x52, b"\x05")[:4],  # truncated
    b"\x02\x01\x52\xff",  # length beyond the pad maximum
    b"\x03\x03\x02",
])
def test_a_broken_frame_then_a_good_one(broken):
    parser = FrameParser(max_payload=64)
    good = frame(9, 0x4B, b"\x04")
    assert parser.feed(broken + good) == [Frame(9, 0x4B, b"\x04")]


def test_frames_split_anywhere_are_reassembled():
    stream = frame(1, 0x52, b"\x04") + frame(2, 0x4B, b"\x07\x00\x05")
    parser = FrameParser()
    out = []
    for b in stream:
        out += parser.feed(bytes([b]))
    assert [decode_rating(out[0]), decode_key(out[1])] == [PadRating(1, 4),
                                                          PadKey(2, "transfer", 5)]


valid_frames = st.lists(
    st.one_of(
        st.builds(encode_rating, st.integers(1, 254), st.integers(1, 5)),
        st.builds(encode_key, st.integers(1, 254),
                  st.sampled_from(["call", "recall", "no_show", "finish", "pause", "resume"])),
        st.builds(lambda a, t: encode_key(a, "transfer", t), st.integers(1, 254),
                  st.integers(0, 0xFFFF)),
    ), min_size=1, max_size=5)
garbage = st.lists(
    st.one_of(st.binary(max_size=40),
              valid_frames.map(lambda fs: fs[0][:-1]),  # truncated frames
              st.just(b"\x02"), st.just(b"\x02\x05\x4b\x40")),
    max_size=6).map(b"".join)


@settings(max_examples=120, derandomize=True, deadline=None)
@given(garbage=garbage, good=valid_frames, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_random_garbage_never_raises_and_good_frames_after_it_are_read(garbage, good, cuts):
    stream = garbage + b"".join(good)
    parser = FrameParser(max_payload=64)
    out = []
    last = 0
    for cut in sorted(c for c in cuts if c <= len(stream)) + [len(stream)]:
        out += parser.feed(stream[last:cut])
        last = cut
    expected = [FrameParser().feed(g)[0] for g in good]
    if STX not in garbage:
        assert out[len(out) - len(expected):] == expected
    # Garbage with a start byte can, rarely, form a header whose length and checksum happen to
    # fit over the good bytes that follow; the line going idle (the reader resets the parser on
    # an empty read) re-synchronises: after a gap every good frame is read.
    parser.reset()
    parser.feed(garbage)
    parser.reset()
    assert parser.feed(b"".join(good)) == expected
    for parsed in out:  # whatever garbage decoded to, the decoders never raise
        decode_key(parsed), decode_rating(parsed)


class Collected:
    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def __call__(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait(self, count, timeout=2.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) >= count, timeout), self.items
            return list(self.items)


def test_serial_call_pad_over_a_pty(pty_pair, read_until, state_log):
    master, path = pty_pair
    keys = Collected()
    pad = SerialCallPad("pads-1", port=path, on_key=keys, on_state=state_log).start()
    try:
        state_log.wait_for(DeviceState.ONLINE)  # opening the port flushes its input
        os.write(master, b"\xff\x00" + encode_key(3, "call") + b"\x02\x03"
                 + encode_key(4, "transfer", 7))
        assert keys.wait(2) == [PadKey(3, "call"), PadKey(4, "transfer", 7)]
        pad.show_text(3, "A023 已呼叫")
        expected = encode_frame(3, 0x44, "A023 已呼叫".encode("gb2312"))
        assert read_until(master, lambda d: expected in d) == expected
        assert pad.state == DeviceState.ONLINE
    finally:
        pad.stop()


def test_serial_eval_pad_over_a_pty_survives_a_failing_listener(pty_pair, state_log):
    master, path = pty_pair
    ratings = Collected()

    def on_rating(rating):
        ratings(rating)
        if rating.level == 1:
            raise RuntimeError("listener bug")

    pad = SerialEvalPad("eval-1", port=path, on_rating=on_rating, on_state=state_log).start()
    try:
        state_log.wait_for(DeviceState.ONLINE)
        os.write(master, encode_rating(6, 1) + encode_rating(6, 5))
        assert ratings.wait(2) == [PadRating(6, 1), PadRating(6, 5)]
    finally:
        pad.stop()


def test_virtual_pads_report_presses_and_record_texts(state_log):
    keys, ratings = Collected(), Collected()
    callpad = VirtualCallPad("pads", on_key=keys, on_state=state_log,
                             backoff=Backoff(0.01, 0.02)).start()
    evalpad = VirtualEvalPad("eval", on_rating=ratings).start()
    try:
        callpad.press(2, "finish")
        evalpad.press(2, 4)
        assert keys.wait(1) == [PadKey(2, "finish")]
        assert ratings.wait(1) == [PadRating(2, 4)]
        callpad.fail()
        callpad.press(2, "call")  # a dead pad sends nothing
        callpad.show_text(2, "暂停服务")
        assert not callpad.wait_sent(0.05)
        callpad.recover()
        assert callpad.wait_sent(2)
        assert callpad.texts == [(2, "暂停服务")]
        evalpad.prompt(2)
        assert evalpad.wait_sent(2) and evalpad.prompts == [(2, "请评价")]
        callpad.press(2, "pause")
        assert keys.wait(2) == [PadKey(2, "finish"), PadKey(2, "pause")]
        assert state_log.states == [DeviceState.OFFLINE, DeviceState.ONLINE]
    finally:
        callpad.stop()
        evalpad.stop()
