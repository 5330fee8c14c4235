"""`portier sim --door-device` leaves the real household alone: with the household's own
switchboard up on the address the door dials, it refuses with a one-line reason (it used to
start its own switchboard on the household's port and register phones in the household's
database); the database is never written. The run against a virtual board, with the door's
store put back afterwards: test_board_e2e."""

import hashlib
import json
import os
import socket
import subprocess
import sys

from portier_host import provision

PORTIER = os.path.join(os.path.dirname(sys.executable), "portier")


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_sim_refuses_the_households_busy_port_and_writes_nothing(tmp_path):
    with socket.socket() as listener:  # the household's switchboard, running
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        provision.provision("vboard", "net", "127.0.0.1:%d" % port, "home", "", "2468",
                            out=str(tmp_path / "door"), household_dir=str(tmp_path / "hh"),
                            prekeys=2)
        db = tmp_path / "hh" / "switchboard.db"
        before = _sha(str(db))
        proc = subprocess.run([PORTIER, "sim", "--json", "--door-device", "door",
                               "--door-port", "/dev/null", "--door-pins", str(tmp_path / "pins"),
                               "--household-dir", "hh", "--out", "simdir"], cwd=str(tmp_path),
                              capture_output=True, text=True, timeout=120)
    result = json.loads(proc.stdout)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert any("cannot listen on 127.0.0.1:%d" % port in p and "stop the household's "
               "switchboard" in p for p in result["problems"]), result["problems"]
    assert _sha(str(db)) == before
    import sqlite3

    conn = sqlite3.connect(str(db))
    try:
        assert [r[0] for r in conn.execute("SELECT jid FROM devices")] == ["door:1@home"]
    finally:
        conn.close()


def test_sim_names_a_missing_pins_folder_without_a_traceback(tmp_path):
    with socket.socket() as probe:  # a free port: the simulator's switchboard starts there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provision.provision("vboard", "net", "127.0.0.1:%d" % port, "home", "", "2468",
                        out=str(tmp_path / "door"), household_dir=str(tmp_path / "hh"),
                        prekeys=2)
    proc = subprocess.run([PORTIER, "sim", "--json", "--door-device", "door",
                           "--door-port", "/dev/null", "--door-pins", str(tmp_path / "no-pins"),
                           "--household-dir", "hh", "--out", "simdir"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert any("door pins %s" % (tmp_path / "no-pins") in p for p in result["problems"]), \
        result["problems"]
