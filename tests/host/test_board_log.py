"""`portier log --port P`: the call log and the door log fetched from a (virtual) board over the
real mpremote, one line per entry with its local time and every key; clear errors for a board
without config or logs, a corrupt log, an absent or busy port."""

import datetime
import json
import os

import pytest
import serial

from portier_host import boardlog, cli
from portier_host.vboard import VirtualBoard

_CALLS = {"v": 1, "calls": [
    {"dir": "out", "peer": "phone1:1@home", "outcome": "answered", "reason": None,
     "start": 1795524960, "duration": 42},
    {"dir": "out", "peer": "household@home", "outcome": "unanswered", "reason": "timeout",
     "start": 1795528560, "duration": 0},
]}
_DOOR = {"v": 1, "entries": [
    {"time": 1795524990, "event": "unlock", "device": "phone1:1@home", "call": "953B91A2"},
    {"time": 1795525990, "event": "unlock refused", "reason": "pin", "tries": 3},
]}


def _local(t):
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def vboard(tmp_path):
    with VirtualBoard(str(tmp_path / "flash"), run_main=False) as vb:
        yield vb
    assert vb.error is None


def _put(vb, name, doc):
    with open(os.path.join(vb.flash_dir, name), "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))


def _config(vb):
    _put(vb, "portier.json", {"jid": "door:1@home", "call_log": "calls.json",
                              "door_log": "logs/door.json"})


def test_both_logs_every_key_local_time_then_the_board_is_reset(vboard, capsys):
    _config(vboard)
    os.mkdir(os.path.join(vboard.flash_dir, "logs"))
    _put(vboard, "calls.json", _CALLS)
    _put(vboard, "logs/door.json", _DOOR)
    assert cli.main(["log", "--port", vboard.port]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "call log calls.json: 2 entries"
    assert out[1] == ("  %s  call  dir=out peer=phone1:1@home outcome=answered reason=null "
                      "duration=42" % _local(1795524960))
    assert out[2].startswith("  %s  call  " % _local(1795528560)) and "reason=timeout" in out[2]
    assert out[3] == "door log logs/door.json: 2 entries"
    assert out[4] == "  %s  door  event=unlock call=953B91A2 device=phone1:1@home" % _local(1795524990)
    assert out[5] == ('  %s  door  event="unlock refused" reason=pin tries=3' % _local(1795525990))
    assert len(out) == 6
    assert vboard.wait_boots(2) and vboard.hard_resets == 1  # the interrupted door runs again


def test_no_reset_and_a_missing_door_log(vboard, capsys):
    _config(vboard)
    _put(vboard, "calls.json", {"v": 1, "calls": [dict(_CALLS["calls"][0], start=0)]})
    assert cli.main(["log", "--port", vboard.port, "--no-reset"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("  (no clock)") and "outcome=answered" in out[1]
    assert out[2] == "door log logs/door.json: none yet"
    assert vboard.boots == 1


def test_board_without_config_or_logs(vboard, capsys):
    assert cli.main(["log", "--port", vboard.port, "--no-reset"]) == 1
    assert "no readable portier.json" in capsys.readouterr().err
    _config(vboard)
    assert cli.main(["log", "--port", vboard.port, "--no-reset"]) == 1
    err = capsys.readouterr().err
    assert "no log yet" in err and "calls.json" in err


def test_corrupt_log_is_named(vboard, capsys):
    _config(vboard)
    _put(vboard, "calls.json", '{"v": 1, "calls": [{"dir": "out"')
    assert cli.main(["log", "--port", vboard.port, "--no-reset"]) == 1
    assert "calls.json on the board is not JSON" in capsys.readouterr().err


def test_absent_and_busy_ports(tmp_path, vboard, capsys):
    assert cli.main(["log", "--port", str(tmp_path / "ttyUSB7")]) == 1
    assert "does not exist" in capsys.readouterr().err
    holder = serial.Serial(vboard.port, 115200, exclusive=True)
    try:
        assert cli.main(["log", "--port", vboard.port]) == 1
        assert "busy" in capsys.readouterr().err
    finally:
        holder.close()


def test_parse_rejects_a_cut_answer():
    with pytest.raises(boardlog.LogError, match="cut short"):
        boardlog.parse_fetch("LOG call_log calls.json\n")
    got = boardlog.parse_fetch("LOG call_log None\nLOG door_log d.json\nABSENT\n")
    assert got == {"call_log": (None, None), "door_log": ("d.json", None)}


def test_json_and_the_warning_that_the_door_stops(vboard, capsys):
    _config(vboard)
    _put(vboard, "calls.json", _CALLS)
    assert cli.main(["log", "--port", vboard.port, "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["call_log"] == {"path": "calls.json", "entries": _CALLS["calls"]}
    assert doc["door_log"] == {"path": "logs/door.json", "entries": None}
    assert "stops the door's program (a call in progress ends)" in captured.err
    assert "reset afterwards" in captured.err


def test_on_a_terminal_it_asks_before_stopping_the_door(vboard, tmp_path):
    """`portier log` used to reset the door (dropping a call) without a word."""
    import sys

    import pexpect

    _config(vboard)
    _put(vboard, "calls.json", _CALLS)
    portier = os.path.join(os.path.dirname(sys.executable), "portier")
    child = pexpect.spawn(portier, ["log", "--port", vboard.port], encoding="utf-8", timeout=60,
                          env=dict(os.environ, HOME=str(tmp_path)))
    child.expect(r"a call in progress ends")
    child.expect(r"Read the logs now\? \[y/N\] ")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and "not read; the door runs on" in child.before
    assert vboard.hard_resets == 0  # never interrupted, never reset
    child = pexpect.spawn(portier, ["log", "--port", vboard.port], encoding="utf-8", timeout=60,
                          env=dict(os.environ, HOME=str(tmp_path)))
    child.expect(r"\[y/N\] ")
    child.sendline("y")
    child.expect("call log calls.json: 2 entries")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert vboard.wait_boots(2) and vboard.hard_resets == 1
