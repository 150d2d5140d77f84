"""Online backup of the SQLite database (sqlite3 backup API) while the server runs; PostgreSQL: pg_dump."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import sqlite3
import sys

import sqlalchemy as sa


class BackupError(Exception):
    """The backup cannot be made as asked; the message says what to do instead."""


def pg_dump_command(url: str, out: str | None = None) -> str:
    """The pg_dump line for a PostgreSQL URL (the password stays out: use ~/.pgpass or PGPASSWORD)."""
    parsed = sa.make_url(url)
    target = out or f"hall-{dt.datetime.now():%Y%m%d-%H%M%S}.dump"
    parts = ["pg_dump", "--format=custom", f"--file={target}"]
    if parsed.host:
        parts.append(f"--host={parsed.host}")
    if parsed.port:
        parts.append(f"--port={parsed.port}")
    if parsed.username:
        parts.append(f"--username={parsed.username}")
    parts.append(parsed.database or "hall")
    return " ".join(parts)


def default_path(database: pathlib.Path, now: dt.datetime | None = None) -> pathlib.Path:
    now = now or dt.datetime.now()
    return database.parent / "backups" / f"{database.stem}-{now:%Y%m%d-%H%M%S}.db"


def backup_sqlite(url: str, out: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """Copy the database to ``out`` as one consistent snapshot, while others write to it.

    The copy is a single file (journal mode DELETE, no -wal beside it) and passes an integrity
    check; an existing file at ``out`` is never overwritten."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError("This database is PostgreSQL: back it up with pg_dump, e.g.\n  "
                          + pg_dump_command(url, str(out) if out else None)
                          + "\nand restore with pg_restore --clean --dbname=… FILE.")
    source_path = pathlib.Path(parsed.database or "")
    if not parsed.database or parsed.database == ":memory:" or not source_path.exists():
        raise BackupError(f"There is no database file at {source_path}; check --database or the "
                          "config's server.database.")
    target = pathlib.Path(out) if out else default_path(source_path)
    if target.exists():
        raise BackupError(f"{target} exists already; name a new file with --out.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(source_path, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            # pages=-1: the whole database in one step, under one read transaction (a snapshot);
            # in WAL mode writers go on meanwhile.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            copy.close()
    finally:
        source.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"The copy failed its integrity check ({check}); nothing was kept.")
    partial.rename(target)
    return target


def main(argv: list[str] | None = None) -> int:
    """``python run.py backup [--out FILE] [--config FILE] [--database URL]``."""
    parser = argparse.ArgumentParser(prog="python run.py backup", description="Copy the SQLite "
                                     "database while the server runs (a consistent snapshot).")
    parser.add_argument("--config", default=os.environ.get("HALL_CONFIG", "config.toml"))
    parser.add_argument("--database", default=os.environ.get("HALL_DATABASE_URL"))
    parser.add_argument("--out", help="the backup file (default: backups/<name>-<time>.db beside "
                        "the database)")
    args = parser.parse_args(argv)
    url = args.database
    if not url:
        from hall.config import ConfigError, load_config
        try:
            url = load_config(args.config).server.database
        except ConfigError as err:
            print(str(err), file=sys.stderr)
            return 2
    try:
        path = backup_sqlite(url, args.out)
    except BackupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
