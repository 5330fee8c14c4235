"""The smallest MicroPython heap (`micropython -X heapsize=`) with which the door completes the
answered call of `portier sim`: a bisection over the door's heap, then confirmation runs.

A heap near the limit may pass once and fail the next time (when the garbage collector runs,
and so how the heap fragments, depends on timing), so the size reported is one at which the
call then completed `confirm` more times in a row; a failed confirmation moves the answer up
by one step and confirms again. Each probe is a whole simulated household (switchboard, relay,
a phone on CPython, pairing, ring, answer, SRTP both ways, hang-up); a door that runs out of
heap exits and its probe ends at once.

    python -m portier_host.heapfit [--lo 64] [--hi 512] [--step 8] [--talk 2] [--confirm 2]
"""

import argparse
import shutil
import sys

from . import sim


class HeapFitError(Exception):
    """The search cannot start: the call fails even at the largest heap tried."""


def probe(heap_k, talk_s=2.0, phones=1):
    """Runs the answered scenario with a heap of heap_k KiB; returns (ok, first problem)."""
    result = sim.run("answered", phones, ring_timeout_s=5, door_runtime="micropython",
                     talk_s=talk_s, heap="%dk" % heap_k)
    shutil.rmtree(result["workdir"], ignore_errors=True)
    problems = result["problems"]
    reason = ""
    if problems:
        reason = problems[0]
        for p in problems:  # the door's own last words say most (a MemoryError, usually)
            if p.startswith("door stderr:"):
                reason = p.strip().splitlines()[-1][:160]
    return not problems, reason


def search(lo_k=64, hi_k=512, step_k=8, talk_s=2.0, confirm=2, log=None, probe_fn=probe):
    """{"smallest_k", "probes": [(heap_k, ok, reason)], "confirmations", ...}.

    Invariant of the bisection: hi_k completed the call, lo_k did not (or is the floor)."""
    probes = []

    def try_heap(k):
        ok, reason = probe_fn(k, talk_s)
        probes.append((k, ok, reason))
        if log:
            log("heap %4d KiB: %s%s" % (k, "call completed" if ok else "FAILED",
                                        "" if ok else " (%s)" % reason))
        return ok

    if not try_heap(hi_k):
        raise HeapFitError("the call fails even with %d KiB: %s" % (hi_k, probes[-1][2]))
    if try_heap(lo_k):
        hi_k = lo_k
    else:
        while hi_k - lo_k > step_k:
            mid = (lo_k + hi_k) // 2 // step_k * step_k
            if mid <= lo_k:
                mid = lo_k + step_k
            if try_heap(mid):
                hi_k = mid
            else:
                lo_k = mid
    passes = 0
    top = max(k for k, ok, _ in probes if ok)
    while passes < confirm:
        if try_heap(hi_k):
            passes += 1
            continue
        passes = 0
        hi_k = min(hi_k + step_k, top)  # `top` completed the call: the answer stays below it
    return {"smallest_k": hi_k, "step_k": step_k, "confirmations": confirm, "talk_s": talk_s,
            "probes": probes}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m portier_host.heapfit", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("--lo", type=int, default=64, help="KiB, the floor of the search")
    p.add_argument("--hi", type=int, default=512, help="KiB, must complete the call")
    p.add_argument("--step", type=int, default=8, help="KiB, the resolution")
    p.add_argument("--talk", type=float, default=2.0, help="seconds of conversation per probe")
    p.add_argument("--confirm", type=int, default=2, help="extra runs at the answer")
    args = p.parse_args(argv)
    try:
        r = search(args.lo, args.hi, args.step, args.talk, args.confirm, log=print)
    except HeapFitError as e:
        print("heapfit: %s" % e)
        return 1
    print("smallest door heap completing the answered call: %d KiB (step %d KiB, confirmed "
          "%d more times)" % (r["smallest_k"], r["step_k"], r["confirmations"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
