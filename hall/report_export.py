"""Reports and attendance as tables with Chinese headers: CSV (UTF-8 with BOM) and XLSX (openpyxl)."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

KEY_TITLES = {"hall": "大厅编码", "day": "日期", "month": "月份", "hour": "时段", "queue": "队列", "department": "部门",
              "window": "窗口", "clerk": "工号"}
NAME_TITLES = {"hall": "大厅名称", "queue": "队列名称", "department": "部门名称", "window": "窗口名称", "clerk": "姓名"}
FIGURES = (("issued", "取号数"), ("served", "办结数"), ("no_show", "过号数"), ("no_show_rate", "过号率"),
           ("services", "服务人次"), ("avg_wait_s", "平均等候(秒)"), ("max_wait_s", "最长等候(秒)"),
           ("avg_service_s", "平均办理(秒)"), ("service_level", "服务达标率"),
           ("utilisation", "窗口利用率"), ("extended_services", "延时服务人次"))
RATES = frozenset({"no_show_rate", "service_level", "utilisation"})
ATTENDANCE = (("date", "日期"), ("login", "工号"), ("name", "姓名"), ("windows", "窗口"),
              ("sign_in", "签到时间"), ("sign_out", "签退时间"), ("open_s", "在岗时长(秒)"),
              ("pause_total_s", "暂停时长(秒)"), ("pauses", "暂停明细(原因:秒)"))


def report_table(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of a report, the totals row last, then 日均接待 (tickets ÷ days with tickets)."""
    by = data["by"]
    fields = [("key", KEY_TITLES[by])]
    if by in NAME_TITLES:
        fields.append(("name", NAME_TITLES[by]))
    fields += list(FIGURES)
    rows = [[row.get(key) for key, _ in fields] for row in data["rows"]]
    total = data["total"]
    rows.append(["合计"] + [total.get(key) for key, _ in fields[1:]])
    if len(fields) > len(FIGURES) + 1:
        rows[-1][1] = None
    rows.append(["日均接待", total.get("daily_avg_issued")] + [None] * (len(fields) - 2))
    return [title for _, title in fields], rows


def attendance_table(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    rows = []
    for clerk in data["clerks"]:
        for day in clerk["days"]:
            record = {**day, "login": clerk["login"], "name": clerk["name"],
                      "windows": "、".join(str(w) for w in day["windows"]),
                      "pauses": "；".join(f"{r}:{s:g}" for r, s in day["pause_s"].items())}
            rows.append([record.get(key) for key, _ in ATTENDANCE])
    return [title for _, title in ATTENDANCE], rows


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """UTF-8 with a BOM, so that Excel reads the Chinese right; empty cells for null."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str,
            rate_columns: Sequence[int] = ()) -> bytes:
    """One sheet: bold headers, numbers as numbers, rates shown as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    for column in rate_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = "0.0%"
    for index, header in enumerate(headers, 1):
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = max(10, len(header) * 2 + 2)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def report_xlsx(data: dict[str, Any]) -> bytes:
    headers, rows = report_table(data)
    rates = [i for i, h in enumerate(headers) if h in {t for k, t in FIGURES if k in RATES}]
    return to_xlsx(headers, rows, f"{data['from']}~{data['to']}", rates)
