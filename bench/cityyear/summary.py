"""The city year's summary: one markdown table of every timing, per engine, and the load figures."""
from __future__ import annotations

from typing import Any


def print_summary(summaries: list[dict[str, Any]]) -> None:
    """One markdown table of every timing: median / max ms, from the rollups and raw, per engine."""
    engines = [s["engine"] for s in summaries]
    print("\n| report | " + " | ".join(f"{e} rollups | {e} raw" for e in engines) + " |")
    print("|---|" + "---:|---:|" * len(engines))
    for k, row in enumerate(summaries[0]["reports"]):
        cells = []
        for s in summaries:
            r = s["reports"][k]
            for mode in ("rollups", "raw"):
                cells.append(f"{r[mode][1]:,.1f} / {r[mode][2]:,.1f}" if mode in r else "–")
        print(f"| {row['what']} | " + " | ".join(cells) + " |")
    for s in summaries:
        load = s["load"]
        if s.get("reused"):
            print(f"{s['engine']}: the kept database, {load['tickets']:,} tickets, {s['size'] / 2**30:.2f} GiB; "
                  f"all equal: {all(r.get('equal', True) for r in s['reports'])}")
            continue
        print(f"{s['engine']}: {load['tickets']:,} tickets, {load['services']:,} services, {load['ratings']:,} "
              f"ratings, {load['window_events']:,} window events; loaded in {s['load_s']:.0f} s; "
              f"{s['size'] / 2**30:.2f} GiB, {s['size_after'] / 2**30:.2f} GiB with the rollups; end of day "
              f"{s['close_s']:.0f} s, median {s['close_ms'][0]:.1f} ms / max {s['close_ms'][1]:.1f} ms a hall-day; "
              f"all equal: {all(r.get('equal', True) for r in s['reports'])}")
