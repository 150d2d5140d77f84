"""Bodies of the manager's and the public feature routes: 差评整改, dashboard, appointments (预约),
city view, reports. Re-exported by hall/web/schemas.py, where the core API's bodies live."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hall.web.schemas import Body, TicketOut


# 差评整改 (rectification cases), 好差评 figures and the provincial export.

CaseStateName = Literal["open", "verified", "rectified", "called_back", "closed", "appealed"]


class CaseNoteBody(Body):
    note: str | None = Field(None, max_length=1000, description="What was found or done; required "
                             "for rectify.")


class CallBackBody(Body):
    visitor_view: Literal["satisfied", "basically_satisfied", "dissatisfied"] = Field(
        description="The visitor's view of the fix (满意 / 基本满意 / 不满意).")
    note: str | None = Field(None, max_length=1000)


class AppealBody(Body):
    kind: Literal["mistaken", "malicious"] = Field(description="误评 or 恶意差评.")
    reason: str = Field(min_length=1, max_length=1000)


class DecideBody(Body):
    decision: Literal["upheld", "rejected"] = Field(description="upheld closes the case as "
                                                    "appealed; rejected opens it again.")
    reason: str = Field(min_length=1, max_length=1000)


class CaseStepOut(BaseModel):
    kind: str
    from_state: str | None
    to_state: str
    note: str | None
    actor: str
    at: str
    data: dict | None = None


class StaffRef(BaseModel):
    login: str
    name: str


class CaseOut(BaseModel):
    id: int
    state: CaseStateName
    state_name: str
    level: int
    level_name: str
    reasons: list[str]
    comment: str | None
    department: str | None
    department_name: str | None
    window: int | None
    clerk: StaffRef | None
    ticket: str
    business_day: str
    opened_at: str
    due_on: str
    overdue: bool
    visitor_view: str | None
    appeal_kind: str | None
    decision: str | None
    closed_at: str | None
    log: list[CaseStepOut] | None = None


class CaseList(BaseModel):
    rectifications: list[CaseOut]


class CaseResult(BaseModel):
    rectification: CaseOut


class EvaluationGroup(BaseModel):
    key: str | int | None
    name: str | None
    services: int
    ratings: int = Field(description="Active ratings (主动评价); defaults not counted.")
    defaulted: int
    good: int
    bad: int
    cases_closed: int
    called_back: int
    evaluation_rate: float | None = Field(description="主动评价率: ratings ÷ services.")
    good_rate: float | None = Field(description="好评率: levels 4–5 ÷ ratings.")
    rectify_rate: float | None = Field(description="差评整改率: closed cases ÷ bad reviews.")
    callback_rate: float | None = Field(description="回访率: called-back cases ÷ bad reviews.")
    rank: int | None = None


class EvaluationOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    by: Literal["day", "month", "department", "window", "clerk"]
    total: EvaluationGroup
    groups: list[EvaluationGroup]


class RankingOut(BaseModel):
    month: str
    windows: list[EvaluationGroup]


class RatingRecord(BaseModel):
    case_no: str = Field(description="Hall code + business day + service id.")
    matter_code: str
    matter_name: str
    department_code: str | None
    department_name: str | None
    channel: str
    channel_name: str = Field(description="评价器 (pad), 二维码 (mobile), 短信 (sms), …")
    level: int
    level_name: str
    rated_at: str
    window: int | None
    staff_login: str | None
    staff_name: str | None
    applicant_id: str | None = Field(description="The applicant's ID number, masked.")
    reasons: list[str]
    comment: str | None
    defaulted: bool


class RatingExport(BaseModel):
    ratings: list[RatingRecord]


# -- the manager's live dashboard (hall/web/dashboard.py) -------------------------------------

class WindowQueuesBody(Body):
    queues: list[str] = Field(min_length=1, max_length=20, description="Queue prefixes the window "
                              "serves from now on, in order, e.g. [\"A\", \"J\"].")
    mode: Literal["order", "weighted"] = "order"
    weights: dict[str, int] = Field(default_factory=dict, description="Weight per queue in "
                                    "weighted mode (1–100; a queue without a weight counts 1).")


class DashQueueOut(BaseModel):
    prefix: str
    name: str
    open: bool
    waiting: int
    longest_wait_s: int = Field(description="now − when the oldest waiting ticket started waiting.")


class DashWindowOut(BaseModel):
    number: int
    name: str
    kind: str
    state: Literal["closed", "idle", "serving", "paused"]
    pause_reason: str | None
    since_s: int | None
    clerk: str | None
    ticket: str | None
    queues: list[str]
    mode: str
    weights: dict[str, int]
    device_offline: list[str] = Field(description="Names of this window's devices that are offline.")


class AlertOut(BaseModel):
    kind: Literal["queue_long", "wait_long"]
    queue: str
    waiting: int
    longest_wait_s: int
    message: str
    helpers: list[int] = Field(description="Idle windows that could help: comprehensive or "
                               "multi-queue windows serving the queue, or alerts.switch_windows.")


class DashTodayOut(BaseModel):
    issued: int
    served: int
    no_show: int


class DashCurvesOut(BaseModel):
    bucket_min: int
    labels: list[str]
    arrivals: list[int | None]
    waiting: list[int | None] = Field(description="People waiting at the end of each bucket.")
    arrivals_before: list[float | None] = Field(description="Mean of the same weekday, previous 4 weeks.")
    waiting_before: list[float | None]
    before_days: list[str]


class DashboardOut(BaseModel):
    hall: str
    name: str
    at: str
    date: str
    waiting: int
    longest_wait_s: int
    queues: list[DashQueueOut]
    windows: list[DashWindowOut]
    windows_by_state: dict[str, int]
    today: DashTodayOut
    curves: DashCurvesOut
    alerts: list[AlertOut]
    thresholds: dict[str, int]


# Appointments (预约, hall/web/booking.py).
class BookBody(Body):
    queue: str = Field(max_length=2, description="Queue prefix, e.g. \"B\".")
    date: str = Field(max_length=10, description="The day, YYYY-MM-DD.")
    start: str = Field(max_length=5, description="The slot's start, HH:MM, as listed by …/slots.")
    id_number: str = Field(max_length=18, description="ID number of the person who will come; "
                           "stored only as a keyed hash and masked.")
    phone: str = Field(max_length=20, description="Mobile number; stored only as a keyed hash and masked.")


class CheckInBody(Body):
    code: str | None = Field(None, max_length=16, description="The booking code.")
    id_number: str | None = Field(None, max_length=18, description="Or the ID number it was booked with.")
    kiosk: str | None = Field(None, max_length=32, description="The kiosk that prints the ticket.")


class SlotOut(BaseModel):
    start: str = Field(description="HH:MM, local time.")
    end: str
    starts_at: str
    capacity: int
    free: int


class SlotList(BaseModel):
    hall: str
    queue: str
    date: str
    bookable: bool = Field(description="Whether this date is in the booking window.")
    bookable_dates: list[str]
    slots: list[SlotOut]


class AppointmentOut(BaseModel):
    code: str | None = Field(None, description="The booking code: only in the answer to the booking; "
                             "it is the secret that cancels and checks in.")
    hall: str
    queue: str
    queue_name: str
    date: str
    start: str
    end: str
    status: Literal["booked", "checked_in", "cancelled", "no_show"]
    id_masked: str | None
    phone_masked: str | None
    cancel_until: str
    check_in_from: str
    check_in_until: str
    late: bool


class CheckInOut(BaseModel):
    ticket: TicketOut
    appointment: AppointmentOut
    late: bool = Field(description="Arrived after check-in closed: an ordinary ticket, the "
                       "appointment counts as missed.")
    message: str


# The city view (市级监管, hall/web/city.py).
class CityHallOut(BaseModel):
    code: str
    name: str
    level: Literal["city", "district", "street", "community"]
    parent: str | None = Field(description="Code of the hall above, null for the top.")
    seq: int = Field(description="The hall's last live-event seq when the figures were read.")
    date: str = Field(description="The hall's business day, YYYY-MM-DD.")
    open: bool = Field(description="Within an opening session now.")
    windows: int = Field(description="Configured windows.")
    waiting: int
    longest_wait_s: int = Field(description="Longest current wait; 0 when nobody waits.")
    open_windows: int = Field(description="Windows signed in (idle, serving or paused).")
    issued: int
    served: int = Field(description="Tickets whose last service of the day ended done.")
    services: int = Field(description="Services done today (each transfer step counts).")
    ratings: int = Field(description="Active ratings of today (default ratings left out).")
    evaluation_rate: float | None = Field(description="主动评价率: ratings ÷ services.")
    good_rate: float | None = Field(description="好评率: ratings of 4–5 ÷ ratings.")


class CityTotalsOut(BaseModel):
    waiting: int
    longest_wait_s: int
    open_windows: int
    windows: int
    issued: int
    served: int
    services: int
    ratings: int
    evaluation_rate: float | None
    good_rate: float | None


class CityOut(BaseModel):
    at: str
    halls: list[CityHallOut] = Field(description="City, district, street, community halls, then by code.")
    totals: CityTotalsOut


# Period reports (统计报表, hall/reports.py) and attendance (考勤, hall/attendance.py).
class ReportRow(BaseModel):
    key: str | int | None = Field(description="The group: a date, a month (2026-11), an hour (09:00), a "
                                  "queue prefix, a department code, a window number or a clerk login.")
    name: str | None
    issued: int | None = Field(description="Tickets issued (null for window and clerk groups).")
    served: int
    no_show: int
    no_show_rate: float | None = Field(description="no_show ÷ issued.")
    services: int = Field(description="Services ended done, unresolved or transferred.")
    avg_wait_s: float | None
    max_wait_s: float | None
    avg_service_s: float | None
    service_level: float | None = Field(description="Called services waiting ≤ target_wait_s ÷ called "
                                        "services.")
    utilisation: float | None = Field(description="Windows only: time from call to end of services ÷ "
                                      "open time (signed in, not paused).")
    extended_services: int = Field(description="延时服务人次: services called after the day's last closing.")


class ReportTotal(ReportRow):
    days_with_tickets: int
    daily_avg_issued: float | None = Field(description="日均接待: tickets ÷ days with tickets.")


class ReportOut(BaseModel):
    hall: str
    from_: str = Field(alias="from")
    to: str
    by: Literal["day", "month", "hour", "queue", "department", "window", "clerk"]
    target_wait_s: int
    rows: list[ReportRow]
    total: ReportTotal


class CityReportRow(ReportRow):
    key: str | None = Field(description="The group: a hall code, a date or a month (2026-11).")
    level: Literal["city", "district", "street", "community"] | None = Field(
        None, description="by=hall: the hall's level.")
    parent: str | None = Field(None, description="by=hall: the hall above it, if any.")


class CityReportOut(BaseModel):
    hall: str = Field(description="'city', or the hall whose tree is reported (the token's or ?under=).")
    halls: list[str] = Field(description="The halls added up.")
    from_: str = Field(alias="from")
    to: str
    by: Literal["hall", "day", "month"]
    rows: list[CityReportRow]
    total: ReportTotal = Field(description="All the halls; 日均接待 divides by the days on which any "
                               "of them issued a ticket.")


class AttendanceDay(BaseModel):
    date: str
    sign_in: str | None = Field(description="First sign-in of the day (local time).")
    sign_out: str | None = Field(description="Last sign-out of the day (local time).")
    windows: list[int]
    open_s: float = Field(description="Signed in and not paused, seconds.")
    pause_s: dict[str, float] = Field(description="Pause seconds by reason.")
    pause_total_s: float


class AttendanceClerk(BaseModel):
    login: str | None
    name: str | None
    days: list[AttendanceDay]
    open_s: float
    pause_s: dict[str, float]


class AttendanceOut(BaseModel):
    hall: str
    from_: str = Field(alias="from")
    to: str
    clerks: list[AttendanceClerk]
