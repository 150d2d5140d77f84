"""The machine-readable contract: OpenAPI 3.1 at /api/openapi.json, schemas made by pydantic."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from pydantic import BaseModel

from hall.web import schemas

bp = Blueprint("openapi", __name__)

_MODELS: list[type[BaseModel]] = [
    schemas.IssueBody, schemas.FinishBody, schemas.TransferBody, schemas.PauseBody,
    schemas.SignInBody, schemas.RatingBody, schemas.ErrorOut, schemas.TicketOut,
    schemas.TicketResult, schemas.WindowResult, schemas.WindowList, schemas.QueueList,
    schemas.HallList, schemas.RatingOut, schemas.StatsOut, schemas.NoticesBody, schemas.NoticesOut,
    schemas.AuditList,
]

WINDOW_ACTIONS = {
    "call": ("Call the next ticket by the window's policy (下一位); the current visitor, if any, "
             "is finished first. `ticket` is null when nobody waits.", None, "TicketResult"),
    "recall": ("Call the current ticket again (重呼).", None, "TicketResult"),
    "start": ("The called visitor has arrived (marks `serving`; optional).", None, "TicketResult"),
    "no-show": ("The called visitor is not there (过号).", None, "TicketResult"),
    "finish": ("Service done; the window's pad asks for a rating.", "FinishBody", "TicketResult"),
    "transfer": ("Transfer the current ticket to a queue or a window (转号); it keeps its place.",
                 "TransferBody", "TicketResult"),
    "pause": ("Pause the window (暂停服务).", "PauseBody", "WindowResult"),
    "resume": ("Resume a paused window.", None, "WindowResult"),
    "sign-in": ("A clerk signs in at the window (上岗).", "SignInBody", "WindowResult"),
    "sign-out": ("The clerk signs out (下岗); the window closes.", None, "WindowResult"),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Malformed JSON", 401: "No or unknown token", 403: "Token not allowed",
            404: "Unknown hall, queue, window or ticket", 405: "Method not allowed",
            409: "Not possible in the current state", 422: "A field is invalid",
            503: "Database busy; try again", 429: "Too many requests from this token",
            507: "The server's disk is full"}
    return {str(c): _json("ErrorOut", text[c]) for c in codes}


def _op(summary: str, response: tuple[str, str], body: str | None = None, *, secured: bool = True,
        params: list[dict[str, Any]] | None = None, errors: tuple[int, ...] = ()) -> dict[str, Any]:
    code, model = response
    op: dict[str, Any] = {"summary": summary, "responses": {code: _json(model), **_errors(*errors)}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if params:
        op["parameters"] = params
    if not secured:
        op["security"] = [{}, {"bearer": []}]
    return op


def _path(name: str, kind: str = "string", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind, **schema}}


def build_spec(hall_codes: list[str] | None = None) -> dict[str, Any]:
    """The document; ``hall_codes`` (the halls this server runs) become the hall parameter's enum."""
    components: dict[str, Any] = {}
    for model in _MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    hall_p = _path("hall", **({"enum": hall_codes} if hall_codes else {"pattern": "^[A-Z][A-Z0-9]*$"}))
    window_p = [hall_p, _path("n", "integer", minimum=1)]
    common = (401, 403, 404, 503)
    paths: dict[str, Any] = {
        "/api/v1/halls": {"get": _op("The halls this token may see.", ("200", "HallList"),
                                     errors=(401,))},
        "/api/v1/halls/{hall}/queues": {"get": _op("Queues with people waiting and expected wait.",
                                                   ("200", "QueueList"), params=[hall_p],
                                                   errors=common)},
        "/api/v1/halls/{hall}/windows": {"get": _op("Every window's state.", ("200", "WindowList"),
                                                    params=[hall_p], errors=common)},
        "/api/v1/halls/{hall}/tickets": {"post": _op(
            "Issue a ticket (取号).", ("201", "TicketOut"), "IssueBody", params=[hall_p],
            errors=(400, 409, 422) + common)},
        "/api/v1/tickets/{id}": {"get": _op(
            "A ticket, for a token of its hall or with the secret of its track_url (?s=…).",
            ("200", "TicketOut"), secured=False,
            params=[_path("id", "integer", minimum=1), {"name": "s", "in": "query", "required": False,
                                                        "schema": {"type": "string"}}], errors=common)},
        "/api/v1/tickets/{id}/rating": {"post": _op(
            "Rate the ticket's last service (好差评), once per service; levels 1–2 need a reason.",
            ("201", "RatingOut"), "RatingBody", secured=False,
            params=[_path("id", "integer", minimum=1), {"name": "s", "in": "query", "required": False,
                                                        "schema": {"type": "string"}}],
            errors=(400, 409, 422) + common)},
        "/api/v1/halls/{hall}/notices": {
            "get": _op("The notices scrolled on the hall screen.", ("200", "NoticesOut"),
                       params=[hall_p], errors=common),
            "put": _op("Replace the notices (manager); every hall screen shows them at once.",
                       ("200", "NoticesOut"), "NoticesBody", params=[hall_p],
                       errors=(400, 422) + common)},
        "/api/v1/halls/{hall}/stats": {"get": _op(
            "The day's KPIs.", ("200", "StatsOut"), params=[
                hall_p, {"name": "date", "in": "query", "required": False,
                         "schema": {"type": "string", "format": "date"}}], errors=(422,) + common)},
    }
    span = [hall_p] + [{"name": name, "in": "query", "required": False,
                        "description": text, "schema": {"type": "string"}} for name, text in (
        ("from", "a date (YYYY-MM-DD, from the start of that day in the hall) or an ISO 8601 "
                 "time; default 30 days before 'to'"),
        ("to", "a date (to the end of that day) or an ISO 8601 time; default now"))]
    paths["/api/v1/halls/{hall}/audit"] = {"get": _op(
        "The audit log (manager, admin): who did what and when, with before and after — "
        "window actions of managers, notices, tokens, staff passwords, configuration changes.",
        ("200", "AuditList"), params=span, errors=(422,) + common)}
    csv_op = _op("The audit log as CSV (UTF-8 with BOM), same rows and parameters.",
                 ("200", "AuditList"), params=span, errors=(422,) + common)
    csv_op["responses"]["200"] = {"description": "CSV", "content": {"text/csv": {
        "schema": {"type": "string"}}}}
    paths["/api/v1/halls/{hall}/audit.csv"] = {"get": csv_op}
    paths["/api/v1/halls/{hall}/tickets"]["post"]["responses"].update(_errors(429, 507))
    paths.update(_evaluation_paths(hall_p, common))
    for action, (summary, body_model, result) in WINDOW_ACTIONS.items():
        paths[f"/api/v1/halls/{{hall}}/windows/{{n}}/{action}"] = {"post": _op(
            summary, ("200", result), body_model, params=window_p, errors=(400, 409, 422) + common)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hall queue system API", "version": "1",
                 "description": "Queues, tickets and windows of government service halls. "
                                "Errors are {\"error\": {\"code\", \"message\", \"field\"}}."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


@bp.get("/api/openapi.json")
def openapi():
    from hall.web.auth import runtime
    return jsonify(build_spec(sorted(runtime().halls)))


# 好差评 management (hall/web/rectify.py): rectification cases, figures, the provincial export.
_MODELS += [schemas.CaseNoteBody, schemas.CallBackBody, schemas.AppealBody, schemas.DecideBody,
            schemas.CaseList, schemas.CaseResult, schemas.EvaluationOut, schemas.RankingOut,
            schemas.RatingExport]

CASE_ACTIONS = {
    "verify": ("Record what checking the bad review found (核实): open → verified.", "CaseNoteBody"),
    "rectify": ("Record the fix (整改; `note` required): verified → rectified, or again after a "
                "dissatisfied call-back.", "CaseNoteBody"),
    "call-back": ("Record the call to the visitor (回访) with their view of the fix: "
                  "rectified → called_back.", "CallBackBody"),
    "close": ("Close a called-back case (办结) whose visitor is not dissatisfied.", "CaseNoteBody"),
    "appeal": ("Appeal the review as mistaken or malicious (申诉): open/verified → appealed.",
               "AppealBody"),
    "decide": ("Decide an appeal with a reason: upheld → closed, rejected → open.", "DecideBody"),
}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}


def _csv_op(summary: str, params: list[dict[str, Any]], errors: tuple[int, ...]) -> dict[str, Any]:
    return {"summary": summary, "parameters": params, "responses": {
        "200": {"description": "CSV, UTF-8 with a BOM, Chinese headers",
                "content": {"text/csv": {"schema": {"type": "string"}}}}, **_errors(*errors)}}


def _evaluation_paths(hall_p: dict[str, Any], common: tuple[int, ...]) -> dict[str, Any]:
    """The manager routes of 好差评: 差评整改 cases, figures and the provincial export."""
    span = [_query("from", "First business day", format="date"),
            _query("to", "Last business day", format="date")]
    filters = [hall_p, _query("state", "open, verified, rectified, called_back, closed, appealed"),
               _query("department", "Department code"), _query("window", "Window number"),
               _query("overdue", "1: only cases past their deadline"), *span]
    case_p = [hall_p, _path("n", "integer", minimum=1)]
    base = "/api/v1/halls/{hall}/rectifications"
    paths: dict[str, Any] = {
        base: {"get": _op("Rectification cases of bad reviews (差评整改), newest first (manager).",
                          ("200", "CaseList"), params=filters, errors=(422,) + common)},
        f"{base}.csv": {"get": _csv_op("The same cases as a CSV table.", filters, (422,) + common)},
        f"{base}/{{n}}": {"get": _op("One case with its log: every step, who and when.",
                                     ("200", "CaseResult"), params=case_p, errors=common)},
        "/api/v1/halls/{hall}/evaluation": {"get": _op(
            "好差评 figures: 主动评价率, 好评率, 差评整改率, 回访率 (manager).", ("200", "EvaluationOut"),
            params=[hall_p, *span, _query("by", "Grouping",
                                          enum=["day", "month", "department", "window", "clerk"])],
            errors=(422,) + common)},
        "/api/v1/halls/{hall}/evaluation/ranking": {"get": _op(
            "The month's windows ranked by 好评率, then 主动评价率.", ("200", "RankingOut"),
            params=[hall_p, _query("month", "Month, e.g. 2026-11")], errors=(422,) + common)},
        "/api/v1/halls/{hall}/ratings/export": {"get": {
            **_op("Ratings for the provincial 好差评 platform; the applicant's ID masked.",
                  ("200", "RatingExport"), params=[hall_p, *span, _query(
                      "format", "json (default) or csv", enum=["json", "csv"])],
                  errors=(422,) + common)}},
    }
    paths["/api/v1/halls/{hall}/ratings/export"]["get"]["responses"]["200"]["content"]["text/csv"] = {
        "schema": {"type": "string"}}
    for action, (summary, body_model) in CASE_ACTIONS.items():
        paths[f"{base}/{{n}}/{action}"] = {"post": _op(
            summary, ("200", "CaseResult"), body_model, params=case_p,
            errors=(400, 409, 422) + common)}
    return paths


# The manager's live dashboard (hall/web/dashboard.py): its data and switching a window's queues.
_MODELS += [schemas.DashboardOut, schemas.WindowQueuesBody]
_build_spec = build_spec


def build_spec(hall_codes: list[str] | None = None) -> dict[str, Any]:  # noqa: F811
    spec = _build_spec(hall_codes)
    hall_p = spec["paths"]["/api/v1/halls/{hall}/queues"]["get"]["parameters"][0]
    common = (401, 403, 404, 503)
    spec["paths"]["/api/v1/halls/{hall}/dashboard"] = {"get": _op(
        "The manager's live dashboard (manager, admin): waiting per queue and in total, the "
        "longest current wait, windows by state, today's served and no-shows, arrivals and "
        "waiting per 15 minutes against the same weekday of the previous 4 weeks, active alerts.",
        ("200", "DashboardOut"), params=[hall_p], errors=common)}
    spec["paths"]["/api/v1/halls/{hall}/windows/{n}/queues"] = {"put": _op(
        "Switch the queues a window serves (manager, admin), in order or by weights; logged and "
        "audited, window.changed goes live. Kept until the next restart: at start the server "
        "writes the queues of config.toml back.", ("200", "WindowResult"), "WindowQueuesBody",
        params=[hall_p, _path("n", "integer", minimum=1)], errors=(400, 422) + common)}
    return spec


# Appointments (预约, hall/web/booking.py): public slots, booking and cancelling; kiosk check-in.
_MODELS += [schemas.BookBody, schemas.CheckInBody, schemas.SlotList, schemas.AppointmentOut,
            schemas.CheckInOut]
_build_spec_before_appointments = build_spec


def build_spec(hall_codes: list[str] | None = None) -> dict[str, Any]:  # noqa: F811
    spec = _build_spec_before_appointments(hall_codes)
    hall_p = spec["paths"]["/api/v1/halls/{hall}/queues"]["get"]["parameters"][0]
    common = (401, 403, 404, 503)
    base = "/api/v1/halls/{hall}/appointments"
    slots = _op("Free places per slot of a queue on a day (public, no token), and the bookable dates.",
                ("200", "SlotList"), secured=False, errors=(404, 422, 503), params=[
                    hall_p, {"name": "queue", "in": "query", "required": True, "schema": {"type": "string"}},
                    _query("date", "The day (default: the first bookable day)", format="date")])
    booking = _op("Book a slot (public, no token; rate-limited per address): 1–5 working days ahead, "
                  "one per person a day, not while suspended for missed appointments.",
                  ("201", "AppointmentOut"), "BookBody", secured=False,
                  params=[hall_p], errors=(400, 404, 409, 422, 429, 503))
    check_in = _op("Check in at the kiosk (kiosk, manager) with the booking code or the ID number: "
                   "an appointment-priority ticket from 15 min before to 10 min after the start; "
                   "later an ordinary ticket (`late`: true); earlier refused.",
                   ("201", "CheckInOut"), "CheckInBody", params=[hall_p],
                   errors=(400, 409, 422, 429) + common)
    cancel = _op("Cancel a booking up to 2 hours before it starts (public: the code is the secret).",
                 ("200", "AppointmentOut"), secured=False,
                 params=[_path("booking", pattern="^[A-Z0-9]{6,16}$")], errors=(404, 409, 429, 503))
    spec["paths"][f"{base}/slots"] = {"get": slots}
    spec["paths"][base] = {"post": booking}
    spec["paths"][f"{base}/check-in"] = {"post": check_in}
    spec["paths"]["/api/v1/appointments/{booking}/cancel"] = {"post": cancel}
    return spec


# The city view (hall/web/city.py): every visible hall's figures of today.
_MODELS += [schemas.CityOut]
_build_spec_before_city = build_spec


def build_spec(hall_codes: list[str] | None = None) -> dict[str, Any]:  # noqa: F811
    spec = _build_spec_before_city(hall_codes)
    spec["paths"]["/api/v1/city"] = {"get": _op(
        "The city view (city, admin; a city-level hall's manager): every hall at or below the "
        "token's hall (by the config's parent links; a token without a hall sees all) with "
        "today's waiting, longest current wait, open windows, served, 主动评价率 and 好评率. A "
        "city token reads every GET route of those halls and changes nothing (403).",
        ("200", "CityOut"), params=[_query("hall", "Only this hall's row (it must be visible)")],
        errors=(401, 403, 404, 503))}
    return spec


# Period reports and attendance (hall/web/reports.py).
_MODELS += [schemas.ReportOut, schemas.AttendanceOut, schemas.CityReportOut]
_build_spec_before_reports = build_spec


def build_spec(hall_codes: list[str] | None = None) -> dict[str, Any]:  # noqa: F811
    spec = _build_spec_before_reports(hall_codes)
    hall_p = spec["paths"]["/api/v1/halls/{hall}/queues"]["get"]["parameters"][0]
    errors = (422, 401, 403, 404, 503)
    span = [_query("from", "First business day (default: the 1st of the month of 'to')", format="date"),
            _query("to", "Last business day (default: today); at most 366 days in all", format="date")]
    by = _query("by", "Grouping (default day)",
                enum=["day", "month", "hour", "queue", "department", "window", "clerk"])
    params = [hall_p, *span, by]
    base = "/api/v1/halls/{hall}"
    spec["paths"][f"{base}/reports"] = {"get": _op(
        "Period report (manager, admin): issued, served, no-shows and rate, services, waiting, "
        "service time, service level, window utilisation (by window), extended-hours services, "
        "per group and in total with 日均接待; definitions in docs/kpi.md.",
        ("200", "ReportOut"), params=params, errors=errors)}
    xlsx = _op("The same report as an Excel workbook with Chinese headers.", ("200", "ReportOut"),
               params=params, errors=errors)
    xlsx["responses"]["200"] = {"description": "XLSX", "content": {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}}}}
    spec["paths"][f"{base}/reports.xlsx"] = {"get": xlsx}
    spec["paths"][f"{base}/reports.csv"] = {"get": _csv_op(
        "The same report as CSV (UTF-8 with BOM, Chinese headers).", params, errors)}
    city_params = [*span, _query("by", "Grouping (default hall)", enum=["hall", "day", "month"]),
                   _query("under", "Only this hall and the halls below it (it must be visible)")]
    spec["paths"]["/api/v1/city/reports"] = {"get": _op(
        "Period report of many halls together (city, admin; a city-level hall's manager): the "
        "same figures as a hall's report for every hall the token reads (or ?under=), a row per "
        "hall, day or month, and the total.", ("200", "CityReportOut"), params=city_params,
        errors=errors)}
    city_xlsx = _op("The city report as an Excel workbook with Chinese headers.", ("200", "CityReportOut"),
                    params=city_params, errors=errors)
    city_xlsx["responses"]["200"] = xlsx["responses"]["200"]
    spec["paths"]["/api/v1/city/reports.xlsx"] = {"get": city_xlsx}
    spec["paths"]["/api/v1/city/reports.csv"] = {"get": _csv_op(
        "The city report as CSV (UTF-8 with BOM, Chinese headers).", city_params, errors)}
    spec["paths"][f"{base}/attendance"] = {"get": _op(
        "Clerk attendance (考勤; manager, admin): per clerk and day the first sign-in, last "
        "sign-out, open time and pause time by reason.", ("200", "AttendanceOut"),
        params=[hall_p, *span], errors=errors)}
    spec["paths"][f"{base}/attendance.csv"] = {"get": _csv_op(
        "Attendance as CSV, one row per clerk and day.", [hall_p, *span], errors)}
    return spec
