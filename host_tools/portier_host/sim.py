"""`portier sim`: a whole household on loopback, playing one call scenario.

It provisions a household exactly as `portier provision` does (portier_host.provisioning),
starts the switchboard with its in-process media relay, runs the door as the real firmware app
in its own process (on real MicroPython by default, from the firmware precompiled with
mpy-cross as deploy ships it), runs N softphones in this process (the same app on CPython),
lets the phones pair with the door (real Signal sessions), plays the scenario, and reports:
the stanzas as the switchboard routed them, each party's call log, media statistics, how well
the audio survived, and the timings that matter to a visitor at the door.

With an ExternalDoor the door is not started here: it is a provisioned (virtual) board running
the firmware. The simulator then runs its own switchboard, on the address the door dials (its
config names it; nothing may listen there: the household's own switchboard is stopped first),
with a private copy of the household's database that holds the door and the simulator's
phones only: the household's database is only read, and its real phones, should they connect,
are refused rather than rung. It reads the door's log lines from the board's serial port and
presses its button (ExternalDoorSimulation); the door's store and paired devices are saved
before and put back after (portier_host.boardsnap), so the door keeps no simulated phone.

The parts: simproc (the parties as processes and tasks), simhouse (the household's set-up),
simreport (what a scenario's result must show); this module plays the scenarios and is the CLI.
"""


import asyncio
import json
import os
import shutil
import sys
import time

from . import paths, simreport
# ASSETS and SIM_PIN: for the scenarios' callers (tests, benchmarks)
from .simhouse import (ASSETS, DOOR_HEAP, DOOR_VOICE, PHONE_VOICE, SIM_PIN,  # noqa: F401
                       Household)
from .simproc import STEP_TIMEOUT_S, ExternalDoor, SimError, engine_event, logged

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402

# Ringing -> answer: no one answers within a millisecond of the ring. The door fetches its media
# code while its call rings (portier.app App._prefetch_media); a scripted instant answer would
# time that import instead of the accept -> first audio path.
ANSWER_AFTER_S = 0.3


class Simulation(Household):
    """One scenario (simreport.SCENARIOS) played in a Household; run() -> the result."""

    def __init__(self, scenario, phones=1, ring_timeout_s=5, door_runtime="micropython",
                 workdir=None, talk_s=3.0, heap=DOOR_HEAP, mem_log_ms=None, door_audio=None,
                 door_voice=DOOR_VOICE, phone_voice=PHONE_VOICE):
        if scenario not in simreport.SCENARIOS:
            raise SimError("unknown scenario %r" % scenario)
        Household.__init__(self, phones, ring_timeout_s, door_runtime, workdir, heap,
                           mem_log_ms, door_audio, door_voice, phone_voice,
                           unlock=scenario == "unlock")
        self.scenario = scenario
        self.talk_s = talk_s
        self.timings = {}

    async def _ring(self):
        door = self.parties["door"]
        t_press = (time.monotonic() - self.t0) * 1000
        await self.door.command("press")
        times = []
        for runner in self.phones:
            t, _ = await runner.party.wait_for(engine_event("ringing", direction="in"),
                                               what="ringing")
            times.append(t)
        self.timings["button -> all phones ringing"] = max(times) - t_press
        await door.wait_for(engine_event("ringing", direction="out"), what="ringing at the door")

    async def _talk_then_hang_up(self, answering, hanging_up):
        await asyncio.sleep(ANSWER_AFTER_S)
        t_accept = (time.monotonic() - self.t0) * 1000
        await answering.command("answer")
        firsts = []
        for party in (self.parties["door"], self.phones[0].party):
            t, _ = await party.wait_for(logged("media", "first audio"), what="first audio")
            firsts.append(t)
        self.timings["accept -> first audio"] = max(firsts) - t_accept
        await asyncio.sleep(self.talk_s)
        await hanging_up.command("hangup")

    async def _answer_and_unlock(self, phone):
        """Answer, then open the door with the PIN during the call (protocol section 10)."""
        door = self.parties["door"]
        await phone.command("answer")
        for party in (door, phone.party):
            await party.wait_for(logged("media", "first audio"), what="first audio")
        t_unlock = (time.monotonic() - self.t0) * 1000
        await phone.app.command("unlock", [SIM_PIN])
        t, _ = await door.wait_for(lambda d: d.get("msg") == "relay" and d.get("energised") is True,
                                   what="the strike energised")
        self.timings["unlock -> strike energised"] = t - t_unlock
        await phone.party.wait_for(lambda d: d.get("msg") == "unlock result"
                                   and d.get("result") == "opened", what="unlock result opened")
        await door.wait_for(lambda d: d.get("msg") == "relay" and d.get("energised") is False,
                            what="the strike released")
        await asyncio.sleep(self.talk_s)
        await phone.command("hangup")

    async def _play(self):
        phone = self.phones[0]
        if self.scenario == "answered":
            await self._ring()
            await self._talk_then_hang_up(phone, phone)
        elif self.scenario == "rejected":
            await self._ring()
            await phone.command("reject")
        elif self.scenario == "busy":
            await self._ring()
            for runner in self.phones:
                await runner.command("busy")
        elif self.scenario == "missed":
            await self._ring()  # and nobody answers
        elif self.scenario == "cancelled":
            await self._ring()
            await self.door.command("hangup")
        elif self.scenario == "unlock":
            await self._ring()
            await self._answer_and_unlock(phone)
        elif self.scenario == "incoming":
            t_call = (time.monotonic() - self.t0) * 1000
            await phone.command("call")
            t, _ = await self.parties["door"].wait_for(engine_event("ringing", direction="in"),
                                                        what="ringing at the door")
            self.timings["call -> door ringing"] = t - t_call
            await self._talk_then_hang_up(self.door, phone)
        timeout = self.ring_timeout_s + STEP_TIMEOUT_S
        involved = ["door"] + [r.party.name for r in self.phones]
        if self.scenario == "incoming":
            involved = ["door", self.phones[0].party.name]
        for name in involved:
            await self.parties[name].wait_for(engine_event("ended"), timeout_s=timeout,
                                              what="call end")
        # Each device says "call log" once its entry is on flash (after its media stopped): a
        # fixed pause here read a loaded host's door before it had written (heapfit probes
        # then failed with "door logged 0 calls", which is timing, not memory).
        for name in involved:
            await self.parties[name].wait_for(logged("app", "call log"), what="its call log")

    # ---- results ----

    def _logs(self):
        logs = {}
        for name in ["door"] + [r.party.name for r in self.phones]:
            if name == "door" and self.external is not None:
                logs[name] = self.door.call_log() if self.door is not None else []
                continue
            path = os.path.join(self.workdir, name, "calls.json")
            try:
                with open(path) as f:
                    logs[name] = json.load(f)["calls"]
            except FileNotFoundError:
                logs[name] = []
        return logs

    def _media(self):
        media = {}
        for name, party in self.parties.items():
            found = party.find(logged("app", "media stop"))
            if found is not None:
                media[name] = dict((k, v) for k, v in found[1].items()
                                   if k not in ("lvl", "src", "msg", "t"))
        return media

    def _quality(self):
        if self.scenario not in simreport.MEDIA_SCENARIOS or "door" not in self.parties:
            return {}  # no call was placed
        door_heard = os.path.join(self.workdir, "door", "heard.wav")
        if self.external is not None:
            if self.external.pins is None:
                return {}  # a real board's microphone is not the simulator's recording
            door_heard = os.path.join(self.external.pins, "speaker.wav")
        from . import audioquality

        pairs = {"door -> phone1": (self.door_voice, os.path.join(self.workdir, "phone1", "heard.wav")),
                 "phone1 -> door": (self.phone_voice, door_heard)}
        media = self.parties["door"].find(engine_event("media"))
        codec = media[1].get("codec", "") if media else ""
        # A G.711 call carries narrowband audio: score it as such (PESQ P.862 narrowband).
        band = "nb" if codec.endswith("/8000") else "wb"
        out = {}
        for direction, (sent, heard) in pairs.items():
            if sent is None:
                continue  # a silent microphone: nothing to score
            try:
                q = dict(audioquality.compare_files(sent, heard, band=band), codec=codec)
            except (OSError, ValueError) as e:
                out[direction] = {"error": str(e)}
                continue
            out[direction] = dict((k, round(v, 2) if isinstance(v, float) else v)
                                  for k, v in sorted(q.items()))
        return out

    async def run(self):
        problems = []
        try:
            await self.start_household()
            await self._play()
        except SimError as e:
            problems.append(str(e))
        finally:
            await self.stop_household()
        problems += getattr(self.door, "problems", [])
        logs = self._logs()
        media = self._media()
        problems = problems + simreport.check(self.scenario, logs, media)
        if problems and self.door is not None and self.door.stderr:
            problems.append("door stderr: " + self.door.stderr_text())
        return {
            "scenario": self.scenario, "door_runtime": "external" if self.external else self.door_runtime,
            "phones": [r.party.name for r in self.phones], "workdir": self.workdir,
            "trace": self.trace, "logs": logs, "media": media, "quality": self._quality(),
            "timings": self.timings, "problems": problems, "door_heap": self.heap,
            "memory": [dict(d, host_ms=round(t, 1)) for t, d in self.parties["door"].lines
                       if d.get("src") == "mem"] if "door" in self.parties else [],
            "wav": {"door heard": os.path.join(self.workdir, "door", "heard.wav"),
                    "phone1 heard": os.path.join(self.workdir, "phone1", "heard.wav")},
        }


class ExternalDoorSimulation(Simulation):
    """A scenario against an ExternalDoor (a provisioned board): only its button is pressed,
    so the scenarios that need no other door command (answered, rejected, busy, missed)."""

    def __init__(self, scenario, door, phones=1, ring_timeout_s=5, workdir=None, talk_s=3.0):
        Simulation.__init__(self, scenario, phones, ring_timeout_s, "micropython", workdir, talk_s)
        self.external = door


def main_external(args):
    """`portier sim --door-device DIR --door-port P --door-pins DIR`: the scenario against a
    running `portier vboard` with that bundle deployed; its button and reset are its pins."""
    from . import vboard

    if not (args.door_port and args.door_pins):
        print("sim: --door-device needs --door-port and --door-pins (from `portier vboard`)",
              file=sys.stderr)
        return 2
    try:
        with open(os.path.join(args.door_device, "portier.json")) as f:
            household = fwconfig.loads(f.read()).household
    except (OSError, fwconfig.ConfigError) as e:
        print("sim: no door bundle in %s: %s" % (args.door_device, e), file=sys.stderr)
        return 2
    household_dir = args.household_dir or os.path.join("households", household)
    db = args.db or os.path.join(household_dir, "switchboard.db")
    pins = args.door_pins
    door = ExternalDoor(args.door_device, household_dir, db, args.door_port,
                        lambda: vboard.press_button(pins), lambda: vboard.request_reset(pins),
                        pins)
    try:
        simulation = ExternalDoorSimulation(args.scenario, door, args.phones, args.ring_timeout,
                                            args.out, args.talk)
    except SimError as e:
        print("sim: %s" % e, file=sys.stderr)
        return 2
    result = asyncio.run(simulation.run())
    print(simreport.render_json(result) if args.json else simreport.render_text(result))
    if args.out is None and not result["problems"]:
        shutil.rmtree(result["workdir"], ignore_errors=True)
    return 1 if result["problems"] else 0


def run(scenario, phones=1, ring_timeout_s=5, door_runtime="micropython", workdir=None,
        talk_s=3.0, heap=DOOR_HEAP, mem_log_ms=None):
    sim = Simulation(scenario, phones, ring_timeout_s, door_runtime, workdir, talk_s, heap,
                     mem_log_ms)
    return asyncio.run(sim.run())


def main(args):
    try:
        result = run(args.scenario, args.phones, args.ring_timeout, args.door_runtime, args.out,
                     args.talk, getattr(args, "door_heap", DOOR_HEAP),
                     getattr(args, "mem_log", None))
    except SimError as e:  # refused before anything started
        print("portier sim: %s" % e, file=sys.stderr)
        return 2
    if args.json:
        print(simreport.render_json(result))
    else:
        print(simreport.render_text(result))
    if args.out is None and not result["problems"]:
        shutil.rmtree(result["workdir"], ignore_errors=True)
    return 1 if result["problems"] else 0
