"""The city day's evaluation: what every client should have got, what it got, how late."""
from __future__ import annotations

import array
import bisect
import collections
import dataclasses

GAP_WAIT_S = 1.0  # hall/static/js/live.js GAP_WAIT_MS: how long a hall page waits for a late event


@dataclasses.dataclass
class Figures:
    lines: list[str]
    data: dict
    ok: bool


def evaluate(sessions: list[dict], truth: dict, final: dict[str, int], calls: list[tuple],
             home: dict[str, int], routing: str) -> dict:
    # rooms → seqs, per hall, from the events as the clients received them (first copy of each)
    by_window: dict[tuple[str, int], list[int]] = collections.defaultdict(list)
    by_ticket: dict[tuple[str, int], list[int]] = collections.defaultdict(list)
    by_queue: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    called: dict[str, dict[tuple[int, int], list[int]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for (hall, seq), (name, ticket, _status, window, queue) in sorted(truth.items()):
        if window is not None:
            by_window[(hall, window)].append(seq)
        if ticket is not None:
            by_ticket[(hall, ticket)].append(seq)
        if queue is not None:
            by_queue[(hall, queue)].append(seq)
        if name == "ticket.called":
            called[hall][(ticket, window)].append(seq)
    # each ticket.called event ↔ the call that made it: same hall, ticket and window, in order
    sent: dict[tuple[str, int], tuple[float, float, int]] = {}
    mine: dict[tuple[str, int, int], list[tuple]] = collections.defaultdict(list)
    for c in calls:
        if c[2] is not None:
            mine[(c[0], c[2], c[1])].append(c)
    unmatched = 0
    for hall, keys in called.items():
        for (ticket, window), seqs in keys.items():
            made = sorted(mine.get((hall, ticket, window), []), key=lambda c: c[3])
            unmatched += abs(len(made) - len(seqs))
            for seq, c in zip(seqs, made):
                sent[(hall, seq)] = (c[3], c[4], c[7])
    expected_n = delivered_n = duplicates = misrouted = late_seen = 0
    missing_by_kind: collections.Counter = collections.Counter()
    expected_by_kind: collections.Counter = collections.Counter()
    lat_sent: dict[str, list[float]] = collections.defaultdict(list)
    lat_answer: dict[str, list[float]] = collections.defaultdict(list)
    lat_cross: dict[str, list[float]] = collections.defaultdict(list)
    out_of_order = resyncs = 0
    reordered: set[tuple[str, int]] = set()
    for s in sessions:
        if s["error"].startswith("connect failed") or not s["snap"]:
            continue  # never connected: counted as a connect failure
        kind = s["kind"]
        per_hall = ([(h, *s["extra_halls"][h]) if h in s["extra_halls"] else (h, array.array("q"), array.array("d"))
                     for h in s["halls"]] if kind == "city" else [(s["hall"], s["seqs"], s["times"])])
        for hall, seqs, times in per_hall:
            if hall not in s["snap"]:
                continue
            lo, hi = s["snap"][hall], s["end"].get(hall, final.get(hall, 0))
            got: dict[int, float] = {}
            hall_room = kind in ("screen", "kiosk", "dashboard", "city")
            previous = shown = lo  # shown: the seq a hall page (live.js) is at
            held: set[int] = set()  # live.js: events after a gap wait GAP_WAIT_S for the missing one
            gap_since = 0.0
            for seq, t in zip(seqs, times):
                if seq in got:
                    duplicates += 1
                    continue
                got[seq] = t
                if lo < seq < previous:
                    out_of_order += 1
                    reordered.add((hall, seq))
                previous = max(previous, seq)
                if not hall_room:
                    continue
                if held and t - gap_since > GAP_WAIT_S:  # it gave up: emit("resync"), a new snapshot
                    resyncs += 1
                    shown, held = max(shown, *held), set()
                if seq == shown + 1:
                    shown = seq
                    while shown + 1 in held:
                        held.discard(shown + 1)
                        shown += 1
                elif seq > shown:
                    if not held:
                        gap_since = t
                    held.add(seq)
            resyncs += bool(held)  # still waiting at the end: it will ask
            if kind in ("screen", "kiosk", "dashboard", "city"):
                expected = range(lo + 1, hi + 1)
            elif kind == "window":
                expected = _between(by_window.get((hall, s["window"]), []), lo, hi)
            else:  # mobile: its ticket's room and its queue's room
                expected = sorted(set(_between(by_ticket.get((hall, s["ticket"]), []), lo, hi))
                                  | set(_between(by_queue.get((hall, s["queue"]), []), lo, hi)))
            wanted = set(expected)
            expected_by_kind[kind] += len(wanted)
            for seq in wanted:
                t = got.get(seq)
                if t is None:
                    missing_by_kind[kind] += 1
                    continue
                delivered_n += 1
                call = sent.get((hall, seq))
                if call is not None:
                    ms_sent, ms_answer = (t - call[0]) * 1000, (t - call[1]) * 1000
                    lat_sent[kind].append(ms_sent)
                    lat_answer[kind].append(ms_answer)
                    lat_cross["same process" if s["server"] == call[2] else "other process"].append(ms_sent)
            expected_n += len(wanted)
            misrouted += sum(1 for seq in got if lo < seq <= hi and seq not in wanted)
            late_seen += sum(1 for seq in got if seq > hi)
    return {"expected": expected_n, "delivered": delivered_n, "duplicates": duplicates,
            "misrouted": misrouted, "after_end": late_seen, "out_of_order": out_of_order,
            "reordered_events": len(reordered), "resyncs": resyncs,
            "reordered_names": dict(collections.Counter(truth[k][0] for k in reordered if k in truth)),
            "missing_by_kind": dict(missing_by_kind), "expected_by_kind": dict(expected_by_kind),
            "lat_sent": dict(lat_sent), "lat_answer": dict(lat_answer), "lat_cross": dict(lat_cross),
            "calls_matched": len(sent), "calls_unmatched": unmatched}


def _between(seqs: list[int], lo: int, hi: int) -> list[int]:
    return seqs[bisect.bisect_right(seqs, lo):bisect.bisect_right(seqs, hi)]
