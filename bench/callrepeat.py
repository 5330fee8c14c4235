"""The answered call of `portier sim`, N times in a row: PESQ per direction and what each run's
jitter buffers did. Not part of `make bench` (bench/bench_*.py); run it by hand:

  .venv/bin/python bench/callrepeat.py [-n 12] [--talk 1] [--door-runtime micropython]
                                       [--keep DIR] [--json FILE]

One line per run: PESQ and alignment lag of each direction (what the receiver recorded against
what the sender's microphone played), then the door's and the phone's media counters (packets
received, frames lost / concealed, packets late, buffer stretches / drops / restarts, the
target depth at the call's end); at the end min / median / max PESQ per direction. A run whose
receiver concealed a frame shows it in these counters, which is how the intermittent
phone -> door drop of 1 s calls was traced to the jitter buffer's start (see
portier/media/jitter.py). --keep DIR keeps every run's folder (WAVs, logs) in DIR/rNN.
"""

import argparse
import json
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "host_tools"))

from portier_host import sim  # noqa: E402

DIRECTIONS = ("phone1 -> door", "door -> phone1")
COUNTERS = ("received", "lost", "concealed", "late", "stretched", "dropped", "restarts",
            "target_ms")
_SHORT = {"received": "rx", "lost": "lost", "concealed": "conc", "late": "late",
          "stretched": "str", "dropped": "drop", "restarts": "rst", "target_ms": "tgt"}


def one_call(talk_s, runtime, workdir=None):
    """One answered call -> {"pesq": {direction: score}, "lag_ms": {...}, "media": {party:
    counters}, "problems": [...]}."""
    r = sim.run("answered", 1, door_runtime=runtime, talk_s=talk_s, workdir=workdir)
    q = r["quality"]
    out = {"pesq": {}, "lag_ms": {}, "problems": r["problems"],
           "media": {p: {k: s.get(k) for k in COUNTERS} for p, s in r["media"].items()}}
    for d in DIRECTIONS:
        out["pesq"][d] = q.get(d, {}).get("pesq")
        out["lag_ms"][d] = q.get(d, {}).get("lag_ms")
    if workdir is None and not r["problems"]:
        shutil.rmtree(r["workdir"], ignore_errors=True)
    return out


def _counters(m):
    if not m:
        return "-"
    return " ".join("%s %s" % (_SHORT[k], "-" if m.get(k) is None else m[k]) for k in COUNTERS)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=12, help="calls (default 12)")
    ap.add_argument("--talk", type=float, default=1.0, help="seconds of talk (default 1)")
    ap.add_argument("--door-runtime", default="micropython", choices=("micropython", "cpython"))
    ap.add_argument("--keep", help="keep each run's folder in KEEP/rNN")
    ap.add_argument("--json", help="write the runs to this file")
    args = ap.parse_args(argv)
    runs = []
    for i in range(args.n):
        wd = None
        if args.keep:
            wd = os.path.join(args.keep, "r%02d" % i)
            shutil.rmtree(wd, ignore_errors=True)
        r = one_call(args.talk, args.door_runtime, wd)
        runs.append(r)
        p, lag = r["pesq"], r["lag_ms"]
        print("run %2d  PESQ phone->door %s (lag %s ms)  door->phone %s  | door: %s | phone: %s%s"
              % (i, p[DIRECTIONS[0]], lag[DIRECTIONS[0]], p[DIRECTIONS[1]],
                 _counters(r["media"].get("door")), _counters(r["media"].get("phone1")),
                 "  PROBLEMS: %s" % r["problems"] if r["problems"] else ""), flush=True)
    print()
    for d in DIRECTIONS:
        scores = [r["pesq"][d] for r in runs if r["pesq"][d] is not None]
        if scores:
            print("PESQ %-15s min %.2f  median %.2f  max %.2f  (%d runs, %d below 4.0)" % (
                d, min(scores), statistics.median(scores), max(scores), len(scores),
                sum(1 for s in scores if s < 4.0)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    return 1 if any(r["problems"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
