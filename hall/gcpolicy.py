"""Garbage collection for a server that holds thousands of live connections all day.

CPython's full collection walks every object the process holds: with 2,000 websocket clients
that took 150–660 ms (bench/live_fanout.py, gc callbacks), during which a gevent process
answers nothing — one such pause in a minute set the p99 of call → screen delivery. What it
found was a few hundred objects each time: the connections are not garbage, they are long-lived.

So a serving process (``install``) freezes what start-up built (modules, the app, the ORM), keeps
the young collections (cheap, they catch almost all cyclic garbage), and runs the full collection
itself once a day at ``FULL_AT`` local time, when halls are closed, instead of whenever the
allocation counters say.
"""
from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time

log = logging.getLogger(__name__)

FULL_AT = dt.time(3, 0)
_NEVER = 2**31 - 1  # generation 2's threshold: the automatic full collection does not happen


def install(full_at: dt.time = FULL_AT) -> threading.Thread:
    """Freeze start-up's objects, leave full collections to a daily run; returns its thread."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    thread = threading.Thread(target=_daily, args=(full_at,), name="hall-gc", daemon=True)
    thread.start()
    log.info("full garbage collections run daily at %s (and not during opening hours)", full_at)
    return thread


def seconds_until(at: dt.time, now: dt.datetime) -> float:
    """Seconds from ``now`` (local, naive) to the next ``at``."""
    target = dt.datetime.combine(now.date(), at)
    if target <= now:
        target += dt.timedelta(days=1)
    return (target - now).total_seconds()


def collect_full() -> tuple[int, float]:
    """One full collection now; (objects collected, seconds it took)."""
    start = time.perf_counter()
    gc.unfreeze()  # what was frozen at start-up may have become garbage since
    found = gc.collect()
    gc.freeze()
    return found, time.perf_counter() - start


def _daily(at: dt.time) -> None:
    while True:
        time.sleep(seconds_until(at, dt.datetime.now()))
        found, took = collect_full()
        log.info("daily full garbage collection: %d objects in %.0f ms", found, took * 1000)
