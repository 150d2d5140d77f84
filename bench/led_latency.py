"""Call-to-screen latency on one LED bus: priority queue with superseding vs a naive FIFO writer.

The reference hall: 52 window screens (addresses 1–52) on one RS-485 bus at
9600 baud. Each round queues a full repaint of all 52 screens, then makes 20
calls over 2 s (each with two status updates of other windows, and a second
repaint half-way). A reader thread on the master side of a pty pair parses the
frames; because a pty does not drain at the baud rate, the reader models the
wire: a frame is complete at max(arrival, previous frame complete) + its wire
time (bytes × 10 / baud). Latency = submit of the call → the called window's
frame complete on the wire. Both writers send one frame at a time with the
same wire-time pacing; only the order differs.

Run: .venv/bin/python bench/led_latency.py   (about 25 s)
"""
from __future__ import annotations

import math
import os
import pathlib
import queue
import random
import select
import sys
import threading
import time
import tty

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import serial  # noqa: E402

from devices.framing import FrameParser  # noqa: E402
from devices.ledbus import HallLedV1, ScreenContent, SerialLedBus  # noqa: E402

BAUD = 9600
WINDOWS = list(range(1, 53))
CALLS, BURST_S, ROUNDS, SEED = 20, 2.0, 3, 20250304
TARGET_P99_MS = 80.0


def wire_time(frame: bytes) -> float:
    return len(frame) * 10 / BAUD


class WireReader(threading.Thread):
    """Master side of the pty: parses frames and timestamps their modelled completion."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master, self.parser, self.protocol = master, FrameParser(), HallLedV1()
        self.complete: dict[str, float] = {}  # ticket number of a call frame → complete time
        self.frames = 0
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self._wire_free = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            data = os.read(self.master, 4096)
            arrived = time.monotonic()
            for frame in self.parser.feed(data):
                raw_len = len(frame.payload) + 6
                self._wire_free = max(arrived, self._wire_free) + raw_len * 10 / BAUD
                content = self.protocol.decode(frame.payload)
                with self.cond:
                    self.frames += 1
                    if content.line1.startswith("请 "):
                        self.complete[content.line1.split()[1]] = self._wire_free
                    self.cond.notify_all()

    def wait_calls(self, numbers: list[str], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: all(n in self.complete for n in numbers), timeout)


class NaiveFifoWriter:
    """The baseline: every frame written in submit order, no priority, nothing superseded."""

    def __init__(self, path: str) -> None:
        self.port = serial.serial_for_url(path, baudrate=BAUD)
        self.protocol = HallLedV1()
        self.jobs: queue.Queue[bytes | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def show(self, content: ScreenContent, priority: str = "update") -> None:
        self.jobs.put(self.protocol.encode(content.window, content))

    def call(self, content: ScreenContent) -> None:
        self.show(content, "call")

    def _run(self) -> None:
        while (frame := self.jobs.get()) is not None:
            self.port.write(frame)
            self.port.flush()
            time.sleep(wire_time(frame))

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.jobs.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.jobs.empty()

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join(2)
        self.port.close()


def run_round(writer, reader: WireReader, rng: random.Random, round_no: int) -> list[float]:
    called = rng.sample(WINDOWS, CALLS)
    others = [w for w in WINDOWS if w not in called]
    numbers = [f"A{round_no}{i:02d}" for i in range(CALLS)]
    submitted: dict[str, float] = {}
    for window in WINDOWS:  # a full repaint is pending when the burst starts
        writer.show(ScreenContent.idle(window), "refresh")
    start = time.monotonic()
    for i, (window, number) in enumerate(zip(called, numbers)):
        due = start + i * BURST_S / CALLS + rng.uniform(0, 0.02)
        time.sleep(max(0.0, due - time.monotonic()))  # the load generator's own clock
        for other in rng.sample(others, 2):
            writer.show(ScreenContent(other, rng.choice(["欢迎光临", "暂停服务"]),
                                      f"{other}号窗口"), "update")
        submitted[number] = time.monotonic()
        writer.call(ScreenContent.calling(window, number))
        if i == CALLS // 2:
            for w in WINDOWS:
                if w not in called:
                    writer.show(ScreenContent.idle(w), "refresh")
    if not reader.wait_calls(numbers, timeout=15):
        raise SystemExit("not every call reached the wire")
    writer.wait_idle(15)
    return [(reader.complete[n] - submitted[n]) * 1000 for n in numbers]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(kind: str) -> tuple[list[float], int]:
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    reader = WireReader(master)
    reader.start()
    if kind == "priority":
        writer = SerialLedBus("bench", WINDOWS, port=path, baudrate=BAUD, pace=True,
                              heartbeat_s=None).start()
    else:
        writer = NaiveFifoWriter(path)
    rng = random.Random(SEED)  # the same workload for both writers
    try:
        latencies = [ms for r in range(ROUNDS) for ms in run_round(writer, reader, rng, r)]
    finally:
        writer.stop()
        reader.stop.set()
        reader.join(2)
        os.close(master)
        os.close(slave)
    return latencies, reader.frames


def main() -> None:
    started = time.monotonic()
    rows = [("priority + superseding", *measure("priority")),
            ("naive FIFO (baseline)", *measure("fifo"))]
    print(f"LED bus: {len(WINDOWS)} screens, {BAUD} baud, {CALLS} calls over {BURST_S:.0f} s "
          f"x {ROUNDS} rounds, repaints pending; pty + wire-time pacing")
    print(f"{'writer':<24}{'calls':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'frames':>8}")
    for name, latencies, frames in rows:
        print(f"{name:<24}{len(latencies):>6}{percentile(latencies, 50):>9.1f}"
              f"{percentile(latencies, 99):>9.1f}{max(latencies):>9.1f}{frames:>8}")
    p99 = percentile(rows[0][1], 99)
    verdict = "met" if p99 <= TARGET_P99_MS else "MISSED"
    print(f"target p99 <= {TARGET_P99_MS:.0f} ms: {verdict} ({p99:.1f} ms); "
          f"run took {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
