"""The manager's live dashboard (/manage/<hall>), its data (GET …/dashboard) and queue switching (PUT …/queues)."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, jsonify, render_template, request, session, url_for
from flask_babel import gettext as _

from hall import alerts, dashboard, present, switching
from hall.web import schemas
from hall.web.api import body
from hall.web.auth import STAFF_ROLES, require, runtime
from hall.web.pages import page_hall, strings

bp = Blueprint("dashboard", __name__)


def init_app(app: Flask) -> None:
    """Register the routes and start the alert watcher on the hall's event bus."""
    from hall.web.pages import csrf
    csrf.exempt(bp)  # token callers have no cookie; session callers are checked in auth.principal()
    app.register_blueprint(bp)
    alerts.start(app.extensions["hall"])


def page_strings() -> dict[str, str]:
    return {
        **strings(),
        "serving_w": _("办理中"), "idle_w": _("空闲"), "paused_w": _("暂停"), "closed_w": _("未开放"),
        "offline_w": _("设备离线"), "people": _("人"), "minutes_n": _("%(n)s 分钟", n="{n}"),
        "arrivals": _("今日取号"), "arrivals_before": _("上月同日取号（均值）"),
        "waiting_c": _("今日等候"), "waiting_before": _("上月同日等候（均值）"),
        "no_alerts": _("当前没有预警"), "helpers": _("可支援窗口"), "none": _("无"),
        "switch": _("切换队列"), "save": _("保存"), "cancel": _("取消"), "saved": _("已切换"),
        "order": _("按顺序"), "weighted": _("按权重"), "device": _("设备"),
        "queue_long": _("排队过长"), "wait_long": _("等候过久"),
    }


@bp.get("/manage/<code>")
def manage_page(code: str):
    """The page; its data comes from the API and /live, with the manager's session or token."""
    hall = page_hall(code)
    staff = session.get("staff")
    if isinstance(staff, dict) and staff.get("hall") == code and staff.get("role") != "manager":
        abort(403)
    has_session = isinstance(staff, dict) and staff.get("hall") == code
    return render_template("dashboard.html", hall=hall.settings, strings=page_strings(),
                           session_mode=has_session,
                           login_url=url_for("pages.login", next=request.path),
                           queues=[(q.prefix, q.name) for q in hall.settings.queues])


@bp.get("/api/v1/halls/<code>/dashboard")
def get_dashboard(code: str):
    rt = runtime()
    hall = rt.hall(code)
    require(hall, STAFF_ROLES)
    devices = rt.devices.device_views(code) if rt.devices is not None else []
    with rt.db.read() as db:
        return jsonify(dashboard.dashboard_snapshot(db, hall, rt.clock.now(), devices))


@bp.put("/api/v1/halls/<code>/windows/<int:number>/queues")
def put_window_queues(code: str, number: int):
    rt = runtime()
    hall = rt.hall(code)
    hall.window_id(number)
    who = require(hall, STAFF_ROLES)
    data = body(schemas.WindowQueuesBody)
    with rt.db.write() as db:
        window = switching.switch_queues(db, hall, number, data.queues, who.actor, rt.clock.now(),
                                         data.mode, data.weights)
        return jsonify({"window": present.window_view(db, hall, window)})
