"""Several kiosks at once, in threads and in processes, on one database file: no duplicate, no gap."""
from __future__ import annotations

import collections
import multiprocessing
import shutil

import sqlalchemy as sa

from concurrency_worker import issue_many
from support import MONDAY_9
from hall.models import Ticket


def _assert_gap_free(numbers: list[str]) -> None:
    by_queue: dict[str, list[int]] = collections.defaultdict(list)
    for number in numbers:
        by_queue[number[0]].append(int(number[1:]))
    for prefix, seqs in by_queue.items():
        assert len(seqs) == len(set(seqs)), f"duplicate numbers in {prefix}"
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"gap in {prefix}"


def test_eight_threads_issue_2000_tickets_without_duplicate_or_gap(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    numbers = issue_many(str(tmp_path), 2000, 8, "AB", MONDAY_9.isoformat())
    assert len(numbers) == 2000
    _assert_gap_free(numbers)


def test_four_processes_issue_2000_tickets_without_duplicate_or_gap(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(issue_many, [(str(tmp_path), 500, 2, "AB", MONDAY_9.isoformat())] * 4)
    numbers = [n for part in results for n in part]
    assert len(numbers) == 2000
    _assert_gap_free(numbers)
    engine = sa.create_engine(f"sqlite:///{tmp_path}/hall.db")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(Ticket.number)).scalars().all()
    engine.dispose()
    assert sorted(stored) == sorted(numbers)  # every acknowledged ticket is in the database
