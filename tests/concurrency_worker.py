"""A process that issues tickets into a shared database (used by test_concurrency)."""
from __future__ import annotations

import pathlib
import sys
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def issue_many(tmp: str, count: int, threads: int, queues: str, clock_iso: str,
               database: str | None = None) -> list[str]:
    from support import FrozenClock, settings_for
    from hall import runtime, tickets
    from hall.clock import parse_instant
    rt = runtime.start(settings_for(pathlib.Path(tmp), database=database),
                       clock=FrozenClock(parse_instant(clock_iso)))
    hall = rt.halls["T1"]
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int, offset: int) -> None:
        try:
            _work(n, offset)
        except BaseException as err:  # reported to the test below, not lost in a thread
            errors.append(err)

    def _work(n: int, offset: int) -> None:
        for i in range(n):
            queue = queues[(i + offset) % len(queues)]
            with rt.db.write() as session:
                issued = tickets.issue_ticket(session, hall, tickets.IssueRequest(queue=queue),
                                              "kiosk", rt.clock.now())
            with lock:
                numbers.append(issued.view["number"])

    per = count // threads
    pool = [threading.Thread(target=work, args=(per, k)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    rt.close()
    if errors:
        raise errors[0]
    return numbers
