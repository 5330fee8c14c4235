"""From an empty virtual board to an answered call, with no manual step: `portier provision`
(the real CLI, in a subprocess), `portier deploy --device` (the real mpremote over the pty),
reset, the board's main.py runs the door app with the vboard HAL on real MicroPython, the
simulator's switchboard and phone (same household, same database) take the call the door's
button places, `portier log` reads the answered call back from the board's flash, and a
second deploy copies nothing."""

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import time

from portier_host import sim
from portier_host.vboard import VirtualBoard

PORTIER = os.path.join(os.path.dirname(sys.executable), "portier")
WIFI_PASSWORD = "s3cret-wlan-passphrase"
PIN = "73915"
PASSPHRASE = "household pairing words"  # the pairing authority (protocol 8.5)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _portier(cwd, *args, env=None, timeout=240):
    proc = subprocess.run([PORTIER] + list(args), cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=timeout)
    return proc


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _tree(folder):
    return dict((n, _sha(str(folder / n))) for n in sorted(os.listdir(str(folder))))


def _door_env():
    env = dict(os.environ, PORTIER_WIFI_PASSWORD=WIFI_PASSWORD, PORTIER_PIN=PIN,
               PORTIER_HOUSEHOLD_PASSPHRASE=PASSPHRASE)
    env.pop("PORTIER_CONFIG", None)
    return env


def _provision_and_deploy(tmp_path, vb, env):
    """A vboard door bundle (household "flat" in hh/, switchboard on a free loopback port)
    provisioned and deployed to vb with the real CLI."""
    prov = _portier(tmp_path, "provision", "--board", "vboard", "--wifi", "testnet",
                    "--switchboard", "127.0.0.1:%d" % _free_port(), "--household", "flat",
                    "--out", "door-bundle", "--household-dir", "hh", env=env)
    assert prov.returncode == 0, prov.stdout + prov.stderr
    dep = _portier(tmp_path, "deploy", "--port", vb.port, "--device", "door-bundle")
    assert dep.returncode == 0, dep.stdout + dep.stderr


def test_empty_vboard_provision_deploy_answered_call_log_and_idle_redeploy(tmp_path):
    flash = tmp_path / "flash"
    sb_port = _free_port()
    env = dict(os.environ, PORTIER_WIFI_PASSWORD=WIFI_PASSWORD, PORTIER_PIN=PIN,
               PORTIER_HOUSEHOLD_PASSPHRASE=PASSPHRASE)
    env.pop("PORTIER_CONFIG", None)
    with VirtualBoard(str(flash), heapsize="512k") as vb:
        assert os.listdir(str(flash)) == []  # an empty board

        prov = _portier(tmp_path, "provision", "--board", "vboard", "--wifi", "testnet",
                        "--switchboard", "127.0.0.1:%d" % sb_port, "--household", "flat",
                        "--out", "door-bundle", "--household-dir", "hh", env=env)
        assert prov.returncode == 0, prov.stdout + prov.stderr
        for secret in (WIFI_PASSWORD, PIN):
            assert secret not in prov.stdout + prov.stderr
        assert "portier deploy --port PORT --device door-bundle" in prov.stdout
        bundle = tmp_path / "door-bundle"
        jid = json.loads((bundle / "portier.json").read_text())["jid"]
        assert jid == "door:1@flat"

        dep = _portier(tmp_path, "deploy", "--port", vb.port, "--device", "door-bundle")
        assert dep.returncode == 0, dep.stdout + dep.stderr
        assert vb.wait_boots(2)  # deploy's reset
        for rel in ("portier.json", "secrets.json", "ca.der", "cert.der", "key.der",
                    "keys/identity", "main.py"):
            src = bundle / rel if rel != "main.py" else None
            assert (flash / rel).exists(), rel
            if src is not None:
                assert _sha(str(flash / rel)) == _sha(str(src)), rel
        assert not (flash / "cert.pem").exists() and not (flash / "jid").exists()  # host copies

        # `portier sim` against the running board: it presses the button and the reset button
        # through the board's pins folder, and reads the door's log lines from its port. It
        # leaves the household alone: its database is only read (the simulator's switchboard
        # serves a copy) and the door's store and pairings are as before once it is done.
        db_before = _sha(str(tmp_path / "hh" / "switchboard.db"))
        store_before = _tree(flash / "keys")
        run = _portier(tmp_path, "sim", "--scenario", "answered", "--ring-timeout", "10",
                       "--talk", "1", "--json", "--door-device", "door-bundle", "--door-port",
                       vb.port, "--door-pins", vb.io_dir, "--household-dir", "hh", "--out", "sim",
                       env=env)
        result = json.loads(run.stdout) if run.stdout.startswith("{") else {}
        assert run.returncode == 0 and result["problems"] == [], run.stdout + run.stderr
        assert result["door_runtime"] == "external"
        assert _sha(str(tmp_path / "hh" / "switchboard.db")) == db_before
        deadline = time.monotonic() + 10  # the sim's last reset (a pin file) is seen shortly
        while vb.hard_resets < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert vb.hard_resets == 3  # deploy's, the sim's at its start, once it put the store back
        assert _tree(flash / "keys") == store_before  # no simulated phone paired, no session
        assert result["logs"]["door"][0]["outcome"] == "answered"
        assert result["media"]["door"]["received"] > 20
        assert result["media"]["phone1"]["received"] > 20
        assert vb.relay() == (0, 0)  # nobody opened the door

        log = _portier(tmp_path, "log", "--port", vb.port, "--yes", timeout=60)
        assert log.returncode == 0, log.stdout + log.stderr
        calls = [line for line in log.stdout.splitlines() if line.startswith("  ") and " call " in line]
        assert len(calls) == 1, log.stdout
        assert "dir=out" in calls[0] and "outcome=answered" in calls[0], log.stdout
        assert "call log calls.json: 1 entry" in log.stdout
        with open(str(flash / "calls.json")) as f:
            on_flash = json.load(f)["calls"]
        assert len(on_flash) == 1 and on_flash[0]["outcome"] == "answered"

        again = _portier(tmp_path, "deploy", "--port", vb.port, "--device", "door-bundle",
                         "--json")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "nothing changed, 0 files copied" in again.stderr, again.stderr  # progress
        result = json.loads(again.stdout)  # and stdout holds the result alone
        assert (result["copied"], result["removed"]) == ([], [])
    assert vb.error is None


def test_vboard_door_opens_by_pin_and_logs_it(tmp_path):
    """The door's PIN and Wi-Fi are changed after provisioning (`portier secrets`, then
    `portier deploy`: only portier.json and secrets.json go); the new PIN then opens the
    virtual board's strike during an answered call (the first one would not: the simulator's
    phone types sim.SIM_PIN); the relay pin pulses once and `portier log` shows the unlock."""
    flash = tmp_path / "flash"
    env = _door_env()
    with VirtualBoard(str(flash), heapsize="512k") as vb:
        _provision_and_deploy(tmp_path, vb, env)
        new_password = "another-wlan-passphrase"
        env2 = dict(env, PORTIER_PIN=sim.SIM_PIN, PORTIER_WIFI_PASSWORD=new_password)
        change = _portier(tmp_path, "secrets", "--device", "door-bundle", "--pin", "--wifi",
                          "other-net", env=env2)
        assert change.returncode == 0, change.stdout + change.stderr
        assert sim.SIM_PIN not in change.stdout + change.stderr
        assert new_password not in change.stdout + change.stderr
        dep = _portier(tmp_path, "deploy", "--port", vb.port, "--device", "door-bundle")
        assert dep.returncode == 0, dep.stdout + dep.stderr
        assert "2 file(s) copied" in dep.stdout, dep.stdout
        assert json.loads((flash / "portier.json").read_text())["wifi"]["ssid"] == "other-net"
        on_board = json.loads((flash / "secrets.json").read_text())
        assert on_board["wifi_password"] == new_password
        assert on_board == json.loads((tmp_path / "door-bundle" / "secrets.json").read_text())
        os.environ["PORTIER_HOUSEHOLD_PASSPHRASE"] = PASSPHRASE  # the simulator's phones
        relay_at_reset = []

        def reset():  # the relay as the door left it: a fresh boot writes (0, 0)
            relay_at_reset.append(vb.relay())
            vb.hard_reset()

        door = sim.ExternalDoor(str(tmp_path / "door-bundle"), str(tmp_path / "hh"),
                                str(tmp_path / "hh" / "switchboard.db"), vb.port,
                                vb.press_button, reset)
        result = asyncio.run(sim.ExternalDoorSimulation(
            "unlock", door, phones=1, ring_timeout_s=10, workdir=str(tmp_path / "sim"),
            talk_s=0.5).run())
        assert result["problems"] == [], result["problems"]
        # one pulse, released: read when the simulator resets the board at its end (the reset
        # is a pin file the board acts on a moment later; read after it, the relay was (0, 0))
        assert len(relay_at_reset) == 2 and relay_at_reset[-1] == (0, 1), relay_at_reset
        log = _portier(tmp_path, "log", "--port", vb.port, "--yes", timeout=60)
        assert log.returncode == 0, log.stdout + log.stderr
        door_lines = [line for line in log.stdout.splitlines() if " door " in line]
        assert len(door_lines) == 1 and "unlock" in door_lines[0], log.stdout
    assert vb.error is None


def test_vboard_door_call_carries_audio_both_ways(tmp_path):
    """The virtual route has a voice: `portier sim --door-device` against a vboard puts the
    visitor's voice into the board's microphone (its pins folder's mic.wav) and scores what the
    board's speaker played (speaker.wav) against the resident's voice, and what the phone heard
    against the visitor's, by PESQ."""
    flash = tmp_path / "flash"
    env = _door_env()
    with VirtualBoard(str(flash), heapsize="512k") as vb:
        _provision_and_deploy(tmp_path, vb, env)
        run = _portier(tmp_path, "sim", "--scenario", "answered", "--ring-timeout", "10",
                       "--talk", "4", "--door-device", "door-bundle", "--door-port", vb.port,
                       "--door-pins", vb.io_dir, "--household-dir", "hh", "--out", "sim",
                       "--json", env=env, timeout=300)
        assert run.returncode == 0, run.stdout + run.stderr
        quality = json.loads(run.stdout)["quality"]
        assert set(quality) == {"door -> phone1", "phone1 -> door"}, quality
        for direction, q in quality.items():
            # G.711 over loopback scores about 4 (simulator and bridge figures); a silent or
            # garbled direction scores near 1.
            assert q["pesq"] >= 3.0, (direction, q)
        assert os.path.getsize(os.path.join(vb.io_dir, "speaker.wav")) > 16000 * 2  # > 1 s
    assert vb.error is None
