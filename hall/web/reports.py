"""Period reports for managers: GET …/reports (JSON, .xlsx, .csv), …/attendance (JSON, .csv) and the /manage/<hall>/reports page."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request, session, url_for
from flask_babel import gettext as _

from hall import attendance, calendar, report_export, reports
from hall.web.auth import STAFF_ROLES, require, runtime
from hall.web.errors import ApiError, api_date
from hall.web.pages import page_hall, strings

bp = Blueprint("reports", __name__)
API = "/api/v1/halls/<code>"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def init_app(app: Flask) -> None:
    """Register the routes; session callers of the API are CSRF-checked in auth.principal()."""
    from hall.web.pages import csrf
    csrf.exempt(bp)
    app.register_blueprint(bp)


def _date(name: str, default: dt.date) -> dt.date:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return api_date(raw) if len(raw) == 10 else _bad(name, raw)
    except ValueError:
        return _bad(name, raw)


def _bad(name: str, raw: str) -> dt.date:
    raise ApiError(422, "invalid_field", f"'{name}' must be a date like 2026-11-30, not {raw!r}.", name)


def period(timezone: str) -> tuple[dt.date, dt.date]:
    """from/to (business days, both included); default: this month up to today; at most 366 days."""
    today = calendar.business_day(runtime().clock.now(), timezone)
    end = _date("to", today)
    start = _date("from", end.replace(day=1))
    if start > end:
        raise ApiError(422, "invalid_field", f"'from' ({start}) must not be after 'to' ({end}).", "from")
    if (end - start).days + 1 > reports.MAX_DAYS:
        raise ApiError(422, "invalid_field", f"The period is {(end - start).days + 1} days; a report "
                       f"covers at most {reports.MAX_DAYS} days.", "to")
    return start, end


def _report(code: str) -> tuple[Any, dict[str, Any]]:
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    start, end = period(hall.timezone)
    by = request.args.get("by", "day")
    if by not in reports.GROUPINGS:
        raise ApiError(422, "invalid_field", f"'by' must be one of {', '.join(reports.GROUPINGS)}, "
                       f"not {by!r}.", "by")
    with rt.db.read() as db:
        return hall, reports.report(db, hall, start, end, by, now=rt.clock.now())


def _attendance(code: str) -> tuple[Any, dict[str, Any]]:
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    start, end = period(hall.timezone)
    with rt.db.read() as db:
        return hall, attendance.attendance(db, hall, start, end, now=rt.clock.now())


def file_response(content: bytes, mimetype: str, name: str) -> Response:
    return Response(content, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def file_name(kind: str, data: dict[str, Any], ext: str) -> str:
    by = f"-{data['by']}" if "by" in data else ""
    return f"{kind}-{data['hall']}-{data['from']}-{data['to']}{by}.{ext}"


@bp.get(f"{API}/reports")
def get_report(code: str):
    return jsonify(_report(code)[1])


@bp.get(f"{API}/reports.xlsx")
def report_xlsx(code: str):
    _, data = _report(code)
    return file_response(report_export.report_xlsx(data), XLSX, file_name("report", data, "xlsx"))


@bp.get(f"{API}/reports.csv")
def report_csv(code: str):
    _, data = _report(code)
    return file_response(report_export.to_csv(*report_export.report_table(data)), "text/csv",
                 file_name("report", data, "csv"))


@bp.get(f"{API}/attendance")
def get_attendance(code: str):
    return jsonify(_attendance(code)[1])


@bp.get(f"{API}/attendance.csv")
def attendance_csv(code: str):
    _, data = _attendance(code)
    return file_response(report_export.to_csv(*report_export.attendance_table(data)), "text/csv",
                 file_name("attendance", data, "csv"))


def page_strings() -> dict[str, str]:
    return {**strings(), "issued": _("取号数"), "served": _("办结数"), "services": _("服务人次"),
            "avg_wait_m": _("平均等候(分钟)"), "service_level": _("服务达标率"),
            "total": _("合计"), "daily_avg": _("日均接待"), "none": _("该期间没有数据"),
            "loading": _("加载中…")}


@bp.get("/manage/<code>/reports")
def reports_page(code: str):
    """The page; its data comes from the API with the manager's session or ?token=.
    The template is shared with the city's /city/reports (hall.web.city)."""
    hall = page_hall(code)
    staff = session.get("staff")
    if isinstance(staff, dict) and staff.get("hall") == code and staff.get("role") != "manager":
        abort(403)
    has_session = isinstance(staff, dict) and staff.get("hall") == code
    groupings = [("day", _("按日")), ("month", _("按月")), ("hour", _("按时段")),
                 ("queue", _("按队列")), ("department", _("按部门")), ("window", _("按窗口")),
                 ("clerk", _("按人员"))]
    columns = [(key, _(title)) for key, title in report_export.FIGURES]
    return render_template("reports.html", title=hall.settings.name + " · " + _("统计报表"),
                           api_base=f"/api/v1/halls/{code}", token_kind="manager", token_scope=code,
                           back_url=url_for("dashboard.manage_page", code=code), attendance=True,
                           strings=page_strings(), session_mode=has_session, groupings=groupings,
                           columns=columns, note=_(
                               "等候时间按每个办理环节计（叫号 − 开始等候）；办理时间为结束 − 最后一次叫号；"
                               "服务人次含办结、办不成和转办；延时服务人次为当天最后闭厅时间之后叫号的服务；"
                               "窗口利用率仅按窗口分组时计算（服务时间 ÷ 在岗时间，暂停不计）。"),
                           key_titles={k: _(v) for k, v in report_export.KEY_TITLES.items()},
                           login_url=url_for("pages.login", next=request.path))
