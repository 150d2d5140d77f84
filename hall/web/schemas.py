"""Request and response bodies of the JSON API, as pydantic models (they also make the OpenAPI)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PriorityName = Literal["none", "elderly", "disabled", "veteran", "pregnant", "appointment", "enterprise"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IssueBody(Body):
    queue: str | None = Field(None, max_length=2, description="Queue prefix, e.g. \"A\"; may be "
                              "left out when a bundle is given.")
    priority: PriorityName = "none"
    channel: Literal["kiosk", "mobile", "web", "counter", "appointment", "api"] = "kiosk"
    matters: list[str] = Field(default_factory=list, max_length=20)
    phone: str | None = Field(None, max_length=20)
    id_number: str | None = Field(None, max_length=18)
    bundle: str | None = Field(None, max_length=32, description="A bundle (一件事一次办) code: one "
                               "ticket that goes through the bundle's queues in turn.")
    kiosk: str | None = Field(None, max_length=32, description="The kiosk that prints the ticket.")


class FinishBody(Body):
    outcome: Literal["done", "unresolved"] = "done"
    matters: list[str] = Field(default_factory=list, max_length=20)


class TransferBody(Body):
    queue: str | None = Field(None, max_length=2)
    window: int | None = Field(None, ge=1, le=9999)


class PauseBody(Body):
    reason: str = Field("break", min_length=1, max_length=100)


class SignInBody(Body):
    login: str | None = Field(None, max_length=32)


class RatingBody(Body):
    level: int = Field(ge=1, le=5)
    reasons: list[str] = Field(default_factory=list, max_length=10)
    comment: str | None = Field(None, max_length=500)
    channel: Literal["pad", "mobile", "sms", "web", "kiosk"] = "pad"


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


class TicketOut(BaseModel):
    id: int
    number: str
    queue: str
    priority: PriorityName
    status: Literal["waiting", "called", "serving", "done", "no_show", "cancelled"]
    ahead: int
    expected_wait_s: int
    issued_at: str
    track_url: str
    window: int | None
    called_at: str | None = None
    target_window: int | None = None
    bundle: str | None = None
    next_queues: list[str] = []
    channel: str | None = None


class TicketResult(BaseModel):
    ticket: TicketOut | None


class WindowOut(BaseModel):
    number: int
    name: str
    state: Literal["closed", "idle", "serving", "paused"]
    pause_reason: str | None
    since: str | None
    ticket: str | None
    ticket_id: int | None
    clerk: str | None
    queues: list[str]
    mode: str


class WindowResult(BaseModel):
    window: WindowOut


class WindowList(BaseModel):
    windows: list[WindowOut]


class QueueOut(BaseModel):
    prefix: str
    name: str
    open: bool
    waiting: int
    expected_wait_s: int | None
    department: str | None = None


class QueueList(BaseModel):
    queues: list[QueueOut]


class HallOut(BaseModel):
    code: str
    name: str
    open: bool


class HallList(BaseModel):
    halls: list[HallOut]


class RatingOut(BaseModel):
    id: int
    ticket: int
    level: int
    reasons: list[str]
    channel: str
    at: str


class StatsOut(BaseModel):
    date: str
    issued: int
    served: int
    no_show: int
    services: int
    extended_services: int
    waiting: int
    avg_wait_s: float | None
    max_wait_s: float | None
    avg_service_s: float | None
    service_level: float | None
    target_wait_s: int
    ratings: int
    evaluation_rate: float | None
    good_rate: float | None


class NoticesBody(Body):
    notices: list[str] = Field(max_length=50, description="Lines scrolled on the hall screen.")


class NoticesOut(BaseModel):
    notices: list[str]


class AuditEntryOut(BaseModel):
    id: int
    at: str
    hall: str | None = Field(description="null for an entry of no hall (e.g. an admin token), "
                             "shown to admins only")
    actor: str = Field(description="who: token:<id>[:label], staff:<login>, cli, config")
    action: str = Field(description="e.g. window.call_next, notices.set, token.created, "
                        "token.revoked, staff.password_set, config.changed")
    target: str | None
    summary: str | None
    before: dict | None
    after: dict | None


class AuditList(BaseModel):
    entries: list[AuditEntryOut]


# The feature routes' bodies, kept in their own module and re-exported here (last: they build
# on Body above).
from hall.web.schemas_manage import (  # noqa: E402,F401
    CaseStateName, CaseNoteBody, CallBackBody, AppealBody, DecideBody, CaseStepOut,
    StaffRef, CaseOut, CaseList, CaseResult, EvaluationGroup, EvaluationOut,
    RankingOut, RatingRecord, RatingExport, WindowQueuesBody, DashQueueOut, DashWindowOut,
    AlertOut, DashTodayOut, DashCurvesOut, DashboardOut, BookBody, CheckInBody,
    SlotOut, SlotList, AppointmentOut, CheckInOut, CityHallOut, CityTotalsOut,
    CityOut, ReportRow, ReportTotal, ReportOut, CityReportRow, CityReportOut, AttendanceDay, AttendanceClerk,
    AttendanceOut,
)
