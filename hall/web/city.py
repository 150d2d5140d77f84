"""The city view (市级监管): GET /api/v1/city for city and admin tokens, its live page /city, and the
period report of many halls (GET /api/v1/city/reports) with its page /city/reports."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, jsonify, render_template, request, session, url_for
from flask_babel import gettext as _

from hall import city, report_export, reports, scope
from hall.models import Role
from hall.tokens import Principal
from hall.web.auth import principal, runtime, session_principal
from hall.web.errors import ApiError
from hall.web.pages import strings
from hall.web.reports import XLSX, file_name, file_response, period
from hall.web.reports import page_strings as report_strings

bp = Blueprint("city", __name__)
CITY_ROLES = frozenset({Role.CITY, Role.ADMIN})


def init_app(app: Flask) -> None:
    from hall.web.pages import csrf
    csrf.exempt(bp)  # GET only; token callers have no cookie
    app.register_blueprint(bp)


def sees_city(who: Principal) -> bool:
    """A city or admin token, or a manager of a city-level hall (their session opens /city)."""
    return who.role in CITY_ROLES or who.read_hall_ids is not None


def _city_caller() -> Principal:
    """The caller of a city route: 401 without credentials, 403 unless it may see many halls."""
    who = principal()
    if who is None:
        raise ApiError(401, "unauthorized", "This call needs a token: 'Authorization: Bearer <token>'.")
    if not sees_city(who):
        raise ApiError(403, "forbidden", f"A {who.role.value} token may not see the city's halls; it "
                       "needs a city or admin token, or a manager of a city-level hall.")
    return who


@bp.get("/api/v1/city")
def get_city():
    """Every hall this caller may read, with today's figures; ``?hall=XS`` for one row."""
    rt = runtime()
    who = _city_caller()
    halls = scope.visible(who, rt.halls)
    code = request.args.get("hall")
    if code:
        hall = rt.hall(code)
        if not who.in_hall(hall):
            raise ApiError(403, "forbidden", f"Hall {code} is not below this token's hall.", "hall")
        halls = [hall]
    with rt.db.read() as db:
        return jsonify(city.city_view(db, halls, rt.clock.now()))


def _city_report() -> dict:
    """The report of every hall the caller may read, or of ``?under=CODE`` and the halls below it."""
    rt = runtime()
    who = _city_caller()
    halls = scope.visible(who, rt.halls)
    under = request.args.get("under")
    name = "city" if who.hall_id is None else next((h.code for h in halls if h.id == who.hall_id), "city")
    if under:
        top = rt.hall(under)
        if not who.in_hall(top):
            raise ApiError(403, "forbidden", f"Hall {under} is not among the halls this token may read.",
                           "under")
        halls, name = scope.below(rt.halls, top.code), top.code
    if not halls:
        raise ApiError(404, "not_found", "This token may read no hall.")
    start, end = period(halls[0].timezone)
    by = request.args.get("by", "hall")
    if by not in reports.CITY_GROUPINGS:
        raise ApiError(422, "invalid_field", f"'by' must be one of {', '.join(reports.CITY_GROUPINGS)}, "
                       f"not {by!r}.", "by")
    with rt.db.read() as db:
        return reports.city_report(db, halls, start, end, by, now=rt.clock.now(), scope=name)


@bp.get("/api/v1/city/reports")
def get_city_report():
    """The period report of many halls together (a row per hall, day or month); see docs/kpi.md."""
    return jsonify(_city_report())


@bp.get("/api/v1/city/reports.xlsx")
def city_report_xlsx():
    data = _city_report()
    return file_response(report_export.report_xlsx(data), XLSX, file_name("report", data, "xlsx"))


@bp.get("/api/v1/city/reports.csv")
def city_report_csv():
    data = _city_report()
    return file_response(report_export.to_csv(*report_export.report_table(data)), "text/csv",
                         file_name("report", data, "csv"))


def page_strings() -> dict[str, str]:
    return {**strings(), "people": _("人"), "minutes_n": _("%(n)s 分钟", n="{n}"),
            "lv_city": _("市级"), "lv_district": _("区级"), "lv_street": _("街道"),
            "lv_community": _("社区"), "open_h": _("开放中"), "closed_h": _("未开放"),
            "details": _("详情")}


def _page_session() -> bool:
    """Whether the page runs on the login session (else on a city token from ?token=); 403 for a
    session that may not see the city."""
    rt = runtime()
    if not isinstance(session.get("staff"), dict):
        return False
    who = session_principal(rt)
    if who is None:
        return False
    if not sees_city(who):
        abort(403)
    return True


@bp.get("/city")
def city_page():
    """The page; its data comes from GET /api/v1/city and /live, with a city token or session."""
    return render_template("city.html", strings=page_strings(), session_mode=_page_session(),
                           login_url=url_for("pages.login", next=request.path))


@bp.get("/city/reports")
def city_reports_page():
    """The hall's reports page (reports.html, reports.js) over GET /api/v1/city/reports: a row per
    hall, day or month; no utilisation (it is per window) and no attendance."""
    key_titles = {"hall": _("大厅"), "day": _("日期"), "month": _("月份")}
    return render_template(
        "reports.html", title=_("全市") + " · " + _("统计报表"), api_base="/api/v1/city",
        token_kind="city", token_scope="all", back_url=url_for("city.city_page"), attendance=False,
        strings=report_strings(), session_mode=_page_session(),
        groupings=[("hall", _("按大厅")), ("day", _("按日")), ("month", _("按月"))],
        columns=[(key, _(title)) for key, title in report_export.FIGURES if key != "utilisation"],
        key_titles=key_titles, note=_(
            "每个大厅的数字与该大厅自己的报表相同；合计为所列大厅的号票合在一起计算；"
            "等候时间按每个办理环节计（叫号 − 开始等候）；办理时间为结束 − 最后一次叫号；"
            "服务达标率按各大厅自己的等候目标；日均接待为取号总数 ÷ 任一大厅有取号的天数。"),
        login_url=url_for("pages.login", next=request.path))
