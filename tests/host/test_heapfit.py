"""The heap-fit search (portier_host.heapfit) and the simulator's door heap options it rests
on: --door-heap reaches the MicroPython door (a door that runs out of heap fails the run at
once, naming the MemoryError), --mem-log makes the door report its heap during the call."""

import os
import subprocess
import sys
import time

import pytest

from portier_host import heapfit, sim


def test_search_finds_the_threshold_and_confirms_it():
    tried = []

    def probe(k, talk_s):
        tried.append(k)
        return k >= 200, "" if k >= 200 else "MemoryError"

    r = heapfit.search(64, 512, 8, confirm=2, probe_fn=probe)
    assert r["smallest_k"] == 200
    assert tried[:2] == [512, 64] and tried[-2:] == [200, 200]
    assert len(tried) <= 2 + 6 + 2  # bisection over (512 - 64) / 8 steps, then confirmations
    assert [p[0] for p in r["probes"]] == tried


def test_a_failed_confirmation_moves_the_answer_up():
    calls = {}

    def probe(k, talk_s):  # 200 completes once, then fails: too tight to state
        calls[k] = calls.get(k, 0) + 1
        if k == 200:
            return calls[k] == 1, "flaky"
        return k > 200, ""

    r = heapfit.search(64, 512, 8, confirm=2, probe_fn=probe)
    assert r["smallest_k"] == 208
    assert all(ok for k, ok, _ in r["probes"] if k == 208)


def test_search_refuses_when_the_largest_heap_fails():
    with pytest.raises(heapfit.HeapFitError):
        heapfit.search(64, 512, 8, probe_fn=lambda k, t: (False, "MemoryError"))


def test_too_small_a_door_heap_fails_fast_naming_the_memory_error(tmp_path):
    t0 = time.monotonic()
    r = sim.run("answered", 1, ring_timeout_s=2, workdir=str(tmp_path), talk_s=0.5, heap="96k")
    assert r["problems"] and r["door_heap"] == "96k"
    assert any("MemoryError" in p for p in r["problems"]), r["problems"]
    assert time.monotonic() - t0 < 20  # not a step timeout (20 s each)


def test_mem_log_samples_the_door_heap_during_the_call(tmp_path):
    r = sim.run("answered", 1, ring_timeout_s=2, workdir=str(tmp_path), talk_s=1.0,
                mem_log_ms=50)
    assert r["problems"] == []
    boot = [d for d in r["memory"] if d["msg"] == "boot"]
    samples = [d for d in r["memory"] if d["msg"] == "sample"]
    assert len(boot) == 1 and boot[0]["live"] > 0
    size = 1024 * int(sim.DOOR_HEAP[:-1])  # -X heapsize; the GC's own tables take a little
    assert 0.95 * size < boot[0]["heap"] <= size
    assert len(samples) >= 20  # about 1.5 s of a call at 50 ms
    for d in samples:
        assert d["alloc"] + d["free"] == boot[0]["heap"]
    live = [d["live"] for d in samples if "live" in d]
    assert live and all(boot[0]["live"] < v <= boot[0]["heap"] for v in live)
    times = [d["host_ms"] for d in samples]
    assert times == sorted(times)


def test_cli_refuses_the_heap_log_on_a_cpython_door():
    cli = os.path.join(os.path.dirname(sys.executable), "portier")
    proc = subprocess.run([cli, "sim", "--door-runtime", "cpython", "--mem-log", "50"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "MicroPython" in proc.stderr
