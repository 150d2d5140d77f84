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
            503: "Database busy; try again"}
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
