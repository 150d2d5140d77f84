"""The audit log: manager and admin actions, tokens, passwords, notices and config changes, viewable and exportable."""
from __future__ import annotations

import csv
import io
import shutil

from support import MONDAY_9, FrozenClock, hall_dict, settings_for
from hall import audit, staff, tokens
from hall.app import create_app
from factories import make_ticket


def _entries(client, headers, query=""):
    r = client.get(f"/api/v1/halls/T1/audit{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["entries"]


def test_manager_actions_are_audited_clerk_actions_are_not(app, client, token):
    rt = app.extensions["hall"]
    manager, clerk = token("manager"), token("clerk", window=1)
    make_ticket(rt, rt.halls["T1"], "A")
    make_ticket(rt, rt.halls["T1"], "A")
    assert client.post("/api/v1/halls/T1/windows/1/call", headers=clerk).status_code == 200
    assert client.post("/api/v1/halls/T1/windows/1/call", headers=manager).status_code == 200
    assert client.put("/api/v1/halls/T1/notices", json={"notices": ["今天周末办"]},
                      headers=manager).status_code == 200
    rows = _entries(client, manager)
    actions = [e["action"] for e in rows]
    assert actions.count("window.call_next") == 1  # the manager's, not the clerk's
    call = next(e for e in rows if e["action"] == "window.call_next")
    assert call["actor"].startswith("token:") and call["target"] == "window:1"
    assert call["before"]["ticket"] == "A001" and call["after"]["ticket"] == "A002"
    notices = next(e for e in rows if e["action"] == "notices.set")
    assert notices["after"] == {"notices": ["今天周末办"]}
    assert "config.changed" in actions and actions.count("token.created") == 2
    assert call["at"].endswith("+08:00")


def test_tokens_and_passwords_are_audited_without_secrets(app, client, token):
    from hall.models import ApiToken
    rt = app.extensions["hall"]
    manager = token("manager")
    with rt.db.write() as session:
        value = tokens.create_token(session, rt.halls["T1"], "kiosk", rt.clock.now(), label="K1")
    with rt.db.write() as session:
        tokens.revoke(session, session.query(ApiToken).filter_by(label="K1").one().id, rt.clock.now())
        staff.set_password(session, rt.halls["T1"], "clerk01", "a-long-password", now=rt.clock.now())
    rows = _entries(client, manager)
    text = repr(rows)
    assert value not in text and "a-long-password" not in text
    revoked = next(e for e in rows if e["action"] == "token.revoked")
    assert revoked["before"] == {"revoked_at": None} and revoked["after"]["revoked_at"]
    assert any(e["action"] == "staff.password_set" and e["target"] == "staff:clerk01" for e in rows)


def test_only_managers_and_admins_read_it_and_the_span_is_checked(client, token):
    assert client.get("/api/v1/halls/T1/audit", headers=token("kiosk")).status_code == 403
    assert client.get("/api/v1/halls/T1/audit.csv", headers=token("clerk", window=1)).status_code == 403
    assert client.get("/api/v1/halls/T1/audit").status_code == 401
    admin = token("admin", hall=None)
    assert _entries(client, admin, "?from=2026-11-30&to=2026-11-30")
    assert _entries(client, admin, "?from=2026-12-01&to=2026-12-02") == []
    r = client.get("/api/v1/halls/T1/audit?from=yesterday", headers=admin)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "from"


def test_csv_export(client, token):
    manager = token("manager")
    client.put("/api/v1/halls/T1/notices", json={"notices": ["=1+1 公告"]}, headers=manager)
    r = client.get("/api/v1/halls/T1/audit.csv", headers=manager)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {"notices.set", "config.changed"} <= {row["action"] for row in rows}
    assert all(not row["after"].startswith("=") for row in rows)


def test_a_config_change_between_starts_is_audited_with_a_diff(tmp_path, migrated_template):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    first = create_app(settings_for(tmp_path), clock=FrozenClock(MONDAY_9))
    first.extensions["hall"].close()
    again = create_app(settings_for(tmp_path), clock=FrozenClock(MONDAY_9))  # unchanged: no row
    again.extensions["hall"].close()
    changed = hall_dict(policy={"target_wait_s": 600})
    changed["queues"][0]["name"] = "综合受理（新）"
    app = create_app(settings_for(tmp_path, [changed]), clock=FrozenClock(MONDAY_9))
    rt = app.extensions["hall"]
    with rt.db.read() as session:
        rows = session.query(audit.AuditEntry).filter_by(action=audit.CONFIG_CHANGED).all()
    rt.close()
    assert len(rows) == 2
    last = rows[-1]
    assert last.before["hash"] == rows[0].after["hash"] != last.after["hash"]
    assert last.before["values"] == {"policy.target_wait_s": 900, "queues[A].name": "综合受理"}
    assert last.after["values"] == {"policy.target_wait_s": 600, "queues[A].name": "综合受理（新）"}
    assert "policy.target_wait_s: 900 → 600" in last.summary
