"""MAE of the ticket's expected wait over replayed days, next to the previous estimator and baselines.

    .venv/bin/python bench/forecast_eval.py [--seeds 1 2 3] [--limit N] [--set NAME=VALUE ...] [--avg-scale F]

Each seed is one day of make_day.py (seed 1 is bench/workloads/xiangshan-weekday.csv),
replayed by bench/replay.py. At every issue, inside the issue transaction, it records the
``expected_wait_s`` printed on the ticket (hall/forecast.py, told the ticket's class as
hall/present.py does) and, at the same instant:

* previous — the estimator of hall/forecast.py before issue #6, frozen in bench/forecast_previous.py
  (the queue played forward one visitor at a time, busy windows' rests as an exponential race);
* v1 — the first estimator of hall/forecast.py: ahead × mean of the queue's last 20 services
  (configured ``avg_service_s`` under 5) ÷ open windows serving it, each shared 1/k among the
  k queues with someone waiting;
* naive — ahead × the queue's mean service time so far today (configured before any) ÷ the
  open windows that serve the queue;
* Erlang C — the M/M/c mean wait in queue, λ = the queue's arrivals in the last 30 min,
  μ = 1 / that mean service time, c = the open windows serving it; when ρ = λ/(cμ) ≥ 1 (or no
  arrival yet) it falls back to naive.

The truth is the real wait of the ticket: its first call − its issue. The target of issue #6 is
forecast MAE ≤ 60 % of naive's.

Checks of the estimator's parts, all on the same replays:
* ``--set NAME=VALUE`` sets a constant of hall/forecast.py before replaying (e.g.
  ``--set ARRIVALS_AHEAD=1`` for no lag factor, ``--set TRANSFER_PRIOR=inf`` for no transfers,
  ``--set RECENT_SERVICES=20``, ``--set OUTCOMES=done,unresolved,transferred``);
* ``--avg-scale F`` makes both estimators (current and previous) read every queue's configured
  ``avg_service_s`` × F — a hall whose configuration is off (the replay itself is unchanged, and so
  is naive, which uses the day's own mean once there is one).
"""
from __future__ import annotations

import argparse
import math
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from replay import DEFAULT_CSV, US, ReplayResult, replay_day  # noqa: E402  (puts the repository first)

import forecast_previous  # noqa: E402

from hall import forecast  # noqa: E402
from hall.models import OPEN_WINDOW_STATES, Service, Window, WindowQueue  # noqa: E402

import sqlalchemy as sa  # noqa: E402

MAKE_DAY = DEFAULT_CSV.parent / "make_day.py"
WINDOW_S = 1800  # Erlang C: arrivals of the last 30 minutes
NAMES = ("forecast", "previous", "v1", "naive", "erlang_c")


def erlang_c_wait(lam: float, service_s: float, c: int) -> float | None:
    """M/M/c mean wait in queue (s), or None when the queue is not stable (ρ ≥ 1)."""
    a = lam * service_s  # offered load in Erlangs
    if c <= 0 or a >= c:
        return None
    if a == 0:
        return 0.0
    term, total = 1.0, 1.0  # Σ a^k/k! for k < c, computed incrementally
    for k in range(1, c):
        term *= a / k
        total += term
    top = term * a / c * c / (c - a)  # a^c/c! · c/(c−a)
    prob_wait = top / (total + top)
    return prob_wait * service_s / (c - a)


def _open_windows(session: Any, hall: Any, queue_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Window).join(
        WindowQueue, WindowQueue.window_id == Window.id).where(
        Window.hall_id == hall.id, Window.state.in_(OPEN_WINDOW_STATES),
        WindowQueue.queue_id == queue_id)) or 0


def _v1_mean_s(session: Any, hall: Any, queue_id: int, day: Any) -> float:
    """The first estimator's mean: the queue's last 20 services done today, configured under 5."""
    rows = session.execute(sa.select(Service.called_at, Service.ended_at).where(
        Service.hall_id == hall.id, Service.business_day == day, Service.queue_id == queue_id,
        Service.outcome == "done").order_by(Service.ended_at.desc()).limit(20)).all()
    if len(rows) < 5:
        return float(hall.queue_settings(queue_id).avg_service_s)
    return sum((end - start).total_seconds() for start, end in rows) / len(rows)


def baselines(replay: Any, session: Any, ticket: Any, view: dict[str, Any]) -> dict[str, float]:
    """The predictions of the baselines for ``ticket`` at its issue (an ``on_issue`` hook)."""
    hall, prefix, ahead, now = replay.hall, view["queue"], view["ahead"], replay.now_us
    done = [s.ended - s.last_called for s in replay.steps
            if s.queue == prefix and s.outcome in ("done", "transferred")]
    mean_s = sum(done) / len(done) / US if done else float(hall.settings.queue(prefix).avg_service_s)
    c = _open_windows(session, hall, ticket.queue_id)
    naive = ahead * mean_s / max(c, 1)
    lam = sum(1 for i in replay.issues if i.queue == prefix and i.at >= now - WINDOW_S * US) + 1
    erlang = erlang_c_wait(lam / WINDOW_S, mean_s, c)
    v1 = ahead * _v1_mean_s(session, hall, ticket.queue_id, ticket.business_day) \
        / forecast.servers(session, hall, ticket.queue_id)
    previous = forecast_previous.expected_wait_s(session, hall, ticket.queue_id, ahead, ticket.business_day,
                                                 ticket.priority, now=session.info.get(forecast._ACTION_AT))
    return {"previous": previous, "v1": v1, "naive": naive,
            "erlang_c": naive if erlang is None else erlang}


def errors(result: ReplayResult) -> dict[str, dict[str, float]]:
    """MAE and mean signed error (bias) of every predictor, overall, by priority class and by queue."""
    out: dict[str, dict[str, float]] = {}
    groups = {"all": result.issues,
              "ordinary": [i for i in result.issues if i.priority == "none"],
              "priority": [i for i in result.issues if i.priority != "none"]}
    for prefix in sorted({i.queue for i in result.issues}):
        groups[f"queue {prefix}"] = [i for i in result.issues if i.queue == prefix]
    for name in NAMES:
        row: dict[str, float] = {}
        for group, issues in groups.items():
            diffs = [(i.expected_wait_s if name == "forecast" else i.predictions[name]) - i.real_wait_s
                     for i in issues]
            row[f"mae_{group}"] = sum(abs(d) for d in diffs) / len(diffs) if diffs else math.nan
            row[f"bias_{group}"] = sum(diffs) / len(diffs) if diffs else math.nan
            # A queue's share of the day's MAE (its absolute errors ÷ all tickets of the day).
            row[f"part_{group}"] = sum(abs(d) for d in diffs) / len(result.issues)
        out[name] = row
    return out


def day_csv(seed: int, workdir: pathlib.Path) -> pathlib.Path:
    if seed == 1:
        return DEFAULT_CSV
    path = workdir / f"day{seed}.csv"
    with open(path, "w") as handle:
        subprocess.run([sys.executable, str(MAKE_DAY), "--seed", str(seed)], stdout=handle, check=True)
    return path


def evaluate(seed: int, workdir: pathlib.Path, limit: int | None = None) -> tuple[ReplayResult, dict]:
    csv_path = day_csv(seed, workdir)
    result = replay_day(csv_path, workdir / f"seed{seed}", limit=limit, on_issue=baselines)
    return result, errors(result)


def table(seed: int, result: ReplayResult, errs: dict[str, dict[str, float]]) -> str:
    real = [i.real_wait_s for i in result.issues]
    naive = errs["naive"]["mae_all"]
    lines = [f"seed {seed}: {len(result.issues)} tickets, mean real wait {sum(real) / len(real):.0f} s, "
             f"longest {max(real):.0f} s (replay wall {result.wall_s:.0f} s, CPU {result.cpu_s:.0f} s)",
             f"  {'predictor':<15}{'MAE s':>8}{'÷ naive':>9}{'bias s':>8}{'MAE ordinary':>14}"
             f"{'MAE priority':>14}"]
    for name in NAMES:
        e = errs[name]
        lines.append(f"  {name:<15}{e['mae_all']:>8.0f}{e['mae_all'] / naive:>9.0%}{e['bias_all']:>8.0f}"
                     f"{e['mae_ordinary']:>14.0f}{e['mae_priority']:>14.0f}")
    queues = sorted(k[len("part_queue "):] for k in errs["naive"] if k.startswith("part_queue "))
    parts = [(q, errs["forecast"][f"part_queue {q}"], errs["naive"][f"part_queue {q}"]) for q in queues]
    lines.append("  MAE by queue, forecast / naive (s of the day's MAE): "
                 + "  ".join(f"{q} {f:.0f}/{n:.0f}" for q, f, n in parts if max(f, n) >= 0.5))
    return "\n".join(lines)


def _value(text: str) -> Any:
    if "," in text:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def configure(settings: list[str], avg_scale: float | None) -> None:
    """Apply ``--set`` and ``--avg-scale`` to the estimators (before any replay)."""
    for item in settings:
        name, _, text = item.partition("=")
        if not hasattr(forecast, name) or not name.isupper():
            raise SystemExit(f"--set {item}: hall/forecast.py has no constant {name}")
        setattr(forecast, name, _value(text))
        if name in ("RECENT_SERVICES", "OUTCOMES"):  # the statement is built once at import
            forecast._RECENT = forecast._recent_statement(forecast.RECENT_SERVICES, forecast.OUTCOMES)
            forecast._RECENT_ARRIVALS = forecast._with_arrivals(forecast._RECENT)
    if avg_scale is not None:
        current, previous = forecast._configured_s, forecast_previous._configured
        forecast._configured_s = lambda hall, queue_id: current(hall, queue_id) * avg_scale
        forecast_previous._configured = lambda hall, queue_id: previous(hall, queue_id) * avg_scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--limit", type=int, help="replay only the first N visitors of each day")
    parser.add_argument("--workdir", help="where CSVs and databases go (default: a new temp dir)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="set a constant of hall/forecast.py (repeatable)")
    parser.add_argument("--avg-scale", type=float, help="estimators read avg_service_s × this")
    args = parser.parse_args()
    configure(args.settings, args.avg_scale)
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="forecast-eval-"))
    workdir.mkdir(parents=True, exist_ok=True)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    ratios: dict[str, list[float]] = {"forecast": [], "previous": []}
    for seed in args.seeds:
        result, errs = evaluate(seed, workdir, args.limit)
        print(table(seed, result, errs), flush=True)
        for name in ratios:
            ratios[name].append(errs[name]["mae_all"] / errs["naive"]["mae_all"])
    if len(args.seeds) > 1:
        print("mean of the days' MAE ÷ naive: " + ", ".join(
            f"{name} {sum(r) / len(r):.1%} (worst {max(r):.0%})" for name, r in ratios.items()))
    print(f"total: wall {time.perf_counter() - wall0:.0f} s, CPU {time.process_time() - cpu0:.0f} s")


if __name__ == "__main__":
    main()
