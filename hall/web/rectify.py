"""Manager calls of 好差评: rectification cases (差评整改), figures, the provincial export, the cases page."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from hall import calendar, evaluation_stats, present, ratings_export, rectification as rect
from hall.evaluation import LEVELS
from hall.models import Staff, Ticket
from hall.web import schemas
from hall.web.api import body
from hall.web.auth import STAFF_ROLES, require, runtime, session_principal
from hall.web.errors import ApiError, api_date
from hall.web.pages import page_hall

bp = Blueprint("rectify", __name__)
API = "/api/v1/halls/<code>"
CASE_FIELDS = (("id", "工单号"), ("state_name", "状态"), ("business_day", "办件日期"),
               ("ticket", "号票"), ("department_name", "部门"), ("window", "窗口"),
               ("clerk_name", "被评价人"), ("level_name", "评价"), ("reasons", "差评原因"),
               ("comment", "评价内容"), ("opened_at", "立案时间"), ("due_on", "办结期限"),
               ("overdue", "超期"), ("visitor_view_name", "回访意见"), ("closed_at", "办结时间"))


def init_app(app: Flask) -> None:
    """Register the blueprint; session callers of its API are CSRF-checked in auth.principal()."""
    from hall.web.pages import csrf
    csrf.exempt(bp)
    app.register_blueprint(bp)


def _date(name: str, default: dt.date | None = None) -> dt.date | None:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return api_date(raw)
    except ValueError:
        raise ApiError(422, "invalid_field", f"'{name}' must be a date like 2026-11-30, not {raw!r}.",
                       name) from None


def _today(hall: Any) -> dt.date:
    return calendar.business_day(runtime().clock.now(), hall.timezone)


def case_view(session: Any, hall: Any, case: rect.RectificationCase, today: dt.date,
              with_log: bool = False) -> dict[str, Any]:
    departments = {d.code: d.name for d in hall.settings.departments}
    reasons = {r.code: r.name for r in hall.settings.rating.reasons}
    clerk = session.get(Staff, case.staff_id) if case.staff_id else None
    view = {
        "id": case.id, "state": case.state.value, "state_name": rect.STATE_NAMES[case.state],
        "level": case.level, "level_name": LEVELS[case.level],
        "reasons": [reasons.get(r, r) for r in case.rating.reasons], "comment": case.rating.comment,
        "department": case.department, "department_name": departments.get(case.department or "",
                                                                          case.department),
        "window": hall.window_numbers.get(case.window_id),
        "clerk": {"login": clerk.login, "name": clerk.name} if clerk else None,
        "ticket": session.scalar(sa.select(Ticket.number).where(Ticket.id == case.ticket_id)),
        "business_day": case.business_day.isoformat(), "opened_at": present.iso(case.opened_at, hall),
        "due_on": case.due_on.isoformat(), "overdue": rect.is_overdue(case, today),
        "visitor_view": case.visitor_view, "appeal_kind": case.appeal_kind,
        "decision": case.decision, "closed_at": present.iso(case.closed_at, hall),
    }
    if with_log:
        view["log"] = [{"kind": e.kind, "from_state": e.from_state, "to_state": e.to_state,
                        "note": e.note, "actor": e.actor, "at": present.iso(e.at, hall),
                        "data": e.data} for e in case.log]
    return view


def _cases(code: str) -> tuple[Any, list[dict[str, Any]]]:
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    window = request.args.get("window")
    if window is not None and not window.isdigit():
        raise ApiError(422, "invalid_field", f"'window' must be a window number, not {window!r}.",
                       "window")
    today = _today(hall)
    with rt.db.read() as session:
        cases = rect.list_cases(session, hall, state=request.args.get("state") or None,
                                department=request.args.get("department") or None,
                                window=int(window) if window else None,
                                overdue=request.args.get("overdue") in ("1", "true"),
                                start=_date("from"), end=_date("to"), today=today)
        return hall, [case_view(session, hall, c, today) for c in cases]


@bp.get(f"{API}/rectifications")
def list_cases(code: str):
    _, views = _cases(code)
    return jsonify({"rectifications": views})


@bp.get(f"{API}/rectifications.csv")
def cases_csv(code: str):
    hall, views = _cases(code)
    names = rect.VISITOR_VIEWS
    rows = [{**v, "clerk_name": (v["clerk"] or {}).get("name"),
             "visitor_view_name": names.get(v["visitor_view"] or "")} for v in views]
    return _csv(ratings_export.csv_text(CASE_FIELDS, rows), f"rectifications-{hall.code}.csv")


def _csv(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get(f"{API}/rectifications/<int:number>")
def get_case(code: str, number: int):
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    with rt.db.read() as session:
        case = rect.get_case(session, hall, number)
        return jsonify({"rectification": case_view(session, hall, case, _today(hall), True)})


ACTION_BODIES = {"verify": (schemas.CaseNoteBody, True), "rectify": (schemas.CaseNoteBody, False),
                 "call-back": (schemas.CallBackBody, False), "close": (schemas.CaseNoteBody, True),
                 "appeal": (schemas.AppealBody, False), "decide": (schemas.DecideBody, False)}


def _act(code: str, number: int, action: str):
    rt = runtime()
    hall = rt.hall(code)
    who = require(hall, STAFF_ROLES)
    model, optional = ACTION_BODIES[action]
    data = body(model, optional=optional).model_dump()
    with rt.db.write() as session:
        case = rect.ACTIONS[action](session, hall, number, who.actor, rt.clock.now(), **data)
        session.flush()
        session.expire(case, ["log"])
        return jsonify({"rectification": case_view(session, hall, case, _today(hall), True)})


for _action in ACTION_BODIES:
    bp.add_url_rule(f"{API}/rectifications/<int:number>/{_action}", f"case_{_action}",
                    lambda code, number, _a=_action: _act(code, number, _a), methods=["POST"])


@bp.get(f"{API}/evaluation")
def evaluation(code: str):
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    today = _today(hall)
    start, end = _date("from", today.replace(day=1)), _date("to", today)
    by = request.args.get("by", "day")
    if by not in evaluation_stats.GROUPINGS:
        raise ApiError(422, "invalid_field", f"'by' must be one of "
                       f"{', '.join(evaluation_stats.GROUPINGS)}, not {by!r}.", "by")
    with rt.db.read() as session:
        return jsonify(evaluation_stats.figures(session, hall, start, end, by))


@bp.get(f"{API}/evaluation/ranking")
def ranking(code: str):
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    raw = request.args.get("month")
    try:
        month = api_date(f"{raw}-01") if raw else _today(hall)
    except ValueError:
        raise ApiError(422, "invalid_field", f"'month' must be like 2026-11, not {raw!r}.",
                       "month") from None
    with rt.db.read() as session:
        return jsonify(evaluation_stats.window_ranking(session, hall, month))


@bp.get(f"{API}/ratings/export")
def export(code: str):
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    today = _today(hall)
    start, end = _date("from", today), _date("to", today)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(422, "invalid_field", f"'format' must be json or csv, not {fmt!r}.", "format")
    with rt.db.read() as session:
        records = ratings_export.export_ratings(session, hall, start, end)
    if fmt == "csv":
        return _csv(ratings_export.csv_text(ratings_export.FIELDS, records),
                    f"ratings-{hall.code}-{start:%Y%m%d}-{end:%Y%m%d}.csv")
    return jsonify({"ratings": records})


@bp.get("/manage/<code>/rectifications")
def page(code: str):
    """The managers' page: list, filter and act on cases."""
    hall = page_hall(code)
    who = session_principal(runtime())
    if who is None or who.hall_id != hall.id or who.role not in STAFF_ROLES:
        return redirect(url_for("pages.login", next=request.path))
    strings = {"verify": _("核实"), "rectify": _("整改"), "call-back": _("回访"), "close": _("办结"),
               "appeal": _("申诉"), "decide": _("审核申诉"), "note": _("请填写说明"),
               "reason": _("请填写理由"), "overdue": _("超期"), "none": _("暂无工单"),
               "error": _("出错了"), "upheld": _("申诉成立？确定=成立，取消=驳回"),
               "kind": _("恶意差评？确定=恶意差评，取消=误评"),
               "view": _("回访意见：1 满意，2 基本满意，3 不满意")}
    return render_template("rectifications.html", hall=hall.settings, strings=strings,
                           states=rect.STATE_NAMES, departments=hall.settings.departments,
                           windows=sorted(hall.window_ids))
