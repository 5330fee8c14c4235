"""`portier sim`: every scenario, with the door on real MicroPython and on CPython, with one and
with three phones; each party's call log must match the model's outcome (simreport.EXPECTED,
docs/protocol.md section 9), and only answered calls may carry media."""

import json
import os
import subprocess
import time
import sys

import pytest

from portier_host import sim, simproc, simreport

CASES = [(sc, rt, n) for sc in simreport.SCENARIOS for rt in ("micropython", "cpython")
         for n in (1, 3)]


@pytest.mark.parametrize("scenario,runtime,phones", CASES)
def test_scenario(scenario, runtime, phones, tmp_path):
    result = sim.run(scenario, phones, ring_timeout_s=2, door_runtime=runtime,
                     workdir=str(tmp_path), talk_s=1.0)
    assert result["problems"] == [], simreport.render_text(result)
    door = result["logs"]["door"][0]
    assert (door["dir"], door["outcome"]) == simreport.EXPECTED[scenario][0]
    actions = [t[3] for t in result["trace"]]
    if scenario in simreport.MEDIA_SCENARIOS:
        assert set(result["media"]) == {"door", "phone1"}
        for stats in result["media"].values():
            assert stats["received"] > 20 and stats["srtp_rejected"] == 0
        assert "transport" in actions
    else:
        assert result["media"] == {} and "accept" not in actions
    if scenario != "incoming":
        assert actions.count("offer") == phones  # one copy per phone from the switchboard
        assert result["timings"]["button -> all phones ringing"] < 2000


def test_elsewhere_terminates_reach_every_other_phone(tmp_path):
    result = sim.run("answered", 3, ring_timeout_s=2, door_runtime="cpython",
                     workdir=str(tmp_path), talk_s=0.5)
    assert result["problems"] == []
    to_others = [t for t in result["trace"]
                 if t[3] == "terminate" and t[1] == "door" and "accepted_elsewhere" in t[4]]
    assert sorted(t[2] for t in to_others) == ["phone2", "phone3"]


def test_cli_json_and_exit_status(tmp_path):
    cli = os.path.join(os.path.dirname(sys.executable), "portier")
    # a relative --out, as `make demo` gives it, with the door on MicroPython
    proc = subprocess.run([cli, "sim", "--scenario", "rejected", "--ring-timeout", "2", "--json",
                           "--out", "o"], capture_output=True, text=True, timeout=120,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["scenario"] == "rejected" and doc["problems"] == []
    assert doc["logs"]["phone1"][0]["outcome"] == "declined"


def test_a_wrong_expectation_fails_the_run():
    # The checker is what makes the exit status mean something: feed it a wrong outcome.
    logs = {"door": [{"dir": "out", "outcome": "answered"}], "phone1": [{"dir": "in", "outcome": "missed"}]}
    assert simreport.check("answered", logs, {}) != []
    good = {"door": [{"dir": "out", "outcome": "declined"}], "phone1": [{"dir": "in", "outcome": "declined"}]}
    assert simreport.check("rejected", good, {}) == []
    assert simreport.check("rejected", good, {"door": {"received": 5}}) != []  # media in a declined call


class _PhoneVanishes(sim.Simulation):
    """Answered, then the phone drops off the network mid-call (no terminate, no packets)."""

    async def _play(self):
        await self._ring()
        phone = self.phones[0]
        await phone.command("answer")
        door = self.parties["door"]
        await door.wait_for(simproc.logged("media", "first audio"), what="first audio")
        gone = time.monotonic()
        phone.app.link.stop()
        await phone.app._stop_media()
        await door.wait_for(simproc.engine_event("ended"), timeout_s=30, what="the door hanging up")
        self.timings["phone gone -> door hangs up"] = (time.monotonic() - gone) * 1000


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_a_phone_that_vanishes_mid_call_is_hung_up_within_a_bound(runtime, tmp_path):
    import asyncio

    s = _PhoneVanishes("answered", 1, 2, runtime, str(tmp_path), 1.0)
    result = asyncio.run(s.run())
    door = result["logs"]["door"]
    assert len(door) == 1 and door[0]["outcome"] == "answered", simreport.render_text(result)
    waited = result["timings"]["phone gone -> door hangs up"]
    assert 9000 <= waited <= 20000, waited  # MEDIA_SILENCE_MS (10 s), with room for a slow host
    assert s.parties["door"].find(simproc.logged("app", "media lost")) is not None
