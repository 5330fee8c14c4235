"""The phone's side of a missed-ring notice (docs/protocol.md 8.3): logged once per call-id as
an incoming missed call at its own clock minus `ago`, and only from the door it pairs with or
calls: a notice the switchboard makes up in another device's name is acked and ignored."""

import json
import time

from portier_host import paths

paths.use_firmware()

from portier import app, config  # noqa: E402
from portier.hal.board import Board  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402

DOOR = "door:1@home"


def _phone(tmp_path):
    cfg = config.check({"jid": "anna:1@home", "profile": "phone", "control": "none",
                        "switchboard": {"host": "127.0.0.1", "port": 9, "insecure": True},
                        "e2e_store": str(tmp_path / "e2e"), "call_log": str(tmp_path / "calls.json"),
                        "pair_with": [DOOR], "call": DOOR})
    lines = []
    a = app.App(cfg, Board(), log=lambda lvl, src, msg, f: lines.append(dict(f, src=src, msg=msg)))
    return a, lines


def _notice(frm, call_id="C1", ago=120):
    return st.Stanza("missed", call_id=call_id, call_creator=frm, reason="no_link", ago_s=ago,
                     frm=frm, stanza_id="S" + call_id)


def test_a_notice_from_the_door_is_logged_once_at_the_time_of_the_press(tmp_path):
    a, lines = _phone(tmp_path)
    a.link.server_t, a.link.ready_ticks = int(time.time()), time.ticks_ms()  # as at <ready>
    now = time.ticks_ms()
    a.part._on_missed(_notice(DOOR), now)
    a.part._on_missed(_notice(DOOR), now)  # the door's resend, its ack lost
    told = [d for d in lines if d["msg"] == "missed ring"]
    assert len(told) == 1 and abs(told[0]["start"] - (int(time.time()) - 120)) <= 2
    calls = json.loads((tmp_path / "calls.json").read_text())["calls"]
    assert [(c["dir"], c["peer"], c["outcome"], c["reason"]) for c in calls] == [
        ("in", DOOR, "missed", "no_link")]
    assert abs(calls[0]["start"] - told[0]["start"]) == 0


def test_a_notice_in_another_devices_name_is_ignored(tmp_path):
    a, lines = _phone(tmp_path)
    a.part._on_missed(_notice("ben:1@home", "C2"), time.ticks_ms())
    assert [d["msg"] for d in lines if "missed" in d["msg"]] == [
        "missed ring from a stranger ignored"]
    assert not (tmp_path / "calls.json").exists()
