"""Echo at the door: the virtual door's acoustic path (portier.hal.acoustic: the speaker's output
back into the microphone after ECHO_DELAY_MS at ECHO_GAIN_DB, then a reflection every 2 ms, each
6 dB weaker) in real calls of `portier sim` (door on MicroPython, G.711 on the wire), with each
echo control a board file can name.

- ERLE at the phone (echo return loss enhancement): the resident talks, the visitor is silent,
  so all the phone hears is its own voice coming back from the door. ERLE is the power of that
  return with no echo control over its power with the control, in dB (the path and the talker
  are the same in every run; the two runs differ only in the control).
- PESQ of the visitor's voice at the phone (P.862 narrowband), the visitor talking alone and
  with the resident talking at the same time (double talk).

A real door's coupling depends on its enclosure; these figures show what the control does with
one plausible path, not what a given board will measure.
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host import audioquality, sim  # noqa: E402

ECHO_DELAY_MS = 4
ECHO_GAIN_DB = -10
CONTROLS = (("none", False), ("suppress", False), ("half_duplex", False), ("half_duplex", True))


def _label(control, shared):
    return control + (" (shared bus)" if shared else "")


def _call(workdir, control, shared, door_voice, phone_voice, talk_s):
    door_audio = {"echo_control": control, "shared_bus": shared,
                  "echo_path": {"delay_ms": ECHO_DELAY_MS, "gain_db": ECHO_GAIN_DB}}
    s = sim.Simulation("answered", talk_s=talk_s, ring_timeout_s=5, workdir=workdir,
                       door_audio=door_audio, door_voice=door_voice, phone_voice=phone_voice)
    result = asyncio.run(s.run())
    if result["problems"]:
        raise RuntimeError("sim %s: %s" % (control, result["problems"]))
    heard = os.path.join(workdir, "phone1", "heard.wav")
    return result, heard


def _power(path):
    import numpy as np

    x = audioquality.load_wav(path)[1].astype(np.float64)
    return float(np.mean(x * x)) if len(x) else 0.0


def run(quick=False):
    import math

    talk_s = 1.5 if quick else 6.0
    controls = CONTROLS[:2] if quick else CONTROLS  # a quick run only shows that it runs
    repeats = 1 if quick else 3  # PESQ of a realtime call moves with the machine's load
    rows_erle, rows_pesq = [], []
    data = {"delay_ms": ECHO_DELAY_MS, "gain_db": ECHO_GAIN_DB, "erle_db": {}, "pesq": {}}
    with tempfile.TemporaryDirectory(prefix="portier-echo-") as tmp:
        powers = {}
        for control, shared in controls:
            label = _label(control, shared)
            wd = os.path.join(tmp, "far-" + label.replace(" ", "_"))
            result, heard = _call(wd, control, shared, None, sim.PHONE_VOICE, talk_s)
            powers[label] = _power(heard)
            ducked = result["media"].get("door", {}).get("echo_ducked", "-")
            p = powers[label]
            rows_erle.append([label, 10 * math.log10(p) if p else "silence", ducked])
        base = powers["none"]
        for row in rows_erle:
            p = powers[row[0]]
            if not p:  # nothing at all came back: no finite ratio
                row.insert(2, "all (no echo reached the phone)")
                continue
            erle = 10 * math.log10(base / p) if base else float("nan")
            row.insert(2, erle)
            data["erle_db"][row[0]] = round(erle, 1)
        for control, shared in controls[1:] if quick else controls:
            label = _label(control, shared)
            scores = []
            for talk, phone_voice in (("visitor alone", None), ("double talk", sim.PHONE_VOICE)):
                runs = []
                for k in range(repeats):
                    wd = os.path.join(tmp, "near-%s-%s%d" % (label.replace(" ", "_"), talk[0], k))
                    _call(wd, control, shared, sim.DOOR_VOICE, phone_voice, talk_s)
                    runs.append(audioquality.compare_files(
                        sim.DOOR_VOICE, os.path.join(wd, "phone1", "heard.wav"), band="nb")["pesq"])
                scores.append(benchlib.stats(runs))
            rows_pesq.append([label] + [benchlib.spread(st, "%.2f") for st in scores])
            data["pesq"][label] = {"alone": round(scores[0]["median"], 2),
                                   "double_talk": round(scores[1]["median"], 2)}
    note = ("echo path: %d ms, %d dB, reflections every 2 ms at -6 dB each; G.711 u-law; %.0f s "
            "calls" % (ECHO_DELAY_MS, ECHO_GAIN_DB, talk_s))
    t1 = benchlib.table("Echo returned to the resident (resident talks, visitor silent)",
                        ["echo control", "power at the phone (dB, int16 units)",
                         "ERLE vs none (dB)", "mic frames ducked"], rows_erle, [note])
    t2 = benchlib.table("PESQ of the visitor at the phone (MOS-LQO, narrowband)",
                        ["echo control", "visitor alone", "double talk"], rows_pesq,
                        [note, "double talk: the resident's voice plays at the door throughout",
                         "median (min-max, n) of %d calls each: a loaded host conceals frames now "
                         "and then, which PESQ punishes" % repeats])
    figures = {}
    for label, erle in data["erle_db"].items():
        if label != "none":
            figures["erle_" + label.replace(" ", "_").replace("(", "").replace(")", "")] = \
                benchlib.figure(erle, "dB", "ERLE at the phone, echo control %s" % label,
                                "portier sim, virtual door's acoustic path")
    for label in ("suppress",):
        p = data["pesq"][label]
        figures["pesq_visitor_alone_" + label] = benchlib.figure(
            p["alone"], "MOS-LQO", "PESQ of the visitor at the phone, %s, visitor alone" % label,
            "portier sim, virtual door's acoustic path")
        figures["pesq_double_talk_" + label] = benchlib.figure(
            p["double_talk"], "MOS-LQO", "PESQ of the visitor at the phone, %s, double talk" % label,
            "portier sim, virtual door's acoustic path")
    return benchlib.result("echo", "Echo control at the door: ERLE and double talk", __doc__,
                           [t1, t2], figures, data)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
