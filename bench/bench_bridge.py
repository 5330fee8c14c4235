"""`portier bridge` with real SIP software (bridge/lab.py): Kamailio as the household's PBX on
loopback, baresip as the resident's SIP phone (ringing until told to answer, G.711 PCMU,
playing recorded speech and recording what it hears), the door as the real firmware app on
host MicroPython, the bridge as `portier bridge` in its own process (PJSIP). Per call: button
-> the SIP phone ringing (its CALL_INCOMING event), accept (baresip's `accept`) -> first audio
(the later of the door's first packet and the phone's first RTP), PESQ of 5 s of talk each
way (narrowband; the door's voice crosses two G.711 encodings: door -> bridge and bridge ->
phone), and the CPU the bridge process used (user + system, /proc) while ringing and talking."""

import asyncio
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host.bridge import lab  # noqa: E402

_TALK_S = 5.0
_ANSWER_AFTER_S = 0.3  # as portier sim: nobody answers within a millisecond of the ring


def _cpu_s(pid):
    """User + system CPU seconds the process has used."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _one_call(house):
    door, anna = house.parties["door"], house.anna
    pid = house.bridge.proc.pid
    since, anna_since = house.line_counts(), len(anna.events)
    door_since = since["door"]
    cpu0, t_press = _cpu_s(pid), time.monotonic()
    await house.door.command("press")
    _, ringing = await anna.wait_event("CALL_INCOMING", since=anna_since)
    await asyncio.sleep(_ANSWER_AFTER_S)
    t_accept = time.monotonic()
    await anna.command("accept")
    earlier = set(id(d) for _, d in door.lines[:door_since])
    t_door, _ = await door.wait_for(lambda d: d.get("msg") == "first audio" and
                                    id(d) not in earlier, what="first audio at the door")
    _, rtp = await anna.wait_event("CALL_RTPESTAB", since=anna_since)
    first = max(door.t0 + t_door / 1000, rtp["t"])
    await asyncio.sleep(_TALK_S)
    await anna.command("hangup")
    to_phone, to_door = await lab.quality(house, _TALK_S - 0.5, since, anna_since)
    cpu, took = _cpu_s(pid) - cpu0, time.monotonic() - t_press
    return {"ring_ms": (ringing["t"] - t_press) * 1000, "first_audio_ms": (first - t_accept) * 1000,
            "pesq_to_phone": to_phone["pesq"], "pesq_to_door": to_door["pesq"],
            "cpu_s": cpu, "call_s": took}


async def _calls(n, workdir):
    house = lab.BridgeLab(workdir, ring_timeout_s=20, phones=0, anna_answers=False)
    try:
        await house.start()
        return [await _one_call(house) for _ in range(n)]
    except Exception:
        print(house.log_tails(), file=sys.stderr)  # what each part said: why it failed
        raise
    finally:
        await house.stop()


def run(quick=False):
    missing = lab.missing(lab.KAMAILIO, lab.BARESIP)
    if missing:
        return benchlib.result("bridge", "SIP bridge: a door call answered on a SIP phone",
                               __doc__, [benchlib.table("Not measured", ["why"], [[
                                   "not installed: %s" % " ".join(missing)]])])
    workdir = tempfile.mkdtemp(prefix="bench-bridge-")
    try:
        calls = asyncio.run(_calls(1 if quick else 5, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows, figures = [], {}
    where = "door on host MicroPython, bridge (PJSIP) and baresip on CPython/loopback"
    for key, label, unit, fmt in (
            ("ring_ms", "button -> SIP phone ringing", "ms", "%.0f"),
            ("first_audio_ms", "accept on the SIP phone -> first audio", "ms", "%.0f"),
            ("pesq_to_phone", "PESQ door -> SIP phone (G.711 twice)", "MOS-LQO", "%.2f"),
            ("pesq_to_door", "PESQ SIP phone -> door (G.711)", "MOS-LQO", "%.2f")):
        st = benchlib.stats([c[key] for c in calls])
        rows.append([label, benchlib.spread(st, fmt)])
        figures["bridge_" + key] = benchlib.figure(st["median"], unit, label, where, st)
    st = benchlib.stats([100.0 * c["cpu_s"] / c["call_s"] for c in calls])
    rows.append(["bridge CPU while a call rings and talks (% of one core)",
                 benchlib.spread(st, "%.1f")])
    figures["bridge_cpu_pct"] = benchlib.figure(st["median"], "%", "bridge process CPU (user + "
                                                "system) from the press to the call's end, "
                                                "per second of call", where, st)
    st = benchlib.stats([c["cpu_s"] for c in calls])
    rows.append(["bridge CPU per call (%.0f s of talk), s" % _TALK_S, benchlib.spread(st, "%.2f")])
    figures["bridge_cpu_s_per_call"] = benchlib.figure(st["median"], "s", "bridge CPU seconds "
                                                       "per call", where, st)
    tables = [benchlib.table("Door call answered on a SIP phone: median (spread, calls)",
                             ["figure", "value"], rows,
                             ["one household, calls in a row; host wall-clock on loopback"
                              + ("; quick run: one call" if quick else "")])]
    return benchlib.result("bridge", "SIP bridge: a door call answered on a SIP phone", __doc__,
                           tables, figures)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
