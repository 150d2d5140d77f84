"""SQLAlchemy 2 typed models: halls, queues, windows, tickets and their append-only event log."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC instant on every engine (SQLite stores no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(so.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: sa.JSON()}


class TicketStatus(str, enum.Enum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


WAITING_STATES = frozenset({TicketStatus.WAITING})
AT_WINDOW_STATES = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})
OPEN_TICKET_STATES = WAITING_STATES | AT_WINDOW_STATES
FINAL_TICKET_STATES = frozenset({TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.CANCELLED})


class WindowState(str, enum.Enum):
    CLOSED = "closed"     # nobody signed in
    IDLE = "idle"         # a clerk is there, no visitor
    SERVING = "serving"   # a ticket is called or being served
    PAUSED = "paused"     # 暂停服务: break, meeting, training


OPEN_WINDOW_STATES = frozenset({WindowState.IDLE, WindowState.SERVING, WindowState.PAUSED})


class Priority(str, enum.Enum):
    NONE = "none"
    ELDERLY = "elderly"
    DISABLED = "disabled"
    VETERAN = "veteran"
    PREGNANT = "pregnant"
    APPOINTMENT = "appointment"
    ENTERPRISE = "enterprise"


class Role(str, enum.Enum):
    KIOSK = "kiosk"
    CLERK = "clerk"
    SCREEN = "screen"
    PAD = "pad"
    MANAGER = "manager"
    ADMIN = "admin"
    CITY = "city"  # reads every hall at or below its hall (市级监管), changes nothing


def _enum(cls: type[enum.Enum]) -> sa.Enum:
    # Stored as the value, checked by the application, not a database ENUM type:
    # adding a state must not need an ALTER TYPE on PostgreSQL.
    return sa.Enum(cls, native_enum=False, create_constraint=False, length=16,
                   values_callable=lambda e: [m.value for m in e])


class Hall(Base):
    __tablename__ = "halls"
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(8), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64))
    # Last ``seq`` handed to a live event of this hall; bumped inside each action's transaction.
    event_seq: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (sa.UniqueConstraint("hall_id", "code"),)
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    code: so.Mapped[str] = so.mapped_column(sa.String(32))
    name: so.Mapped[str] = so.mapped_column(sa.String(100))


class Queue(Base):
    """A ticket series with its own prefix (队列 / 业务类型)."""

    __tablename__ = "queues"
    __table_args__ = (sa.UniqueConstraint("hall_id", "prefix"),)
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"), index=True)
    prefix: so.Mapped[str] = so.mapped_column(sa.String(2))
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    # A manager can close a queue at run time; config decides the initial value.
    open: so.Mapped[bool] = so.mapped_column(default=True)


class Window(Base):
    """A counter (窗口) and its current state."""

    __tablename__ = "windows"
    __table_args__ = (sa.UniqueConstraint("hall_id", "number"),)
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"), index=True)
    number: so.Mapped[int]
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    state: so.Mapped[WindowState] = so.mapped_column(_enum(WindowState), default=WindowState.CLOSED)
    pause_reason: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    state_since: so.Mapped[dt.datetime | None]
    staff_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("staff.id"))
    # The ticket called to this window and not yet finished. No foreign key: tickets
    # point at windows already, and a cycle of keys makes table creation order-dependent.
    ticket_id: so.Mapped[int | None]
    # "order": the first queue with anyone waiting; "weighted": weight × longest wait.
    mode: so.Mapped[str] = so.mapped_column(sa.String(16), default="order")

    staff: so.Mapped[Staff | None] = so.relationship(foreign_keys=[staff_id])
    serves: so.Mapped[list[WindowQueue]] = so.relationship(
        order_by="WindowQueue.position", cascade="all, delete-orphan")


class WindowQueue(Base):
    """A queue a window serves, in the window's order, with its weight."""

    __tablename__ = "window_queues"
    window_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("windows.id"), primary_key=True)
    queue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("queues.id"), primary_key=True)
    position: so.Mapped[int]
    weight: so.Mapped[int] = so.mapped_column(default=1)

    queue: so.Mapped[Queue] = so.relationship()


class Staff(Base):
    """A member of window staff or a manager (工位管理)."""

    __tablename__ = "staff"
    __table_args__ = (sa.UniqueConstraint("hall_id", "login"),)
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"), index=True)
    login: so.Mapped[str] = so.mapped_column(sa.String(32))
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default="clerk")
    active: so.Mapped[bool] = so.mapped_column(default=True)


class QueueCounter(Base):
    """The last number handed out per queue and business day: gap-free numbering."""

    __tablename__ = "queue_counters"
    queue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("queues.id"), primary_key=True)
    business_day: so.Mapped[dt.date] = so.mapped_column(primary_key=True)
    last_number: so.Mapped[int] = so.mapped_column(default=0)


class Ticket(Base):
    """A visitor's ticket (号票) for one business day."""

    __tablename__ = "tickets"
    __table_args__ = (
        sa.UniqueConstraint("origin_queue_id", "business_day", "seq"),
        # The policy's scan: waiting tickets of a queue in effective order.
        sa.Index("ix_tickets_waiting", "queue_id", "status", "sort_key"),
        # Tickets sent to one window (转号 to a window), in effective order: every call asks.
        sa.Index("ix_tickets_targeted", "target_window_id", "status", "sort_key"),
        # The hall's waiting tickets per queue (screens, forecasts), without reading past days.
        sa.Index("ix_tickets_hall_status", "hall_id", "status", "queue_id"),
        sa.Index("ix_tickets_hall_day", "hall_id", "business_day"),
    )
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    business_day: so.Mapped[dt.date]
    origin_queue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("queues.id"))
    seq: so.Mapped[int]
    number: so.Mapped[str] = so.mapped_column(sa.String(8))
    # The queue the ticket waits in now (changes on transfer and along a bundle).
    queue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("queues.id"))
    # Set when the ticket was transferred to one named window: only that window calls it.
    target_window_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("windows.id"))
    priority: so.Mapped[Priority] = so.mapped_column(_enum(Priority), default=Priority.NONE)
    status: so.Mapped[TicketStatus] = so.mapped_column(_enum(TicketStatus), default=TicketStatus.WAITING)
    channel: so.Mapped[str] = so.mapped_column(sa.String(16), default="kiosk")
    issued_at: so.Mapped[dt.datetime]
    # When the current step started waiting: issue, or the last transfer / bundle step.
    waiting_since: so.Mapped[dt.datetime]
    # Issue time minus the priority boost, in seconds since the epoch: the one ordering key
    # of the policy (FIFO within a class, bounded overtaking across classes).
    sort_key: so.Mapped[float] = so.mapped_column(sa.Float)
    window_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("windows.id"))
    called_at: so.Mapped[dt.datetime | None]
    closed_at: so.Mapped[dt.datetime | None]
    close_reason: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    # The queues still ahead of a bundle (一件事一次办), as a JSON list of queue ids.
    route: so.Mapped[list[int]] = so.mapped_column(sa.JSON, default=list)
    bundle: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    matters: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # Unguessable secret of the mobile ticket page (track_url).
    secret: so.Mapped[str] = so.mapped_column(sa.String(64))
    # Personal data only as a keyed hash and a masked form (never in clear).
    phone_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    phone_masked: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    id_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64), index=True)
    id_masked: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    kiosk: so.Mapped[str | None] = so.mapped_column(sa.String(32))

    queue: so.Mapped[Queue] = so.relationship(foreign_keys=[queue_id])
    origin_queue: so.Mapped[Queue] = so.relationship(foreign_keys=[origin_queue_id])
    window: so.Mapped[Window | None] = so.relationship(foreign_keys=[window_id])
    target_window: so.Mapped[Window | None] = so.relationship(foreign_keys=[target_window_id])


class Service(Base):
    """One service step of a ticket at one window: from call to finish, no-show or transfer.

    A transferred ticket or a bundle has one service per step; a rating belongs to a service.
    """

    __tablename__ = "services"
    __table_args__ = (
        sa.Index("ix_services_hall_day", "hall_id", "business_day"),
        # A queue's services of the day, latest first: the forecast's mean service time.
        sa.Index("ix_services_queue_day", "queue_id", "business_day", "ended_at"),
    )
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    business_day: so.Mapped[dt.date]
    ticket_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tickets.id"), index=True)
    queue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("queues.id"))
    window_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("windows.id"))
    staff_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("staff.id"))
    # When this step started waiting (issue, or the transfer/bundle step before it).
    waiting_since: so.Mapped[dt.datetime]
    called_at: so.Mapped[dt.datetime]
    last_called_at: so.Mapped[dt.datetime]
    recalls: so.Mapped[int] = so.mapped_column(default=0)
    ended_at: so.Mapped[dt.datetime | None]
    # done | no_show | transferred | cancelled; NULL while at the window.
    outcome: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    matters: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)

    ticket: so.Mapped[Ticket] = so.relationship()
    window: so.Mapped[Window] = so.relationship()


class TicketEvent(Base):
    """Append-only log of every ticket transition: who, which window, when."""

    __tablename__ = "ticket_events"
    __table_args__ = (sa.Index("ix_ticket_events_hall_at", "hall_id", "at"),)
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    ticket_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tickets.id"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    at: so.Mapped[dt.datetime]
    queue_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("queues.id"))
    window_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("windows.id"))
    service_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("services.id"))
    actor: so.Mapped[str] = so.mapped_column(sa.String(64))
    data: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)


class WindowEvent(Base):
    """Append-only log of window states: sign-in, sign-out, pause, resume (考勤)."""

    __tablename__ = "window_events"
    __table_args__ = (sa.Index("ix_window_events_hall_at", "hall_id", "at"),)
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    window_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("windows.id"), index=True)
    staff_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("staff.id"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    reason: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    at: so.Mapped[dt.datetime]
    actor: so.Mapped[str] = so.mapped_column(sa.String(64))


class Rating(Base):
    """A 好差评 rating of one service (一次一评)."""

    __tablename__ = "ratings"
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("halls.id"))
    service_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("services.id"), unique=True)
    ticket_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tickets.id"), index=True)
    business_day: so.Mapped[dt.date] = so.mapped_column(index=True)
    level: so.Mapped[int]
    reasons: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    comment: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    at: so.Mapped[dt.datetime]
    # A rating filled in by a default policy is never counted as active.
    defaulted: so.Mapped[bool] = so.mapped_column(default=False)


class ApiToken(Base):
    """A bearer token of a device or an integration, stored as a hash."""

    __tablename__ = "api_tokens"
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    hall_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("halls.id"))
    role: so.Mapped[Role] = so.mapped_column(_enum(Role))
    window_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("windows.id"))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    label: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    created_at: so.Mapped[dt.datetime]
    revoked_at: so.Mapped[dt.datetime | None]

    hall: so.Mapped[Hall | None] = so.relationship()
    window: so.Mapped[Window | None] = so.relationship()
