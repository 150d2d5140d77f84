"""The reference day replayed against the domain: every KPI of hall.stats equals the replay's own count."""
from __future__ import annotations

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import replay  # noqa: E402

# The whole day by default (900 visitors, ~35 s of CPU); REPLAY_VISITORS=N replays the first N.
LIMIT = int(os.environ.get("REPLAY_VISITORS", "0")) or None


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> replay.ReplayResult:
    if not replay.DEFAULT_CSV.exists():
        pytest.skip(f"the reference workload {replay.DEFAULT_CSV} is not here")
    return replay.replay_day(replay.DEFAULT_CSV, tmp_path_factory.mktemp("replay"), limit=LIMIT)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kpi", replay.KPI_NAMES)
def test_stats_equal_the_replay_log(day: replay.ReplayResult, kpi: str) -> None:
    assert day.stats_kpis[kpi] == day.replay_kpis[kpi], replay.report(day)


def test_the_replay_did_the_whole_csv(day: replay.ReplayResult) -> None:
    visitors = day.visitors
    assert day.replay_kpis["issued"] == len(visitors)
    assert day.replay_kpis["no_show"] == sum(v.no_show for v in visitors)
    assert day.replay_kpis["served"] == sum(not v.no_show for v in visitors)
    assert day.replay_kpis["waiting"] == 0
    transfers = [s for s in day.steps if s.outcome == "transferred"]
    assert len(transfers) == sum(bool(v.transfer_to) for v in visitors)
    assert all(s.outcome is not None for s in day.steps)


def test_ratings_through_the_pad_give_the_rates_the_csv_implies(day: replay.ReplayResult) -> None:
    implied = replay.csv_rates(day.visitors)
    assert len(day.ratings) == implied["ratings"]
    assert day.stats_kpis["services"] == implied["services"]
    assert day.stats_kpis["ratings"] == implied["ratings"]
    assert day.stats_kpis["evaluation_rate"] == implied["evaluation_rate"]
    assert day.stats_kpis["good_rate"] == implied["good_rate"]
    if LIMIT is None:  # the reference day has bad ratings, sent with a reason
        assert any(level <= 2 for _, _, level in day.ratings)
