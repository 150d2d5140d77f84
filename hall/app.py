"""create_app(): the Flask application over a Runtime; nothing runs at import time."""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, jsonify

from hall import audit, runtime as runtime_mod
from hall.clock import Clock
from hall.config import load_config
from hall.web import api, audit_api, errors, limits, openapi

log = logging.getLogger(__name__)


def create_app(settings: Any = None, *, config_path: str | None = None,
               database_url: str | None = None, clock: Clock | None = None,
               base_url: str | None = None, realtime: bool = True) -> Flask:
    """Build the app: load and validate the config, migrate and sync the database, wire events."""
    if settings is None:
        settings = load_config(config_path or os.environ.get("HALL_CONFIG", "config.toml"))
    rt = runtime_mod.start(settings, database_url=database_url or os.environ.get("HALL_DATABASE_URL"),
                           clock=clock, base_url=base_url)
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.from_mapping(SECRET_KEY=rt.secret, JSON_AS_ASCII=False, MAX_CONTENT_LENGTH=64 * 1024)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["hall"] = rt
    errors.register(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(audit_api.bp)
    limits.init_app(app, settings.server)
    audit.watch_notices(rt.db.write_sessions)
    with rt.db.write() as session:  # a config edited since the last start is audited
        changed = audit.record_config(session, settings, {c: h.id for c, h in rt.halls.items()},
                                      rt.clock.now())
    if changed:
        log.info("configuration changed since the last start for hall(s) %s (audited)",
                 ", ".join(changed))
    from hall.web import pages  # the browser pages, Babel and CSRF
    pages.init_app(app)
    from hall.web import rectify  # 好差评 management: 差评整改 cases, figures, export
    rectify.init_app(app)
    from hall.web import booking  # 预约: public slots, booking and cancelling, kiosk check-in, /book page
    booking.init_app(app)
    from hall.web import dashboard  # the manager's live dashboard, alerts (bus subscriber), switching
    dashboard.init_app(app)
    from hall.web import reports; reports.init_app(app)  # noqa: E702 — 统计报表: period reports, exports, attendance, page
    from hall.web import city; city.init_app(app)  # noqa: E702 — 市级监管: GET /api/v1/city, the /city page

    @app.get("/healthz")
    def healthz():
        return jsonify({"ok": True, "halls": sorted(rt.halls)})

    if realtime:
        from hall import realtime as realtime_mod
        realtime_mod.init_app(app, rt)
    return app
