"""The door app on real MicroPython against a miniature switchboard on loopback (mutual TLS):
connect -> <ready> time, press -> offer at the switchboard, offer -> ringing inside the door,
a pairing's <pair> -> pair_result (X3DH responder + ratchet on the board VM), and the smallest
heap (of those tried) with which the door pairs two phones and rings them. Host figures: an
ESP32 is slower (bench_e2e has the per-operation ratios)."""

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "host"))

import benchlib  # noqa: E402

from portier_host import paths, pki  # noqa: E402

paths.use_firmware()

import test_app_link as T  # noqa: E402  (the host test's devices and provisioning)
from minisb import MiniSwitchboard, server_tls  # noqa: E402


def _ticks(lines, pred):
    for d in lines:
        if pred(d):
            return d["t"]
    return None


async def scenario(ca, tmp, heap):
    from portier import app, config
    from portier.hal.vdoor import VirtualDoor

    bundles, secrets = T._provision_door(tmp / "door")
    sb = await MiniSwitchboard(server_tls(ca, pki.issue_server(ca), tmp), bundles={T.DOOR: bundles}).start()
    door_cfg = T._config(ca, T.DOOR, tmp, sb.port, secrets=secrets)
    door = T.Device("micropython", door_cfg, tmp)
    door.heap = heap
    await door.start()
    phones, tasks = [], []
    out = {"heap": heap}
    try:
        ready = await door.wait(lambda d: d.get("msg") == "ready", timeout=30)
        out["connect_ms"] = ready["connect_ms"]
        for jid in (T.ANNA, T.BEN):
            cfg = config.check(T.authorised(T._config(ca, jid, tmp, sb.port, pair_with=[T.DOOR],
                                                      profile="phone", control="none")))
            p = app.App(cfg, VirtualDoor({}), log=lambda *a: None)
            phones.append(p)
            tasks.append(asyncio.create_task(p.run()))
        for jid in (T.ANNA, T.BEN):
            await door.wait(lambda d, j=jid: d.get("msg") == "paired" and d["device"] == j, timeout=60)
        t_in = _ticks(door.lines, lambda d: d.get("msg") == "in" and d.get("tag") == "pair")
        t_out = _ticks(door.lines, lambda d: d.get("msg") == "out" and d.get("tag") == "pair")
        out["pair_ms"] = t_out - t_in
        t0 = time.monotonic()
        await door.send("press")
        await sb.wait_for(lambda j, node: node.tag == "call" and node.content[0].tag == "offer")
        out["press_to_offer_ms"] = round((time.monotonic() - t0) * 1000, 1)
        call_id = "C3" * 16
        await sb.send(T.DOOR, T._offer_from_anna(call_id))  # busy now: answered with busy
        await door.wait(lambda d: d.get("msg") == "in" and d.get("call-id") == call_id)
        await door.send("hangup")
        await door.wait(T._event("ended"))
        t_in = _ticks(door.lines, lambda d: d.get("msg") == "in" and d.get("call-id") == call_id)
        t_rej = _ticks(door.lines, lambda d: d.get("msg") == "out" and d.get("action") == "reject"
                       and d.get("call-id") == call_id)
        out["offer_to_busy_ms"] = None if t_rej is None else t_rej - t_in
        out["ok"] = True
    except AssertionError as e:
        out["ok"] = False
        out["error"] = str(e).splitlines()[-1][:100]
    finally:
        for p in phones:
            p.quit()
        for t in tasks:
            await asyncio.wait_for(t, 10)
        await door.stop()
        await sb.close()
    return out


MPY_TREE = os.path.join(paths.REPO, "build", "bench-app-mpy")


def run(quick=False, heaps=None):
    from portier_host import build

    errors = build.host_image(paths.FIRMWARE, MPY_TREE)  # as deployed: .mpy, no compiler
    if errors:
        raise SystemExit("\n".join(errors))
    ca = pki.new_ca()
    orig_start = T.Device.start

    async def start(self):  # the bench's heap size on the micropython command line
        if getattr(self, "heap", None):
            code = ("import sys; sys.path.insert(0, %r); import portier.app; "
                    "portier.app.main(['main.py', %r])" % (MPY_TREE, str(self.path)))
            self.proc = await asyncio.create_subprocess_exec(
                paths.micropython_exe(), "-X", "heapsize=" + self.heap, "-c", code, cwd=paths.REPO, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            self._reader = asyncio.create_task(self._read())
            return self
        return await orig_start(self)

    T.Device.start = start
    rows, figures = [], {}
    for heap in heaps or (("384k",) if quick else ("256k", "320k", "384k", "512k")):
        with tempfile.TemporaryDirectory() as d:
            r = asyncio.run(scenario(ca, Path(d), heap))
        rows.append([r["heap"], "yes" if r["ok"] else "no", r.get("connect_ms", "-"),
                     r.get("pair_ms", "-"), r.get("press_to_offer_ms", "-"),
                     r.get("offer_to_busy_ms", "-"), r.get("error", "")])
        if r["ok"] and "pair_ms" not in figures:
            figures["door_pair_ms"] = benchlib.figure(
                r["pair_ms"], "ms", "<pair> -> pair_result inside the door (X3DH responder + "
                "ratchet), %s heap" % heap, "host MicroPython")
            figures["door_press_to_offer_ms"] = benchlib.figure(
                r["press_to_offer_ms"], "ms", "press -> offer at the switchboard, %s heap" % heap,
                "door on host MicroPython, loopback TLS")
    table = benchlib.table(
        "Door app against a miniature switchboard (one run per heap size)",
        ["heap", "ok", "connect ms", "pair ms", "press->offer ms", "offer->busy ms", "error"],
        rows, ["door: real MicroPython, 64-bit unix port, firmware precompiled with mpy-cross; "
               "phones: CPython in the bench process; bench_call has the heap fit"])
    return benchlib.result("app", "Door app: connect, pair, press -> offer", __doc__, [table],
                           figures)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
