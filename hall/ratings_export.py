"""Ratings as the provincial 好差评 platform takes them: one record per rating, CSV for Excel."""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from hall import present
from hall.directory import HallRef
from hall.evaluation import LEVELS
from hall.models import Rating, Service, Staff, Ticket

CHANNEL_NAMES = {"pad": "评价器", "mobile": "二维码", "sms": "短信", "web": "网站",
                 "kiosk": "自助终端", "default": "默认评价"}

# (field, CSV header) in the platform's order.
FIELDS: Sequence[tuple[str, str]] = (
    ("case_no", "评价编号"), ("matter_code", "事项编码"), ("matter_name", "事项名称"),
    ("department_code", "部门编码"), ("department_name", "部门名称"), ("channel", "评价渠道编码"),
    ("channel_name", "评价渠道"), ("level", "评价等级"), ("level_name", "评价结果"),
    ("rated_at", "评价时间"), ("window", "窗口号"), ("staff_login", "被评价人工号"),
    ("staff_name", "被评价人"), ("applicant_id", "申请人证件号码"), ("reasons", "差评原因"),
    ("comment", "评价内容"), ("defaulted", "默认评价"),
)


def case_number(hall: HallRef, service: Service) -> str:
    """Hall code + business day + service id: unique, and stable across exports."""
    return f"{hall.code}{service.business_day:%Y%m%d}{service.id:08d}"


def export_ratings(session: so.Session, hall: HallRef, start: dt.date,
                   end: dt.date) -> list[dict[str, Any]]:
    """Every rating of services from ``start`` to ``end``; the applicant's ID only masked."""
    matters = {m.code: m for m in hall.settings.matters}
    departments = {d.code: d.name for d in hall.settings.departments}
    reasons = {r.code: r.name for r in hall.settings.rating.reasons}
    staff = {s.id: s for s in session.scalars(sa.select(Staff).where(Staff.hall_id == hall.id))}
    rows = session.execute(
        sa.select(Rating, Service, Ticket).join(Service, Rating.service_id == Service.id)
        .join(Ticket, Rating.ticket_id == Ticket.id)
        .where(Rating.hall_id == hall.id, Rating.business_day >= start, Rating.business_day <= end)
        .order_by(Rating.at, Rating.id)).all()
    out = []
    for rating, service, ticket in rows:
        queue = hall.queue_settings(service.queue_id)
        codes = list(service.matters or ticket.matters or [])
        dept = next((matters[c].department for c in codes if c in matters), queue.department)
        clerk = staff.get(service.staff_id)
        out.append({
            "case_no": case_number(hall, service),
            "matter_code": ";".join(codes) or queue.prefix,
            "matter_name": ";".join(matters[c].name if c in matters else c for c in codes) or queue.name,
            "department_code": dept,
            "department_name": departments.get(dept or "", dept),
            "channel": rating.channel,
            "channel_name": CHANNEL_NAMES.get(rating.channel, rating.channel),
            "level": rating.level,
            "level_name": LEVELS[rating.level],
            "rated_at": present.iso(rating.at, hall),
            "window": hall.window_numbers.get(service.window_id),
            "staff_login": clerk.login if clerk else None,
            "staff_name": clerk.name if clerk else None,
            "applicant_id": ticket.id_masked,
            "reasons": [reasons.get(r, r) for r in rating.reasons],
            "comment": rating.comment,
            "defaulted": rating.defaulted,
        })
    return out


def csv_text(fields: Sequence[tuple[str, str]], records: Iterable[dict[str, Any]]) -> str:
    """CSV with the headers given, UTF-8 with a BOM so that Excel reads the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([title for _, title in fields])
    for record in records:
        row = []
        for key, _ in fields:
            value = record.get(key)
            if isinstance(value, list):
                value = "、".join(str(v) for v in value)
            elif isinstance(value, bool):
                value = "是" if value else "否"
            row.append("" if value is None else value)
        writer.writerow(row)
    return "\ufeff" + buffer.getvalue()
