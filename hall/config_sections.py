"""The sections of a hall's configuration (hours, calendar, policy, queues, windows, devices…):
frozen, validated models; hall/config.py assembles them into the settings of a hall and a server."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from hall.config_errors import CODE, HALL_CODE, LOGIN, PREFIX, parse_hhmm, pattern_check, problem

PRIORITY_CLASSES = ("elderly", "disabled", "veteran", "pregnant", "appointment", "enterprise")
DRIVERS = {"printer": ("virtual", "serial", "network", "usb"), "led_bus": ("virtual", "serial"),
           "evalpad": ("virtual", "serial"), "callpad": ("virtual", "serial")}


Pos = Annotated[int, Field(strict=True, ge=1)]
NonNeg = Annotated[int, Field(strict=True, ge=0)]
Text = Annotated[str, Field(min_length=1)]
HallCode = Annotated[str, pattern_check(HALL_CODE, "hall code",
                                        '1–8 capital letters or digits, starting with a letter, e.g. "XS"')]
Prefix = Annotated[str, pattern_check(PREFIX, "queue prefix", 'one or two capital letters, e.g. "A" or "BA"')]
Login = Annotated[str, pattern_check(LOGIN, "login",
                                     '2–32 lower-case letters, digits, "_", "." or "-", e.g. "wangfang"')]
Code = Annotated[str, pattern_check(CODE, "code", 'letters, digits, "_", "." or "-" without spaces, e.g. "rsj"')]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Session(_Frozen):
    """An opening session, written "08:30-12:00" in TOML."""
    start: dt.time
    end: dt.time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        fix = 'write it as "HH:MM-HH:MM", e.g. "08:30-12:00"'
        parts = value.replace("–", "-").split("-")
        if len(parts) != 2:
            raise problem(f"{value!r} is not a session", fix)
        try:
            return {"start": parse_hhmm(parts[0]), "end": parse_hhmm(parts[1])}
        except PydanticCustomError as err:
            raise problem(f"{value!r} is not a session: {err.context['text']}", fix) from None

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        if self.end <= self.start:
            raise problem(f"session '{self}' ends before it starts",
                          f'write the start first, e.g. "{self.end:%H:%M}-{self.start:%H:%M}"')
        return self

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _sessions_in_order(sessions: tuple[Session, ...]) -> tuple[Session, ...]:
    for i in range(1, len(sessions)):
        if sessions[i].start < sessions[i - 1].end:
            raise problem(f"session '{sessions[i]}' overlaps or comes before '{sessions[i - 1]}'",
                          "list the sessions of a day in time order, each starting after the previous one ends",
                          sub=f"[{i}]")
    return sessions


Day = Annotated[tuple[Session, ...], AfterValidator(_sessions_in_order), Field(examples=[["08:30-12:00"]])]


class HoursSettings(_Frozen):
    weekdays: Day = (Session(start=dt.time(8, 30), end=dt.time(12)),
                     Session(start=dt.time(13, 30), end=dt.time(17, 30)))
    saturday: Day = ()
    sunday: Day = ()


class ExtraSession(_Frozen):
    """Sessions on one date outside the usual hours (周末办, 延时办 by appointment)."""
    date: dt.date
    sessions: Day

    @field_validator("sessions")
    @classmethod
    def _some(cls, value: tuple[Session, ...]) -> tuple[Session, ...]:
        if not value:
            raise problem("an extra day needs at least one session", 'write e.g. sessions = ["09:00-12:00"]')
        return value


class CalendarSettings(_Frozen):
    # A file of the national holiday plan (法定节假日与调休), shared by every hall of a city:
    # TOML with `holidays = [...]` and `workdays = [...]`, merged into the lists below.
    holidays_file: str | None = None
    holidays: tuple[dt.date, ...] = ()
    workdays: tuple[dt.date, ...] = ()  # make-up working days (调休) that fall on a weekend
    extra_sessions: tuple[ExtraSession, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CalendarSettings:
        for i, day in enumerate(self.workdays):
            if day in self.holidays:
                raise problem(f"{day} is both a holiday and a make-up workday", "keep it in only one of the two lists",
                              sub=f".workdays[{i}]")
        return self


class PolicySettings(_Frozen):
    target_wait_s: Pos = 900
    # 0 = off: halls whose clerks do not mark arrival would see visitors at the desk skipped.
    no_show_timeout_s: NonNeg = 0
    priority_boost_s: tuple[tuple[str, int], ...] = tuple((c, 1800) for c in PRIORITY_CLASSES)
    # 防黄牛: tickets one ID number may take per queue and business day; 0 = no cap.
    max_tickets_per_id: NonNeg = 0

    @field_validator("priority_boost_s", mode="before")
    @classmethod
    def _boosts(cls, value: Any) -> Any:
        if isinstance(value, (tuple, list)) and all(isinstance(p, (tuple, list)) for p in value):
            value = dict(value)
        if not isinstance(value, dict):
            raise problem(f"{value!r} is not a table",
                          "write e.g. priority_boost_s = { elderly = 1800, appointment = 900 }")
        boosts = dict.fromkeys(PRIORITY_CLASSES, 1800)
        for cls_, seconds in value.items():
            if cls_ not in PRIORITY_CLASSES:
                raise problem(f"unknown priority class {cls_!r} — the classes are {', '.join(PRIORITY_CLASSES)}",
                              f"use one of those names, or remove {cls_!r}", sub=f".{cls_}")
            if type(seconds) is not int or seconds < 0:
                raise problem(f"{seconds!r} is not a number of seconds ≥ 0", f"write e.g. {cls_} = 1800",
                              sub=f".{cls_}")
            boosts[cls_] = seconds
        return tuple(boosts.items())

    def boost(self, cls: str) -> int:
        """Seconds of waiting credited to a ticket of this priority class; 0 for "none"."""
        return 0 if cls == "none" else dict(self.priority_boost_s)[cls]


class Reason(_Frozen):
    code: Code
    name: Text


class VoiceSettings(_Frozen):
    """The hall screen's announcement of each call ("请 A023 号到 5 号窗口办理")."""
    enabled: bool = True
    volume: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    repeat: Annotated[int, Field(strict=True, ge=1, le=5)] = 2


class RatingSettings(_Frozen):
    """好差评: reasons offered after a bad rating (差评), its rectification deadline, defaults, SMS invitations."""
    reasons: tuple[Reason, ...] = tuple(Reason(code=c, name=n) for c, n in (
        ("attitude", "服务态度"), ("efficiency", "办事效率"), ("guidance", "告知不清"),
        ("materials", "材料繁琐"), ("environment", "环境设施"), ("other", "其他")))
    rectify_days: Pos = 5  # working days to close a bad-review case (差评整改)
    default_after_days: NonNeg = 0  # > 0: services still unrated after N days get a default rating
    default_level: Annotated[int, Field(strict=True, ge=3, le=5)] = 3  # never a bad review
    invite_after_s: NonNeg = 0  # > 0: SMS invitation (短信邀评) that long after the service
    invite_webhook_url: str | None = Field(None, examples=["https://sms.example.gov.cn/send"])

    @field_validator("invite_webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise problem(f"{value!r} is not an http(s) URL",
                          'write e.g. invite_webhook_url = "https://sms.example.gov.cn/send"')
        return value


class AlertSettings(_Frozen):
    """Manager alerts (预警) on the live dashboard: a long queue, a long wait; 0 switches a rule off."""
    max_waiting: NonNeg = 30        # an alert when more than this many wait in one queue
    max_wait_minutes: NonNeg = 30   # an alert when a ticket has waited longer than this
    # Windows the manager may switch to any queue: listed as helpers of every alert while idle.
    switch_windows: tuple[Pos, ...] = ()


class DepartmentSettings(_Frozen):
    code: Code
    name: Text


class MatterSettings(_Frozen):
    """A matter (事项): on the spot (即办件) or done within promised working days (承诺件)."""
    code: Code
    name: Text
    department: Code
    kind: Literal["on_the_spot", "promised"] = "on_the_spot"
    promised_days: Pos | None = Field(None, examples=[5])

    @model_validator(mode="after")
    def _days(self) -> MatterSettings:
        if self.kind == "promised" and self.promised_days is None:
            raise problem("a promised matter (承诺件) needs promised_days", 'add promised_days = 5 (working days, ≥ 1), '
                          'or set kind = "on_the_spot"', sub=".promised_days")
        if self.kind == "on_the_spot" and self.promised_days is not None:
            raise problem(f"promised_days = {self.promised_days} given for an on-the-spot matter",
                          'set kind = "promised", or remove promised_days', sub=".promised_days")
        return self


class SlotSettings(_Frozen):
    """A queue's appointment slots (预约时段): slot_minutes long within the opening sessions, per_slot places each."""
    slot_minutes: Annotated[int, Field(strict=True, ge=5, le=240)] = Field(30, examples=[30])
    per_slot: Pos = Field(4, examples=[4])


class AppointmentRules(_Frozen):
    """A hall's booking rules (预约规则); the defaults are the seed halls' practice."""
    # Bookable days: from min_days_ahead to max_days_ahead opening days after today (today = 0).
    min_days_ahead: NonNeg = 1
    max_days_ahead: Pos = 5
    per_person_per_day: Pos = 1  # bookings one ID number may hold in this hall on one day
    cancel_before_minutes: NonNeg = 120  # cancelling closes this long before the slot starts
    check_in_before_minutes: NonNeg = 15  # check-in at the kiosk opens this long before the start
    check_in_after_minutes: NonNeg = 10  # …and closes this long after it; later = missed (爽约)
    no_show_limit: NonNeg = 2  # this many missed appointments → no booking for ban_months; 0 = off
    ban_months: Pos = 3

    @model_validator(mode="after")
    def _window(self) -> AppointmentRules:
        if self.min_days_ahead > self.max_days_ahead:
            raise problem(f"min_days_ahead = {self.min_days_ahead} is after max_days_ahead = {self.max_days_ahead}",
                          "make min_days_ahead ≤ max_days_ahead, e.g. 1 and 5", sub=".min_days_ahead")
        return self


class QueueSettings(_Frozen):
    """A queue (队列): one ticket series, A001, A002, …"""
    prefix: Prefix = Field(examples=["A"])
    name: Text = Field(examples=["综合受理"])
    department: Code | None = None
    matters: tuple[Code, ...] = Field((), examples=[["M001"]])
    daily_cap: Pos | None = Field(None, examples=[300])
    number_width: Annotated[int, Field(strict=True, ge=2, le=5)] = 3
    last_ticket: dt.time | None = Field(None, examples=["17:00"])
    avg_service_s: Annotated[int, Field(strict=True, gt=0)] = 600
    open: Annotated[bool, Field(strict=True)] = True
    appointments: SlotSettings | None = Field(None, examples=[{"slot_minutes": 30, "per_slot": 4}])

    @field_validator("last_ticket", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        return None if value is None else parse_hhmm(value)

    @model_validator(mode="after")
    def _cap_fits(self) -> QueueSettings:
        if self.daily_cap is not None and self.daily_cap >= 10 ** self.number_width:
            raise problem(f"daily_cap {self.daily_cap} does not fit in number_width = {self.number_width} digits",
                          f"set number_width = {len(str(self.daily_cap))} or lower daily_cap", sub=".daily_cap")
        return self


class WindowSettings(_Frozen):
    """A window (窗口): serves its queues in order, or by weights."""
    number: Pos = Field(examples=[1])
    name: str = ""  # default "<number>号窗口"
    kind: Literal["comprehensive", "dedicated", "complaints"] = "dedicated"
    queues: tuple[Prefix, ...] = Field(examples=[["A"]])
    mode: Literal["order", "weighted"] = "order"
    weights: tuple[tuple[str, int], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, value: Any) -> Any:
        if isinstance(value, dict) and "name" not in value and type(value.get("number")) is int:
            return {**value, "name": f"{value['number']}号窗口"}
        return value

    @field_validator("weights", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        pairs = list(value.items()) if isinstance(value, dict) else value
        if not isinstance(pairs, (tuple, list)) or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
            raise problem(f"{value!r} is not a table", "write e.g. weights = { A = 3, J = 1 }")
        for prefix, weight in pairs:
            if type(weight) is not int or weight < 1:
                raise problem(f"weight {weight!r} for queue {prefix!r} is not a whole number ≥ 1",
                              f"write e.g. {prefix} = 1 (a queue without a weight counts 1)", sub=f".{prefix}")
        return tuple(pairs)

    @model_validator(mode="after")
    def _queues(self) -> WindowSettings:
        if not self.queues:
            raise problem("window serves no queue", 'list the queues it serves, e.g. queues = ["A"]', sub=".queues")
        for i, prefix in enumerate(self.queues):
            if prefix in self.queues[:i]:
                raise problem(f"queue {prefix!r} is listed twice", f"remove the second {prefix!r}", sub=f".queues[{i}]")
        for prefix, _ in self.weights:
            if prefix not in self.queues:
                raise problem(f"weight for queue {prefix!r}, which this window does not serve "
                              f"(it serves {', '.join(self.queues)})",
                              f"add {prefix!r} to queues, or remove its weight", sub=f".weights.{prefix}")
        return self

    def weight(self, prefix: str) -> int:
        """Weight of one of this window's queues (1 unless set); KeyError if the window doesn't serve it."""
        if prefix not in self.queues:
            raise KeyError(prefix)
        return dict(self.weights).get(prefix, 1)


class StaffSettings(_Frozen):
    login: Login = Field(examples=["wangfang"])
    name: Text = Field(examples=["王芳"])
    role: Literal["clerk", "manager"] = "clerk"
    windows: tuple[Pos, ...] = Field((), examples=[[1]])


class BundleSettings(_Frozen):
    """A bundle (一件事一次办): one ticket going through several queues in turn."""
    code: Code
    name: Text
    queues: tuple[Prefix, ...] = Field(examples=[["C", "H"]])

    @model_validator(mode="after")
    def _queues(self) -> BundleSettings:
        if len(self.queues) < 2:
            raise problem(f"a bundle needs at least 2 queues, this one has {len(self.queues)}",
                          'list the queues in the order the visitor goes through them, e.g. queues = ["C", "H"]',
                          sub=".queues")
        for i, prefix in enumerate(self.queues):
            if prefix in self.queues[:i]:
                raise problem(f"queue {prefix!r} is listed twice", f"remove the second {prefix!r}", sub=f".queues[{i}]")
        return self


class DeviceSettings(_Frozen):
    """A device: a ticket printer, or a bus of window screens, evaluation pads or call pads."""
    name: Text = Field(examples=["printer-k1"])
    kind: Literal["printer", "led_bus", "evalpad", "callpad"]
    driver: str = "virtual"
    port: str | None = Field(None, examples=["/dev/ttyUSB0"])
    baudrate: Pos = 9600
    host: str | None = Field(None, examples=["192.168.1.50"])
    tcp_port: Annotated[int, Field(strict=True, ge=1, le=65535)] = 9100
    usb_vendor: Annotated[int, Field(strict=True, ge=0, le=0xFFFF)] | None = Field(None, examples=[0x0416])
    usb_product: Annotated[int, Field(strict=True, ge=0, le=0xFFFF)] | None = Field(None, examples=[0x5011])
    paper_width_mm: Literal[58, 80] = 80
    kiosk: str | None = None
    windows: tuple[Pos, ...] = Field((), examples=[[1, 2, 3]])
    addresses: tuple[Annotated[int, Field(strict=True, ge=0)], ...] | None = Field(None, examples=[[1, 2, 3]])
    protocol: Text = "hall-led-v1"
    heartbeat_s: Pos = 10

    @model_validator(mode="after")
    def _wiring(self) -> DeviceSettings:
        drivers = DRIVERS[self.kind]
        if self.driver not in drivers:
            raise problem(f"driver {self.driver!r} is not available for a {self.kind}",
                          f"use one of {', '.join(drivers)}", sub=".driver")
        if self.driver == "serial" and not self.port:
            raise problem("a serial device needs a port", 'add e.g. port = "/dev/ttyUSB0" (or "socket://host:7000")',
                          sub=".port")
        if self.driver == "network" and not self.host:
            raise problem("a network printer needs a host", 'add e.g. host = "192.168.1.50"', sub=".host")
        if self.driver == "usb" and (self.usb_vendor is None or self.usb_product is None):
            raise problem("a USB printer needs usb_vendor and usb_product",
                          "add them as shown by lsusb, e.g. usb_vendor = 0x0416 and usb_product = 0x5011",
                          sub=".usb_vendor")
        for key in ("paper_width_mm", "kiosk"):
            if self.kind != "printer" and key in self.model_fields_set:
                raise problem(f"{key} only applies to a printer, this is a {self.kind}", f"remove {key}", sub=f".{key}")
        if self.addresses is not None:
            if len(self.addresses) != len(self.windows):
                raise problem(f"{len(self.addresses)} addresses for {len(self.windows)} windows",
                              "give one address per window, in the same order, or remove addresses "
                              "(then each address is the window number)", sub=".addresses")
            for i, address in enumerate(self.addresses):
                if address in self.addresses[:i]:
                    raise problem(f"address {address} is used twice on this bus", "give each window its own address",
                                  sub=f".addresses[{i}]")
        return self

    def address(self, window: int) -> int:
        """Bus address of the screen or pad of a window (the window number unless addresses are given)."""
        if window not in self.windows:
            raise KeyError(window)
        return self.addresses[self.windows.index(window)] if self.addresses is not None else window
