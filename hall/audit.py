"""Audit log (审计日志): who did what and when, with before and after — manager and admin actions, config changes."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall.models import Base

CONFIG_CHANGED = "config.changed"
MAX_ENTRIES = 10_000
CSV_COLUMNS = ("id", "at", "hall", "actor", "action", "target", "summary", "before", "after")
# A list item of the config is named by the first of these keys it has: windows[5], queues[A].
_ITEM_KEYS = ("number", "prefix", "code", "login", "name", "date")


class AuditEntry(Base):
    """One audited action; rows are only ever added."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_hall_at", "hall_id", "at"),)
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("halls.id"))
    at: so.Mapped[dt.datetime]
    actor: so.Mapped[str] = so.mapped_column(sa.String(100))
    action: so.Mapped[str] = so.mapped_column(sa.String(64))
    target: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    summary: so.Mapped[str | None] = so.mapped_column(sa.Text)
    before: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)
    after: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)
    # Config rows keep the whole flattened hall settings, so that the next change can be diffed.
    snapshot: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)


def record(session: so.Session, hall_id: int | None, actor: str, action: str, now: dt.datetime,
           target: str | None = None, before: Any = None, after: Any = None,
           summary: str | None = None, snapshot: dict[str, Any] | None = None) -> AuditEntry:
    """Add an audit row in the caller's transaction: it commits, or vanishes, with the action."""
    entry = AuditEntry(hall_id=hall_id, at=now, actor=actor[:100], action=action,
                       target=target, summary=summary, before=before, after=after,
                       snapshot=snapshot)
    session.add(entry)
    return entry


def entries(session: so.Session, hall_id: int, start: dt.datetime, end: dt.datetime,
            include_global: bool = False) -> list[AuditEntry]:
    """Rows of a hall (and, for an admin, rows of no hall) from ``start`` up to ``end``, oldest first."""
    where = AuditEntry.hall_id == hall_id
    if include_global:
        where = sa.or_(where, AuditEntry.hall_id.is_(None))
    return list(session.scalars(sa.select(AuditEntry).where(where, AuditEntry.at >= start,
                                                            AuditEntry.at <= end)
                                .order_by(AuditEntry.at, AuditEntry.id).limit(MAX_ENTRIES)))


def as_dict(entry: AuditEntry, hall_code: str | None, zone: Any) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.astimezone(zone).isoformat(timespec="seconds"),
            "hall": hall_code, "actor": entry.actor, "action": entry.action, "target": entry.target,
            "summary": entry.summary, "before": entry.before, "after": entry.after}


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with a byte-order mark, so that spreadsheet programs read the Chinese right."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(col)) for col in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    # A cell starting with = + - @ is a formula to a spreadsheet: never let a value run as one.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# -- configuration changes ------------------------------------------------------------------

def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``{"policy.target_wait_s": 900, "windows[5].name": "…"}``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, item in enumerate(value):
            name = next((item[k] for k in _ITEM_KEYS if k in item), i)
            out.update(flatten(item, f"{prefix}[{name}]"))
        return out
    return {prefix: value}


def settings_digest(hall_settings: Any) -> tuple[str, dict[str, Any]]:
    """The SHA-256 of a hall's validated settings as JSON, and the settings flattened."""
    data = hall_settings.model_dump(mode="json")
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest(), flatten(data)


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys())
            if old.get(k) != new.get(k)}


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def record_config(session: so.Session, settings: Any, hall_ids: dict[str, int], now: dt.datetime,
                  actor: str = "config") -> list[str]:
    """At start: a ``config.changed`` row for each hall whose settings differ from the last ones
    recorded, with the before/after hashes and the changed keys. Returns those halls' codes."""
    changed = []
    for hall_settings in settings.halls:
        hall_id = hall_ids[hall_settings.code]
        digest, flat = settings_digest(hall_settings)
        last = session.scalars(sa.select(AuditEntry).where(
            AuditEntry.hall_id == hall_id, AuditEntry.action == CONFIG_CHANGED)
            .order_by(AuditEntry.id.desc()).limit(1)).first()
        old_digest = (last.after or {}).get("hash") if last is not None else None
        if old_digest == digest:
            continue
        if last is None:
            record(session, hall_id, actor, CONFIG_CHANGED, now, target=f"hall:{hall_settings.code}",
                   before=None, after={"hash": digest},
                   summary=f"configuration of hall {hall_settings.code} first recorded "
                           f"({len(flat)} settings)", snapshot=flat)
        else:
            changes = diff(last.snapshot or {}, flat)
            lines = [f"{k}: {_short(a)} → {_short(b)}" for k, (a, b) in changes.items()]
            record(session, hall_id, actor, CONFIG_CHANGED, now, target=f"hall:{hall_settings.code}",
                   before={"hash": old_digest, "values": {k: a for k, (a, _) in changes.items()}},
                   after={"hash": digest, "values": {k: b for k, (_, b) in changes.items()}},
                   summary="; ".join(lines)[:4000] or "settings re-serialised", snapshot=flat)
        changed.append(hall_settings.code)
    return changed


# -- notices, audited as they are flushed (hall.notices stays unaware of the audit) -------------

def watch_notices(sessions: so.sessionmaker) -> None:
    """Audit every change of a hall's notices made through sessions of ``sessions``."""
    from hall.notices import HallNotices

    @sa.event.listens_for(sessions, "before_flush")
    def _notices(session: so.Session, context: Any, instances: Any) -> None:
        for obj in list(session.new) + list(session.dirty):
            if not isinstance(obj, HallNotices):
                continue
            history = sa.inspect(obj).attrs.notices.history
            if obj not in session.new and not history.has_changes():
                continue
            before = list(history.deleted[0]) if history.deleted else None
            record(session, obj.hall_id, obj.updated_by, "notices.set", obj.updated_at,
                   target=f"hall_notices:{obj.hall_id}", before={"notices": before},
                   after={"notices": list(obj.notices)})
