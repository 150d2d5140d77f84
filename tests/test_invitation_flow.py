"""短信邀评 end to end: a kiosk ticket with a phone, a service, the job sends one invitation to the
outbox with the phone masked and the rating link; nothing when invitations are off."""
from __future__ import annotations

import json
import shutil

from factories import act, make_ticket
from hall import ratings_jobs
from hall import runtime as runtime_mod
from support import hall_dict, settings_for

PHONE = "13812345678"


def _runtime(tmp_path, migrated_template, clock, invite_after_s):
    shutil.copy(migrated_template, tmp_path / "hall.db")
    settings = settings_for(tmp_path, [hall_dict(rating={"invite_after_s": invite_after_s})])
    return runtime_mod.start(settings, clock=clock, base_url="http://hall.test")


def test_an_unrated_visitor_with_a_phone_is_invited_once(tmp_path, migrated_template, frozen_clock):
    rt = _runtime(tmp_path, migrated_template, frozen_clock, 600)
    try:
        hall = rt.halls["T1"]
        ticket = make_ticket(rt, hall, "A", phone=PHONE)
        act(rt, hall, "call_next", 1)
        act(rt, hall, "finish", 1)
        assert ratings_jobs.send_rating_invitations(rt) == 0  # not yet due
        frozen_clock.advance(601)
        assert ratings_jobs.send_rating_invitations(rt) == 1
        assert ratings_jobs.send_rating_invitations(rt) == 0  # once only
        outbox = (tmp_path / "sms-outbox.jsonl").read_text(encoding="utf-8")
        assert PHONE not in outbox
        message = json.loads(outbox.splitlines()[0])
        assert f"/t/{ticket.id}?s={ticket.secret}" in json.dumps(message, ensure_ascii=False)
    finally:
        rt.close()


def test_no_invitation_is_kept_when_invitations_are_off(tmp_path, migrated_template, frozen_clock):
    rt = _runtime(tmp_path, migrated_template, frozen_clock, 0)
    try:
        hall = rt.halls["T1"]
        make_ticket(rt, hall, "A", phone=PHONE)
        act(rt, hall, "call_next", 1)
        act(rt, hall, "finish", 1)
        frozen_clock.advance(3600)
        assert ratings_jobs.send_rating_invitations(rt) == 0
        assert not (tmp_path / "sms-outbox.jsonl").exists()
        with rt.db.read() as session:
            from hall.invitations import Invitation
            assert session.query(Invitation).count() == 0
    finally:
        rt.close()
