"""The city day's report: the figures of a run, as lines and as data, and whether it met its aims."""
from __future__ import annotations

import collections
import os

from common import percentile

from .evaluate import GAP_WAIT_S, Figures, evaluate


def _ms(values: list[float]) -> str:
    if not values:
        return f"{0:>9} {'–':>9} {'–':>9} {'–':>9}"
    return (f"{len(values):>9,} {percentile(values, 50):>9.1f} {percentile(values, 99):>9.1f} "
            f"{max(values):>9.1f}")


def report(opts, visitors, city, codes, specs, mobile_cap, ready, done, results, final, stats, home,
           t0, t_day_end, t_end, t_start, server_cpu_day, server_cpu_total, pg_day, redis_cpu_day,
           machine0, machine_day, self_day, load0, say) -> Figures:
    issues = [i for d in done.values() for i in d["issues"]]
    calls = [c for d in done.values() for c in d["calls"]]
    actions = collections.Counter()
    for d in done.values():
        actions.update({tuple(k) if isinstance(k, list) else k: v for k, v in d["actions"].items()})
    truth: dict = {}
    for r in results:
        for key, value in r["truth"].items():
            truth.setdefault(key, value)
    sessions = [s for r in results for s in r["sessions"]]
    ev = evaluate(sessions, truth, final, calls, home, opts.routing)
    issued = [i for i in issues if i[2] == 201 and i[7]]
    refused = [i for i in issues if not (i[2] == 201 and i[7])]
    numbers = collections.Counter((i[0], i[7]) for i in issued)
    duplicate_numbers = sum(n - 1 for n in numbers.values() if n > 1)
    n_vis = max(1, len(issued))  # CPU per visitor: per visitor who got a ticket
    issue_ms = [(i[6] - i[5]) * 1000 for i in issued]
    kiosk_wait_ms = [(i[5] - i[4]) * 1000 for i in issues]
    call_ms = [(c[4] - c[3]) * 1000 for c in calls if c[6] == 200]
    call_with_ms = [(c[4] - c[3]) * 1000 for c in calls if c[6] == 200 and c[2] is not None]
    other_ms: dict[str, list[float]] = collections.defaultdict(list)
    for d in done.values():
        for verb, values in d["latencies"].items():
            other_ms[verb] += [v * 1000 for v in values]
    day_s = t_day_end - t0
    arrivals_s = max((v.arrive_s for v in visitors), default=0) / opts.speed
    lat_all_sent = [x for v in ev["lat_sent"].values() for x in v]
    lat_all_answer = [x for v in ev["lat_answer"].values() for x in v]
    share = ev["delivered"] / ev["expected"] if ev["expected"] else float("nan")
    mobile = {k: sum(r["mobile"][k] for r in results) for k in ("opened", "skipped", "peak")}
    unfinished = sum(d["unfinished"] for d in done.values())
    arrived = sum(d["arrived"] for d in done.values())
    stopped = any(d["stopped"] for d in done.values())
    worker_cpu_day = sum(d["cpu_day"] for d in done.values())
    worker_cpu_all = sum(r["cpu_day_and_drain"] for r in results)
    lags = sorted(x * 1000 for r in results for x in r["loop_lag"])
    disconnects = sum(r["disconnects"] for r in results)
    foreign: collections.Counter = collections.Counter()
    for r in results:
        foreign.update(r["foreign"])
    failures = [f for r in results for f in r["connect_failures"]]
    # connected at once: per worker samples every second; add up the workers' by time slot
    slots: dict[int, int] = collections.defaultdict(int)
    for r in results:
        per_slot: dict[int, int] = {}
        for t, n in r["connected_samples"]:
            per_slot[int(t - t0)] = n
        for k, n in per_slot.items():
            slots[k] += n
    in_day = [n for k, n in slots.items() if 0 <= k <= day_s]
    busy_day = machine_day[0] - machine0[0]
    wall_day = machine_day[1] - machine0[1]
    server_day = sum(server_cpu_day)
    lines = []
    lines.append(f"day: {day_s:.1f} s wall from the first arrival to the last visitor done "
                 f"(arrivals span {arrivals_s:.1f} s){' — STOPPED before the end' if stopped else ''}; "
                 f"whole run {t_end - t_start:.0f} s")
    lines.append(f"visitors {len(visitors):,}"
                 + (f" ({arrived:,} arrived before the stop, {arrived - len(issues):,} of them still at a kiosk)"
                    if stopped else "")
                 + f": issued {len(issued):,}, refused or failed {len(refused):,}, "
                 f"duplicate numbers {duplicate_numbers}, not finished {unfinished}; tickets in the database: "
                 + ", ".join(f"{k} {v:,}" for k, v in sorted(stats.items())))
    lines.append(f"calls {len(calls):,} ({sum(1 for c in calls if c[2] is not None):,} with a ticket); "
                 f"other clerk actions: " + ", ".join(f"{k} {len(v):,}" for k, v in sorted(other_ms.items())))
    bad = {f"{a} {s}": n for (a, s), n in actions.items() if not (s in (200, 201))}
    if bad:
        lines.append(f"unexpected answers: {bad}")
    lines.append(f"{'latency, ms':<44}{'n':>9} {'p50':>9} {'p99':>9} {'max':>9}")
    lines.append(f"{'issue (POST /tickets, sent → answered)':<44}{_ms(issue_ms)}")
    lines.append(f"{'  kiosk queueing (arrival → sent, 2 kiosks)':<44}{_ms(kiosk_wait_ms)}")
    lines.append(f"{'call (POST …/call, sent → answered)':<44}{_ms(call_ms)}")
    lines.append(f"{'  calls that called a ticket':<44}{_ms(call_with_ms)}")
    for verb in sorted(other_ms):
        lines.append(f"{'  ' + verb:<44}{_ms(other_ms[verb])}")
    lines.append(f"{'call → ticket.called delivered (from sent)':<44}{_ms(lat_all_sent)}")
    lines.append(f"{'call → ticket.called delivered (from answer)':<44}{_ms(lat_all_answer)}")
    for kind in ("screen", "kiosk", "dashboard", "window", "mobile", "city"):
        if ev["lat_sent"].get(kind):
            lines.append(f"{'  at ' + kind + ' clients (from sent)':<44}{_ms(ev['lat_sent'][kind])}")
    if True:
        for where in ("same process", "other process"):
            if ev["lat_cross"].get(where):
                lines.append(f"{'  client on the ' + where + ' as the call':<44}{_ms(ev['lat_cross'][where])}")
    lines.append(f"delivered {ev['delivered']:,}/{ev['expected']:,} ({100 * share:.2f} %); missing by kind "
                 f"{ev['missing_by_kind'] or 0}; duplicates {ev['duplicates']}, misrouted {ev['misrouted']}; "
                 f"arrived after a higher seq {ev['out_of_order']:,} times ({ev['reordered_events']:,} events"
                 f"{': ' + ', '.join(f'{k} {v}' for k, v in sorted(ev['reordered_names'].items())) if ev['reordered_names'] else ''}), "
                 f"hall pages (waiting up to {GAP_WAIT_S:g} s for a late one) would have resynced {ev['resyncs']:,} "
                 f"times; calls matched to their event "
                 f"{ev['calls_matched']:,} (unmatched {ev['calls_unmatched']})")
    if foreign:
        by_hall = collections.Counter()
        for (_kind, hall, _name), n in foreign.items():
            by_hall[hall] += n
        lines.append(f"foreign events (another Hall installation on the same Redis: pub/sub channels are "
                     f"per server, not per db): {sum(foreign.values()):,} received and set aside, by hall "
                     f"{dict(by_hall.most_common(5))}")
    lines.append(f"clients: connected at once during the day mean {statistics_mean(in_day):,.0f}, peak "
                 f"{max(in_day, default=0):,}; mobile tickets opened {mobile['opened']:,} (at most "
                 f"{mobile_cap:,} at once; {mobile['skipped']:,} visitors found no room); unexpected "
                 f"disconnects {disconnects}; failed connects {len(failures)}"
                 + (f" e.g. {failures[0]}" if failures else ""))
    lines.append(f"load generator: {len(results)} workers, event-loop lag p50 {percentile(lags, 50):.1f} ms, "
                 f"p99 {percentile(lags, 99):.1f} ms, max {max(lags, default=float('nan')):.1f} ms")
    lines.append(f"{'CPU, seconds (first arrival → last visitor)':<44}{'day':>9} {'ms/visitor':>10}")
    cpu_rows = [("servers (2 gunicorn trees, /proc)", server_day),
                *((f"  server{i + 1}", c) for i, c in enumerate(server_cpu_day)),
                ("PostgreSQL backends of the run's database", pg_day),
                ("Redis (the whole server)", redis_cpu_day),
                ("load generator (workers + main)", worker_cpu_day + self_day),
                ("machine, all processes (/proc/stat)", busy_day)]
    for name, value in cpu_rows:
        lines.append(f"{name:<44}{value:>9.1f} {1000 * value / n_vis:>10.1f}")
    lines.append(f"machine: {busy_day / max(1e-9, wall_day):.0%} of its {os.cpu_count()} cores busy during the day "
                 f"(others' processes: {busy_day - server_day - pg_day - max(0, redis_cpu_day if redis_cpu_day == redis_cpu_day else 0) - worker_cpu_day - self_day:.0f} s); "
                 f"servers since start {sum(server_cpu_total):.0f} s; load average "
                 f"{load0[0]:.2f} → {os.getloadavg()[0]:.2f}")
    p99 = percentile(lat_all_sent, 99)
    targets = [("day ≤ 10 min wall", day_s <= 600 and not stopped,
                f"{day_s:.0f} s" + (", stopped before the day was over" if stopped else "")),
               ("call → delivery p99 ≤ 200 ms", p99 <= 200, f"{p99:.0f} ms"),
               ("100 % delivered", ev["delivered"] == ev["expected"] and ev["expected"] > 0, f"{100 * share:.2f} %")]
    lines.append("targets: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'} ({value})"
                                         for name, ok, value in targets))
    for line in lines:
        say(line)
    data = {"visitors": len(visitors), "arrived": arrived, "issued": len(issued), "refused": len(refused),
            "duplicate_numbers": duplicate_numbers, "unfinished": unfinished, "stopped": stopped,
            "day_s": day_s, "arrivals_s": arrivals_s, "run_s": t_end - t_start,
            "issue_ms": _pcts(issue_ms), "kiosk_wait_ms": _pcts(kiosk_wait_ms), "call_ms": _pcts(call_ms),
            "call_with_ticket_ms": _pcts(call_with_ms),
            "other_ms": {k: _pcts(v) for k, v in other_ms.items()},
            "delivery_from_sent_ms": _pcts(lat_all_sent), "delivery_from_answer_ms": _pcts(lat_all_answer),
            "delivery_by_kind_ms": {k: _pcts(v) for k, v in ev["lat_sent"].items()},
            "delivery_by_process_ms": {k: _pcts(v) for k, v in ev["lat_cross"].items()},
            "expected": ev["expected"], "delivered": ev["delivered"], "delivered_share": share,
            "missing_by_kind": ev["missing_by_kind"], "expected_by_kind": ev["expected_by_kind"],
            "duplicates": ev["duplicates"], "misrouted": ev["misrouted"], "out_of_order": ev["out_of_order"],
            "reordered_events": ev["reordered_events"], "reordered_names": ev["reordered_names"],
            "resyncs": ev["resyncs"],
            "foreign_events": sum(foreign.values()),
            "connected_mean": statistics_mean(in_day), "connected_peak": max(in_day, default=0),
            "mobile": mobile, "mobile_cap": mobile_cap, "disconnects": disconnects,
            "connect_failures": len(failures), "clients_fixed": len(specs),
            "cpu_s": dict(cpu_rows), "machine_busy_share": busy_day / max(1e-9, wall_day),
            "loop_lag_ms": _pcts(lags), "answers": {f"{a} {s}": n for (a, s), n in actions.items()},
            "tickets_by_status": stats, "final_seq_total": sum(final.values()),
            "targets": {name: ok for name, ok, _ in targets}}
    ok = (len(issued) == len(visitors) and not stopped and ev["expected"] > 0
          and ev["delivered"] == ev["expected"] and unfinished == 0)
    return Figures(lines, data, ok)


def statistics_mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def _pcts(values: list[float]) -> dict:
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values, default=float("nan"))}
