"""Factory helpers: issue tickets and drive windows in one call each."""
from __future__ import annotations

from hall import tickets, windows
from hall.tickets import IssueRequest


def make_ticket(rt, hall, queue: str = "A", priority: str = "none", **kwargs):
    with rt.db.write() as session:
        issued = tickets.issue_ticket(session, hall, IssueRequest(queue=queue, priority=priority, **kwargs),
                                      "test", rt.clock.now(), rt.privacy_key)
    return issued.ticket


def act(rt, hall, verb, number: int, *args, **kwargs):
    with rt.db.write() as session:
        return getattr(windows, verb)(session, hall, number, "test", rt.clock.now(), *args, **kwargs)


def open_window(rt, hall, number: int, login: str | None = None):
    return act(rt, hall, "sign_in", number, login)
