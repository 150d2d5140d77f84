"""Online backup: while a server issues tickets, a backup holds every ticket acknowledged before it."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest
import requests

from server_process import ROOT, ServerProcess
from hall import backup


def test_backup_while_issuing_keeps_every_acknowledged_ticket(tmp_path):
    server = ServerProcess(tmp_path / "hall")
    manager = {"Authorization": f"Bearer {server.token('manager')}"}  # not rate-limited
    server.start()
    acked: list[tuple[float, int]] = []
    stop = threading.Event()

    def issue() -> None:
        import time
        while not stop.is_set() and len(acked) < 400:
            r = requests.post(f"{server.url}/api/v1/halls/XS/tickets", json={"queue": "A"},
                              headers=manager, timeout=10)
            if r.status_code == 201:
                acked.append((time.monotonic(), r.json()["id"]))

    worker = threading.Thread(target=issue)
    worker.start()
    try:
        while len(acked) < 20:
            stop.wait(0.05)
        import time
        started = time.monotonic()
        before = [tid for at, tid in list(acked) if at < started]
        out = tmp_path / "copy.db"
        result = subprocess.run([sys.executable, "-m", "hall.backup", "--out", str(out)],
                                env=server.env(), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(out)
        stop.wait(0.3)  # writes go on after the copy
    finally:
        stop.set()
        worker.join(30)
        server.stop()
    assert not pathlib_exists(out.with_name(out.name + "-wal"))
    with sqlite3.connect(out) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {row[0] for row in copy.execute("SELECT id FROM tickets")}
    assert set(before) <= ids
    assert len(acked) > len(before)


def pathlib_exists(path) -> bool:
    return path.exists()


def test_backup_refuses_postgresql_with_the_pg_dump_line(tmp_path):
    with pytest.raises(backup.BackupError, match="pg_dump --format=custom") as err:
        backup.backup_sqlite("postgresql+psycopg://hall:secret@127.0.0.1:5432/hall", tmp_path / "x")
    assert "secret" not in str(err.value) and "--username=hall" in str(err.value)


def test_backup_never_overwrites(tmp_path):
    db = tmp_path / "hall.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    out = backup.backup_sqlite(f"sqlite:///{db}", tmp_path / "b.db")
    with pytest.raises(backup.BackupError, match="exists"):
        backup.backup_sqlite(f"sqlite:///{db}", out)
