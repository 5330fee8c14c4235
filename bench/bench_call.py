"""A whole call in `portier sim` (switchboard and relay on loopback, the door as the real
firmware app on real MicroPython from the firmware precompiled as deployed, a softphone on
CPython): the smallest door heap that completes the answered call (a bisection on
`micropython -X heapsize=`, then confirmation runs: portier_host.heapfit), the door's heap over
one call (gc.mem_alloc() / gc.mem_free() sampled inside the door by
portier_host/mp/memprobe.py, with gc.collect() every 5th sample for the live size), and the
call's set-up and first-audio latency and PESQ over repeated runs. The host MicroPython is a
64-bit build: its objects take up to twice an ESP32's room, so the heap figures are an upper
bound for a board."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host import heapfit, sim  # noqa: E402

GOAL_HEAP_K = 64
_EVENTS = (("offer", "door", "press -> offer"), ("accept", "phone1", "accept"),
           ("terminate", "phone1", "hang-up"))


def _call(heap, talk_s, mem_log_ms=None):
    r = sim.run("answered", 1, ring_timeout_s=5, door_runtime="micropython", talk_s=talk_s,
                heap=heap, mem_log_ms=mem_log_ms)
    shutil.rmtree(r["workdir"], ignore_errors=True)
    if r["problems"]:
        raise SystemExit("bench_call: the answered call failed at %s: %s" % (heap, r["problems"]))
    return r


def _events(trace):
    out = []
    for action, sender, label in _EVENTS:
        for t_ms, frm, _to, act, _detail in trace:
            if act == action and frm == sender:
                out.append((label, t_ms))
                break
    return out


def _heap_over_call(quick):
    r = _call(sim.DOOR_HEAP, 1.0 if quick else 3.0, mem_log_ms=50)
    samples = [d for d in r["memory"] if d.get("msg") == "sample"]
    boot = [d for d in r["memory"] if d.get("msg") == "boot"]
    if not samples:
        raise SystemExit("bench_call: the door logged no heap samples")
    live = [d["live"] for d in samples if "live" in d]
    series = {"t_ms": [d["host_ms"] for d in samples], "alloc": [d["alloc"] for d in samples],
              "live_t_ms": [d["host_ms"] for d in samples if "live" in d], "live": live,
              "events": _events(r["trace"]), "heap": sim.DOOR_HEAP,
              "heap_bytes": boot[0]["heap"] if boot else None}
    return r, series, (boot[0]["live"] if boot else None)


def run(quick=False):
    figures, tables = {}, []
    mem_run, series, boot_live = _heap_over_call(quick)
    peak_alloc = max(series["alloc"])
    peak_live = max(series["live"]) if series["live"] else None
    figures["door_mem_alloc_peak"] = benchlib.figure(
        peak_alloc, "B", "door gc.mem_alloc() high-water over an answered call (garbage "
        "included; %s heap, %d samples every 50 ms)" % (sim.DOOR_HEAP, len(series["alloc"])),
        "host MicroPython (64-bit), door in portier sim")
    figures["door_live_peak"] = benchlib.figure(
        peak_live, "B", "door live heap high-water (gc.mem_alloc() right after gc.collect())",
        "host MicroPython (64-bit), door in portier sim")

    # Heap fit.
    if quick:  # the heap-log call above completed at the default heap: no search
        fit = {"smallest_k": int(sim.DOOR_HEAP[:-1]), "step_k": None, "confirmations": 0,
               "probes": [(int(sim.DOOR_HEAP[:-1]), True, "")], "searched": False}
    else:
        fit = heapfit.search(64, 512, 8, talk_s=2.0, confirm=2, log=print)
        fit["searched"] = True
    smallest = fit["smallest_k"]
    figures["door_heap_fit_k"] = benchlib.figure(
        smallest, "KiB", "smallest -X heapsize with which the door completes the answered call"
        + ("" if fit["searched"] else " (quick run: only the default heap was tried)"),
        "host MicroPython (64-bit), door in portier sim", goal="<= %d KiB" % GOAL_HEAP_K,
        met=smallest <= GOAL_HEAP_K,
        note="confirmed %d more times at that size; step %s KiB" % (fit["confirmations"],
                                                                    fit["step_k"]))
    probe_rows = [["%d KiB" % k, "completed" if ok else "failed", reason]
                  for k, ok, reason in fit["probes"]]
    tables.append(benchlib.table(
        "Heap fit: the answered call at each door heap tried (in order)",
        ["door heap", "call", "first problem"], probe_rows,
        ["smallest heap that completed the call, then %d confirmations: %d KiB (goal: %d KiB; "
         "the host build is 64-bit, an ESP32 needs roughly half)"
         % (fit["confirmations"], smallest, GOAL_HEAP_K)]))
    tables.append(benchlib.table(
        "Door heap over one answered call (%s heap)" % sim.DOOR_HEAP,
        ["figure", "bytes"],
        [["after `import portier.app` (boot, collected)", boot_live],
         ["gc.mem_alloc() high-water (garbage included)", peak_alloc],
         ["live high-water (right after gc.collect())", peak_live],
         ["heap size", series["heap_bytes"]]],
        ["timeline chart: heap_over_call.png"]))

    # Latency and quality over repeated calls.
    runs = [mem_run] if quick else [_call(sim.DOOR_HEAP, 1.0) for _ in range(5)]
    lat_rows = []
    for name in ("button -> all phones ringing", "accept -> first audio"):
        st = benchlib.stats([r["timings"][name] for r in runs])
        lat_rows.append([name, benchlib.spread(st)])
        key = "sim_" + name.replace(" -> ", "_to_").replace(" ", "_")
        figures[key] = benchlib.figure(st["median"], "ms", name, "door on host MicroPython, "
                                       "phone on CPython, loopback", st)
    for direction in ("door -> phone1", "phone1 -> door"):
        st = benchlib.stats([r["quality"][direction]["pesq"] for r in runs])
        codec = runs[0]["quality"][direction].get("codec", "")
        lat_rows.append(["PESQ %s (%s)" % (direction, codec), benchlib.spread(st, "%.2f")])
        figures["sim_pesq_" + direction.replace(" -> ", "_to_")] = benchlib.figure(
            st["median"], "MOS-LQO", "PESQ of a simulated call, %s" % direction,
            "portier sim (real SRTP, relay, jitter buffer; loopback)", st)
    tables.append(benchlib.table(
        "Simulated answered call: timings (ms) and PESQ, median (spread, runs)",
        ["figure", "value"], lat_rows,
        ["host wall-clock on loopback: switchboard, relay and phone share this machine"
         + ("; quick run: one call with the heap log on" if quick else "")]))
    return benchlib.result("call", "A whole call: heap fit, heap over the call, latency",
                           __doc__, tables, figures, {"heap_over_call": series})


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
