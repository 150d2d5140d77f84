"""Browser pages: kiosk, hall and window screens, the mobile ticket, staff login; Babel and CSRF wiring."""
from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import urlparse

import qrcode
import qrcode.image.svg
from flask import (Blueprint, Flask, Response, abort, redirect, render_template, request, session,
                   url_for)
from flask_babel import Babel, gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect

from hall import present, staff as staff_mod, tickets
from hall.errors import DomainError
from hall.models import Ticket
from hall.web.auth import SEEN_KEY, runtime, session_expired, wall_time

bp = Blueprint("pages", __name__)
LANGUAGES = ("zh", "en")
csrf = CSRFProtect()
RENEW_EVERY_S = 30


def select_locale() -> str:
    lang = request.args.get("lang") or request.cookies.get("lang")
    return lang if lang in LANGUAGES else "zh"


def init_app(app: Flask) -> None:
    """Register the page blueprints, translations and CSRF protection of forms."""
    from hall.web import api, counter, manage
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    # A counter page stays open all day: its token lives as long as the login session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", dt.timedelta(hours=14))
    Babel(app, locale_selector=select_locale)
    csrf.init_app(app)
    # Token clients have no cookie to forge; session callers are checked in auth.principal().
    csrf.exempt(api.bp)
    csrf.exempt(manage.bp)
    app.register_blueprint(bp)
    app.register_blueprint(counter.bp)
    app.register_blueprint(manage.bp)

    @app.before_request
    def _expire_idle_session() -> None:
        """A staff session idle for longer than server.session_idle_minutes ends; activity renews it."""
        if "staff" not in session:
            return
        if session_expired(runtime()):
            session.clear()
        elif not _is_poll() and wall_time() - session.get(SEEN_KEY, 0) >= RENEW_EVERY_S:
            session[SEEN_KEY] = int(wall_time())  # not every request: each renewal sends a cookie

    @app.context_processor
    def _page_globals() -> dict[str, Any]:
        lang = select_locale()
        return {"lang": lang, "other_lang": "en" if lang == "zh" else "zh",
                "staff": session.get("staff")}

    @app.after_request
    def _remember_lang(response: Response) -> Response:
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):
        if request.path.startswith("/api/"):
            from hall.web.errors import error_response
            return error_response(400, "csrf_failed", err.description)
        return render_template("login.html", error=_("页面已过期，请重新提交。"),
                               halls=_halls(), next=""), 400


def _halls() -> list[Any]:
    return [h.settings for h in runtime().halls.values()]


def page_hall(code: str) -> Any:
    rt = runtime()
    if code not in rt.halls:
        abort(404)
    return rt.halls[code]


def strings() -> dict[str, str]:
    """The sentences the page scripts show, in the page's language."""
    return {
        "min": _("分钟"), "wait_about": _("预计等候约 %(n)s 分钟", n="{n}"), "no_wait": _("无需等候"),
        "waiting_n": _("%(n)s 人等候", n="{n}"), "ahead_n": _("前面还有 %(n)s 人", n="{n}"),
        "closed": _("暂停取号"), "no_token": _("此设备未授权：请用带 ?token= 的地址打开一次。"),
        "offline": _("连接中断，正在重连…"), "printer_fault": _("打印机故障，请拍照或扫码保存号票"),
        "please_go": _("请到 %(n)s 号窗口", n="{n}"), "paused": _("暂停服务"), "paused_short": _("暂停"),
        "idle": _("空闲"), "closed_window": _("未开放"), "called": _("请 %(t)s 号到 %(n)s 号窗口", t="{t}", n="{n}"),
        "done": _("办理完毕，感谢您的耐心"), "no_show": _("已过号，请到服务台咨询"),
        "cancelled": _("号票已取消"), "serving": _("正在办理"), "waiting": _("等候中"),
        "nobody": _("目前没有人等候"), "error": _("出错了"), "confirm_transfer": _("转到"),
        "issuing": _("正在取号…"), "take_photo": _("请拍照或扫码保存号票"),
        "printed": _("请取走号票"), "reason": _("暂停原因"),
        # Codes the API sends, as a person reads them on a screen.
        "break": _("休息"), "meeting": _("会议"), "training": _("培训"), "other": _("其他"),
        **{f"prio_{code}": label for code, label in _priorities()},
        "st_called": _("已叫号"), "st_serving": _("正在办理"),
        "thanks": _("感谢您的评价"), "pick_reason": _("请选择不满意的原因"),
    }


@bp.get("/")
def index():
    return render_template("index.html", halls=_halls())


@bp.get("/kiosk/<code>")
def kiosk(code: str):
    hall = page_hall(code)
    departments = {d.code: d.name for d in hall.settings.departments}
    groups: dict[str, list[Any]] = {}
    for queue in hall.settings.queues:
        groups.setdefault(departments.get(queue.department or "", _("综合")), []).append(queue)
    return render_template("kiosk.html", hall=hall.settings, groups=groups, strings=strings(),
                           priorities=_priorities())


def _priorities() -> list[tuple[str, str]]:
    return [("none", _("普通")), ("elderly", _("老年人")), ("disabled", _("残疾人")),
            ("veteran", _("退役军人")), ("pregnant", _("孕妇")), ("appointment", _("预约"))]


@bp.get("/kiosk/<code>/qr/<int:ticket_id>.svg")
def ticket_qr(code: str, ticket_id: int):
    """The QR code of a ticket's mobile page; only for someone who already holds its secret."""
    hall = page_hall(code)
    rt = runtime()
    with rt.db.read() as db:
        ticket = db.get(Ticket, ticket_id)
        if (ticket is None or ticket.hall_id != hall.id
                or not tickets.secret_matches(ticket, request.args.get("s", ""))):
            abort(404)
        url = present.track_url(hall, ticket)
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    out = io.BytesIO()
    image.save(out)
    return Response(out.getvalue(), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=86400"})


@bp.get("/screen/<code>")
def hall_screen(code: str):
    hall = page_hall(code)
    return render_template("screen.html", hall=hall.settings, strings=strings())


@bp.get("/window/<code>/<int:number>")
def window_screen(code: str, number: int):
    hall = page_hall(code)
    if number not in hall.window_ids:
        abort(404)
    window = hall.settings.window(number)
    return render_template("window.html", hall=hall.settings, window=window, strings=strings())


@bp.get("/pad/<code>/<int:number>")
def evaluation_pad(code: str, number: int):
    """The tablet evaluation pad (评价器) of a window: asks 满意吗 after each service."""
    hall = page_hall(code)
    if number not in hall.window_ids:
        abort(404)
    levels = [(5, _("非常满意")), (4, _("满意")), (3, _("基本满意")), (2, _("不满意")), (1, _("非常不满意"))]
    return render_template("pad.html", hall=hall.settings, window=hall.settings.window(number),
                           levels=levels, reasons=hall.settings.rating.reasons, strings=strings())


@bp.get("/t/<int:ticket_id>")
def mobile_ticket(ticket_id: int):
    rt = runtime()
    secret = request.args.get("s", "")
    with rt.db.read() as db:
        ticket = db.get(Ticket, ticket_id)
        if ticket is None or not secret or not tickets.secret_matches(ticket, secret):
            abort(404)
        hall = rt.hall_by_id(ticket.hall_id)
        view = present.ticket_view(db, hall, ticket)
    return render_template("ticket.html", hall=hall.settings, ticket=view, secret=secret,
                           strings=strings())


@bp.route("/login", methods=["GET", "POST"])
def login():
    rt = runtime()
    nxt = _safe_next(request.values.get("next", ""))
    if request.method == "GET":
        return render_template("login.html", halls=_halls(), next=nxt, error=None)
    code = request.form.get("hall", "")
    login_name = request.form.get("login", "").strip()
    password = request.form.get("password", "")
    error = _("登录名或密码不正确。")
    if code in rt.halls and login_name and password:
        hall = rt.halls[code]
        try:
            with rt.db.write() as db:
                found = staff_mod.check_password(db, hall, login_name, password, rt.clock.now())
                who = ({"id": found.id, "login": found.login, "name": found.name, "hall": code,
                        "role": found.role} if found is not None else None)
        except DomainError:
            who, error = None, _("密码错误次数过多，账号已暂时锁定，请稍后再试或联系管理员。")
        if who is not None:
            session.clear()  # a new session id for a new login (no fixation)
            session.permanent = True
            session["staff"] = who
            session[SEEN_KEY] = int(wall_time())
            return redirect(nxt or url_for("counter.choose", code=code))
    return render_template("login.html", halls=_halls(), next=nxt, error=error), 401


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("pages.login"))


def _is_poll() -> bool:
    """The workstation's own once-a-second refresh is not activity of the person at it."""
    return request.method == "GET" and request.path.startswith("/counter/") \
        and request.path.endswith("/state")


def _safe_next(value: str) -> str:
    """Only a path on this server: a login must not bounce to another site."""
    parsed = urlparse(value)
    if value.startswith("/") and not value.startswith("//") and not parsed.netloc and not parsed.scheme:
        return value
    return ""
