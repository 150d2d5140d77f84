"""The configured devices as subscribers of domain events: slips, screens, pads, device alerts."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from devices.callpad import PadKey
from devices.evalpad import PadRating
from devices.health import OK_STATES, DeviceState
from devices.ledbus import ScreenContent
from devices.printer import TicketSlip
from devices.registry import build_device
from devices.worker import DeviceWorker
from hall import evaluation, events, notices, present
from hall import windows as actions
from hall.errors import DomainError
from hall.models import Hall, Service, Window

log = logging.getLogger(__name__)

KIND_TEXT = {"printer": "打印机", "led_bus": "窗口屏", "evalpad": "评价器", "callpad": "呼叫器"}
STATE_TEXT = {DeviceState.ONLINE: "恢复正常", DeviceState.OFFLINE: "离线",
              DeviceState.PAPER_OUT: "缺纸", DeviceState.PAPER_NEAR_END: "纸将用完",
              DeviceState.COVER_OPEN: "纸仓盖未关", DeviceState.ERROR: "故障"}
#: What a call pad shows for a refused key (its display holds 32 GB2312 bytes, 16 characters).
PAD_ERRORS = {"window_paused": "暂停中", "no_current_ticket": "无当前号", "window_closed": "窗口未上岗",
              "window_busy": "请先办结当前号", "window_not_paused": "未暂停",
              "invalid_transfer": "不能转到该窗口", "unknown_window": "无此窗口"}
FINISHED_OUTCOMES = ("done", "unresolved")


class TaskQueue:
    """One daemon thread running queued calls in order; ``submit`` never blocks (full → dropped)."""

    def __init__(self, name: str, limit: int = 256) -> None:
        self.name = name
        self._queue: queue.Queue[tuple[Callable, tuple] | None] = queue.Queue(limit)
        self._cond = threading.Condition()
        self._pending = 0
        self.completed = 0  # tasks run so far, failed ones included
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        with self._cond:
            self._pending += 1
        try:
            self._queue.put_nowait((fn, args))
        except queue.Full:
            self._done()
            log.error("%s: queue full, dropped %s%r", self.name, getattr(fn, "__name__", fn), args)
            return False
        return True

    def wait_idle(self, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Run what is queued (up to ``timeout``), then end the thread."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _done(self, ran: bool = False) -> None:
        with self._cond:
            self._pending -= 1
            self.completed += ran
            self._cond.notify_all()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, args = item
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - one failing task must not end the thread
                log.exception("%s: task %s failed", self.name, getattr(fn, "__name__", fn))
            finally:
                self._done(ran=True)


@dataclasses.dataclass
class Device:
    """One configured device of one hall and its running worker."""

    hall: str
    settings: Any  # hall.config.DeviceSettings
    worker: DeviceWorker
    window_of: dict[int, int]  # pad/screen address → window number

    def __post_init__(self) -> None:
        self.name, self.kind = self.settings.name, self.settings.kind

    def view(self, state: DeviceState | None = None) -> dict[str, Any]:
        """The ``device`` of a ``device.changed`` event (and of a snapshot)."""
        state = state or self.worker.state
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "driver": self.settings.driver,
                               "state": state.value, "ok": state in OK_STATES}
        if self.kind == "printer":
            out["kiosk"] = self.settings.kiosk
        else:
            out["windows"] = list(self.settings.windows)
        return out

    def describe(self) -> str:
        """"取号机K1打印机", "窗口屏 window-screens（1–52号窗口）" – the subject of an alert sentence."""
        if self.kind == "printer" and self.settings.kiosk:
            kiosk = self.settings.kiosk
            return f"{kiosk}号取号机打印机" if kiosk.isdigit() else f"取号机{kiosk}打印机"
        windows = sorted(self.settings.windows)
        where = ""
        if windows:
            contiguous = windows == list(range(windows[0], windows[-1] + 1))
            span = f"{windows[0]}–{windows[-1]}" if contiguous else "、".join(map(str, windows))
            where = f"（{span}号窗口）"
        return f"{KIND_TEXT.get(self.kind, self.kind)} {self.name}{where}"


def screen_content(view: dict[str, Any]) -> ScreenContent:
    """What a window screen shows for a window view: the current number when serving,
    "欢迎光临" when idle, "暂停服务" when paused and also when closed (nobody signed in:
    a dark screen would look broken to visitors)."""
    number, state = view["number"], view["state"]
    if state == "serving" and view.get("ticket"):
        return ScreenContent.calling(number, view["ticket"])
    if state == "idle":
        return ScreenContent.idle(number)
    return ScreenContent.paused(number)


class DeviceService:
    """Builds every configured device of ``rt`` and drives it from the event bus.

    One bus subscriber only enqueues (printer jobs, screen frames, pad prompts); it never
    touches the database or a port. Pad input and device state changes touch the database
    on small task threads (one per pad bus, one for device events), never on a reader or
    device thread. Evaluation pads cannot give reasons: a 1–2 rating from a hardware pad is
    stored with the reason ``other`` (the tablet pad asks the visitor for reasons).
    """

    def __init__(self, rt: Any, *, build: Callable[..., DeviceWorker] = build_device) -> None:
        self.rt = rt
        self._build = build
        self.devices: dict[tuple[str, str], Device] = {}
        self._printers: dict[tuple[str, str], Device] = {}
        self._screens: dict[tuple[str, int], list[Device]] = {}
        self._evalpads: dict[tuple[str, int], tuple[Device, int]] = {}
        self._last_finished: dict[tuple[str, int], int] = {}  # (hall, window) → ticket id
        self._shown: dict[tuple[str, int], ScreenContent] = {}
        self._painted: dict[str, int] = {}  # hall → the event seq its screens were painted at
        self._notices: dict[str, list[str]] = {}
        self._lock = threading.RLock()
        self.tasks: dict[tuple[str, str], TaskQueue] = {}  # (hall, pad bus name) → its thread
        self._dispatcher: TaskQueue | None = None
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "DeviceService":
        if self._started:
            return self
        self._started = True
        self._dispatcher = TaskQueue("devices:events")
        for code, hall in self.rt.halls.items():
            for settings in hall.settings.devices:
                self._add(code, settings)
        with self.rt.db.read() as session:
            for code, hall in self.rt.halls.items():
                self._notices[code] = notices.get_notices(session, hall)
        self.rt.bus.subscribe(self._on_event)
        for device in self.devices.values():
            device.worker.start()
        for code in self.rt.halls:
            self._paint(code)
        log.info("devices started: %s", ", ".join(n for _, n in self.devices) or "none")
        return self

    def stop(self, timeout: float = 2.0) -> None:
        if not self._started:
            return
        self._started = False
        self.rt.bus.unsubscribe(self._on_event)
        for device in self.devices.values():
            device.worker.stop(timeout)
        for tasks in self.tasks.values():
            tasks.stop(timeout)
        if self._dispatcher is not None:
            self._dispatcher.stop(timeout)

    def _add(self, code: str, settings: Any) -> None:
        key = (code, settings.name)
        callbacks: dict[str, Callable[..., Any]] = {
            "on_state": lambda name, state: self._state_changed(key, state)}
        if settings.kind in ("evalpad", "callpad"):
            self.tasks[key] = TaskQueue(f"devices:{settings.name}")
            handler = self._rate if settings.kind == "evalpad" else self._press
            callbacks["on_rating" if settings.kind == "evalpad" else "on_key"] = (
                lambda item: self.tasks[key].submit(handler, self.devices[key], item))
        addresses = list(settings.addresses or settings.windows)
        device = Device(code, settings, self._build(settings, **callbacks),
                        dict(zip(addresses, settings.windows)))
        self.devices[key] = device
        if settings.kind == "printer" and settings.kiosk:
            self._printers[(code, settings.kiosk)] = device
        for address, window in device.window_of.items():
            if settings.kind == "led_bus":
                self._screens.setdefault((code, window), []).append(device)
            elif settings.kind == "evalpad":
                self._evalpads[(code, window)] = (device, address)

    # -- queries for the API, the kiosk and snapshots ---------------------------------------
    def printer_state(self, hall_code: str, kiosk: str | None) -> str | None:
        """The state ("online", "paper_out"…) of the kiosk's printer; None when it has none."""
        device = self._printers.get((hall_code, kiosk)) if kiosk else None
        return device.worker.state.value if device else None

    def printer_status(self, hall_code: str, kiosk: str | None) -> dict[str, Any] | None:
        """``{"name", "kind", "driver", "state", "ok", "kiosk"}`` of the kiosk's printer or None."""
        device = self._printers.get((hall_code, kiosk)) if kiosk else None
        return device.view() if device else None

    def device_views(self, hall_code: str) -> list[dict[str, Any]]:
        """Every device of the hall as ``device.changed`` carries it (for a /live snapshot)."""
        return [d.view() for (code, _), d in self.devices.items() if code == hall_code]

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Until the bus, the task threads and the working devices have nothing left (tests)."""
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.0, deadline - time.monotonic())
        queues = [*self.tasks.values(), *([self._dispatcher] if self._dispatcher else [])]
        for _ in range(3):  # a pad key writes → events → screens: settle the chain
            if not self.rt.bus.wait_idle(left()) or not all(q.wait_idle(left()) for q in queues):
                return False
        for device in self.devices.values():
            if device.worker.state not in OK_STATES:
                continue  # a failed device keeps its queue until it recovers
            wait = getattr(device.worker, "wait_idle", None) or device.worker.wait_sent
            if not wait(left()):
                return False
        return True

    # -- the bus subscriber: enqueue only --------------------------------------------------
    def _on_event(self, event: events.Event) -> None:
        name, code = event.name, event.hall
        if name == events.TICKET_ISSUED:
            self._print(event)
        elif name in (events.TICKET_CALLED, events.TICKET_RECALLED):
            number, ticket = event.window_number, event.payload.get("ticket") or {}
            with self._lock:
                if event.seq <= self._painted.get(code, 0) or number is None:
                    return
                content = ScreenContent.calling(number, ticket.get("number", ""))
                self._shown[(code, number)] = content
                for device in self._screens.get((code, number), ()):
                    device.worker.call(content)
        elif name == events.WINDOW_CHANGED:
            with self._lock:
                if event.seq > self._painted.get(code, 0):
                    self._show(code, event.payload["window"])
        elif name == events.TICKET_FINISHED:
            self._finished(event)
        elif name == notices.NOTICES_CHANGED:
            self._notices[code] = list(event.payload.get("notices") or [])

    def _print(self, event: events.Event) -> None:
        kiosk = event.payload.get("kiosk")
        device = self._printers.get((event.hall, kiosk)) if kiosk else None
        if device is None:
            return
        ticket, queue_view = event.payload["ticket"], event.payload.get("queue") or {}
        hall_notices = self._notices.get(event.hall) or []
        device.worker.submit(TicketSlip(
            hall=self.rt.halls[event.hall].settings.name,
            queue=queue_view.get("name") or ticket["queue"],
            number=ticket["number"], ahead=ticket.get("ahead", 0),
            wait_min=math.ceil((ticket.get("expected_wait_s") or 0) / 60),
            issued_at=dt.datetime.fromisoformat(ticket["issued_at"]), url=ticket["track_url"],
            notice=hall_notices[0] if hall_notices else ""))

    def _show(self, code: str, view: dict[str, Any]) -> None:
        content = screen_content(view)
        key = (code, view["number"])
        if self._shown.get(key) == content:
            return  # e.g. the window.changed that follows a ticket.called
        self._shown[key] = content
        for device in self._screens.get(key, ()):
            device.worker.show(content, "update")

    def _finished(self, event: events.Event) -> None:
        number, ticket_id = event.window_number, event.ticket_id
        if number is None or ticket_id is None:
            return
        self._last_finished[(event.hall, number)] = ticket_id
        pad = self._evalpad(event.hall, number)
        if pad is not None:
            pad[0].worker.prompt(pad[1], "请评价")

    def _evalpad(self, code: str, window: int) -> tuple[Device, int] | None:
        found = self._evalpads.get((code, window))
        if found is None:  # a pad bus without a windows list addresses each pad by its window
            found = next(((d, window) for (c, _), d in self.devices.items()
                          if c == code and d.kind == "evalpad" and not d.window_of), None)
        return found

    def _paint(self, code: str) -> None:
        """Show every screen of the hall as the database has it (screens lost nothing)."""
        hall = self.rt.halls[code]
        if not any(c == code for c, _ in self._screens):
            return
        with self._lock:  # events delivered meanwhile wait; older ones are skipped by seq
            with self.rt.db.read() as session:
                seq = session.scalar(sa.select(Hall.event_seq).where(Hall.id == hall.id)) or 0
                rows = session.scalars(sa.select(Window).where(Window.hall_id == hall.id)).all()
                views = [present.window_view(session, hall, w) for w in rows
                         if w.number in hall.window_ids]
            self._painted[code] = seq
            for view in views:
                self._show(code, view)

    # -- pad input: on the pad bus's task thread -------------------------------------------
    def _window(self, device: Device, address: int) -> int | None:
        if device.window_of:
            return device.window_of.get(address)
        return address if address in self.rt.halls[device.hall].window_ids else None

    def _rate(self, device: Device, rating: PadRating) -> None:
        """A 1–5 key on an evaluation pad rates the window's last finished service."""
        number = self._window(device, rating.address)
        if number is None:
            log.warning("evalpad %s: no window at address %s", device.name, rating.address)
            return
        hall = self.rt.halls[device.hall]
        known = [r.code for r in hall.settings.rating.reasons]
        reasons = ((["other"] if "other" in known else known[-1:])
                   if rating.level in evaluation.BAD_LEVELS else [])
        try:
            with self.rt.db.write() as session:
                ticket_id = self._last_finished.get((device.hall, number)) or session.scalar(
                    sa.select(Service.ticket_id).where(
                        Service.window_id == hall.window_id(number),
                        Service.outcome.in_(FINISHED_OUTCOMES))
                    .order_by(Service.ended_at.desc(), Service.id.desc()).limit(1))
                if ticket_id is None:
                    log.info("evalpad %s: window %s has served nobody to rate", device.name, number)
                    return
                evaluation.rate_service(session, hall, ticket_id, rating.level,
                                        actor=f"evalpad:{device.name}", now=self.rt.clock.now(),
                                        reasons=reasons, channel="pad", window_number=number)
        except DomainError as err:
            log.info("evalpad %s: window %s: rating %s not stored: %s", device.name, number,
                     rating.level, err.message)
            return
        device.worker.prompt(rating.address, "感谢您的评价")

    def _press(self, device: Device, key: PadKey) -> None:
        """A call pad key runs the window action and shows the outcome on the pad."""
        number = self._window(device, key.address)
        if number is None:
            device.worker.show_text(key.address, "未配置窗口")
            return
        try:
            with self.rt.db.write() as session:
                text = self._act(session, device, number, key)
        except DomainError as err:
            text = PAD_ERRORS.get(err.code, err.message)
        except Exception:  # noqa: BLE001 - the database away: say so on the pad, keep going
            log.exception("callpad %s: %s at window %s failed", device.name, key.key, number)
            text = "系统忙，请稍后"
        device.worker.show_text(key.address, text)

    def _act(self, session: Any, device: Device, number: int, key: PadKey) -> str:
        hall, now, actor = self.rt.halls[device.hall], self.rt.clock.now(), f"callpad:{device.name}"
        if key.key == "call":
            ticket = actions.call_next(session, hall, number, actor, now)
            return f"{ticket.number} → {number}号" if ticket else "无等候"
        if key.key == "pause":
            actions.pause(session, hall, number, actor, now, reason="break")
            return "暂停中"
        if key.key == "resume":
            actions.resume(session, hall, number, actor, now)
            return "恢复服务"
        if key.key == "transfer":
            ticket = actions.transfer(session, hall, number, actor, now, to_window=key.arg)
            return f"{ticket.number} 转{key.arg}号"
        verbs = {"recall": (actions.recall, "重呼"), "no_show": (actions.no_show, "过号"),
                 "finish": (actions.finish, "办结")}
        verb, done = verbs[key.key]
        return f"{verb(session, hall, number, actor, now).number} {done}"

    # -- device states: to the dispatcher thread, then a transaction ------------------------
    def _state_changed(self, key: tuple[str, str], state: DeviceState) -> None:
        device = self.devices.get(key)
        if device is not None and self._dispatcher is not None:
            self._dispatcher.submit(self._publish_state, device, state)

    def _publish_state(self, device: Device, state: DeviceState) -> None:
        hall = self.rt.halls[device.hall]
        now = self.rt.clock.now()
        with self.rt.db.write() as session:
            events.record(session, hall.id, hall.code, events.DEVICE_CHANGED, now,
                          device=device.view(state))
            if state != DeviceState.ONLINE:
                events.record(session, hall.id, hall.code, events.ALERT, now, alert={
                    "kind": "device", "device": device.name, "state": state.value,
                    "level": "warning" if state in OK_STATES else "error",
                    "message": f"{device.describe()}{STATE_TEXT.get(state, state.value)}"})


def start_devices(rt: Any) -> DeviceService:
    """Build, start and wire every device of ``rt``'s halls; ``.stop()`` before ``rt.close()``."""
    return DeviceService(rt).start()
