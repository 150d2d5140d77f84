"""The quick-start demo: ready-made tokens, a hall with some activity, and the URLs to open."""
from __future__ import annotations

import datetime as dt
import json
import logging
import pathlib
import random

import sqlalchemy as sa

from hall import calendar, tickets, tokens, windows
from hall.clock import Clock
from hall.errors import DomainError
from hall.models import ApiToken, Ticket
from hall.runtime import Runtime

log = logging.getLogger(__name__)
DEMO_PASSWORD = "demo1234"


def demo_clock(settings, now: dt.datetime | None = None) -> Clock:
    """The real clock when the first hall is open now; else a clock that starts at its next opening,
    so that the demo can be tried on a Sunday evening too."""
    hall = settings.halls[0]
    now = now or dt.datetime.now(dt.timezone.utc)
    if calendar.session_at(hall, now) is not None:
        return Clock()
    opening = calendar.next_opening(hall, now)
    return Clock(opening + dt.timedelta(minutes=30)) if opening else Clock()


def _tokens(rt: Runtime, path: pathlib.Path) -> dict[str, str]:
    """Demo tokens of the first hall, created once and kept in var/ (a demo, not production)."""
    hall = next(iter(rt.halls.values()))
    saved: dict[str, str] = {}
    if path.exists():
        saved = json.loads(path.read_text())
        with rt.db.read() as session:
            live = {t.token_hash for t in session.scalars(
                sa.select(ApiToken).where(ApiToken.revoked_at.is_(None)))}
        if all(tokens._digest(v) in live for v in saved.values()) and saved.get("hall") is None:
            return saved
    wanted = {"kiosk": ("kiosk", None), "screen": ("screen", None), "manager": ("manager", None),
              "clerk1": ("clerk", 1), "pad1": ("pad", 1)}
    with rt.db.write() as session:
        for key, (role, window) in wanted.items():
            saved[key] = tokens.create_token(session, hall, role, rt.clock.now(), window=window,
                                             label=f"demo {key}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1))
    path.chmod(0o600)
    return saved


def _liven(rt: Runtime) -> None:
    """On a day without tickets, issue a morning's worth and open a few windows."""
    hall = next(iter(rt.halls.values()))
    now = rt.clock.now()
    day = calendar.business_day(now, hall.timezone)
    with rt.db.read() as session:
        if session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
                Ticket.hall_id == hall.id, Ticket.business_day == day)):
            return
    rng = random.Random(day.toordinal())
    prefixes = [q.prefix for q in hall.settings.queues]
    weights = [8, 4, 2, 4, 3, 3, 2, 2, 1, 1][:len(prefixes)] + [1] * max(0, len(prefixes) - 10)
    try:
        for _ in range(40):
            prefix = rng.choices(prefixes, weights)[0]
            priority = rng.choices(["none", "elderly", "appointment"], [8, 1, 1])[0]
            with rt.db.write() as session:
                tickets.issue_ticket(session, hall, tickets.IssueRequest(queue=prefix, priority=priority),
                                     "demo", now, rt.privacy_key)
        logins = {number: s.login for s in hall.settings.staff for number in s.windows}
        for w in hall.settings.windows[:16]:
            with rt.db.write() as session:
                windows.sign_in(session, hall, w.number, "demo", now, logins.get(w.number))
            if w.number % 5 == 0:
                with rt.db.write() as session:
                    windows.pause(session, hall, w.number, "demo", now, "会议")
            elif w.number <= 12:
                with rt.db.write() as session:
                    windows.call_next(session, hall, w.number, "demo", now)
    except DomainError as err:  # e.g. a hall closed at the demo clock's instant
        log.warning("demo activity stopped: %s", err.message)


def _passwords(rt: Runtime) -> None:
    try:
        from hall import staff
    except ImportError:  # staff logins come with the pages
        return
    for hall in rt.halls.values():
        with rt.db.write() as session:
            staff.ensure_demo_passwords(session, hall)


def banner(rt: Runtime, base: str) -> str:
    """Prepare the demo and say what to open."""
    _passwords(rt)
    _liven(rt)
    saved = _tokens(rt, pathlib.Path("var/demo-tokens.json"))
    hall = next(iter(rt.halls.values()))
    code = hall.code
    first_clerk = next((s for s in hall.settings.staff if 1 in s.windows), None)
    kiosk = next((d.kiosk for d in hall.settings.devices if d.kind == "printer" and d.kiosk), None)
    kiosk_arg = f"&kiosk={kiosk}" if kiosk else ""
    clock_note = ""
    if rt.clock.now() - dt.datetime.now(dt.timezone.utc) > dt.timedelta(minutes=1):
        clock_note = (f"\n  (the hall is closed right now, so the demo clock starts at "
                      f"{rt.clock.now().astimezone(hall.settings.zone):%Y-%m-%d %H:%M})")
    lines = [
        f"{hall.settings.name} ({code}) is being served at {base}{clock_note}",
        "",
        "Open in a browser:",
        f"  kiosk (取号机)        {base}/kiosk/{code}?token={saved['kiosk']}{kiosk_arg}",
        f"  hall screen (综合屏)   {base}/screen/{code}?token={saved['screen']}",
        f"  window screen (窗口屏) {base}/window/{code}/1?token={saved['screen']}",
        f"  evaluation pad (评价器) {base}/pad/{code}/1?token={saved['pad1']}",
        f"  appointments (预约)    {base}/book/{code}",
        f"  clerk workstation     {base}/counter/{code}/1   "
        f"(login {first_clerk.login if first_clerk else 'clerk01'} / {DEMO_PASSWORD})",
        f"  manager's dashboard   {base}/manage/{code}   (login manager / {DEMO_PASSWORD})",
        "",
        "API (OpenAPI at " + f"{base}/api/openapi.json):",
        f"  curl -H 'Authorization: Bearer {saved['kiosk']}' -H 'Content-Type: application/json' \\",
        f"       -d '{{\"queue\": \"A\"}}' {base}/api/v1/halls/{code}/tickets",
        f"  curl -X POST -H 'Authorization: Bearer {saved['clerk1']}' {base}/api/v1/halls/{code}/windows/1/call",
        f"  manager token: {saved['manager']}",
        "",
        "Stop with Ctrl+C. Demo tokens are kept in var/demo-tokens.json.",
    ]
    return "\n".join(lines)
