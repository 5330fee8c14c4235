"""Switchboard on loopback with mutual TLS: provisioning cost, routing latency (CPython
devices), offer fan-out to 3 devices, and a real MicroPython board's login and ping round trip."""

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "host"))

import benchlib  # noqa: E402
from portier_host import paths, provisioning  # noqa: E402
from portier_host.switchboard import Switchboard  # noqa: E402
from sbclient import Client  # noqa: E402

paths.use_firmware()
from portier.signaling import stanzas as st  # noqa: E402

ROUNDS = 300
PHONES = ("anna:1@home", "anna:2@home", "ben:1@home")

_MP = r"""
import sys
sys.path.insert(0, %(firmware)r)
import asyncio, ssl, time
from portier.signaling import linkstanzas as ls
from portier.wire import stanza as wire
from portier.wire.framing import FrameDecoder, encode_frame

async def main():
    t0 = time.ticks_us()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=open(%(ca)r, "rb").read())
    ctx.load_cert_chain(open(%(cert)r, "rb").read(), open(%(key)r, "rb").read())
    r, w = await asyncio.open_connection("127.0.0.1", %(port)d, ssl=ctx, server_hostname="localhost")
    w.write(encode_frame(wire.encode(ls.hello(%(jid)r))))
    await w.drain()
    dec = FrameDecoder()
    buf = bytearray(256)
    async def one():
        while True:
            f = dec.next_frame()
            if f is not None:
                return ls.parse(wire.decode(f))
            n = await r.readinto(buf)
            dec.feed(buf, n)
    assert (await one()).kind == "ready"
    login = time.ticks_diff(time.ticks_us(), t0)
    rtts = []
    for i in range(50):
        t = time.ticks_us()
        w.write(encode_frame(wire.encode(ls.ping("p%%d" %% i))))
        await w.drain()
        assert (await one()).kind == "pong"
        rtts.append(time.ticks_diff(time.ticks_us(), t))
    rtts.sort()
    print(login, rtts[len(rtts) // 2], rtts[len(rtts) * 9 // 10])
    w.close()

asyncio.run(main())
"""


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


async def bench(folder, hh, devices, rounds=ROUNDS):
    sb = Switchboard(os.path.join(folder, "sb.db"), ssl_context=hh.server_ssl_context())
    await sb.start("127.0.0.1", 0)
    rows = []
    try:
        door = Client(sb.address, devices["door:1@home"].client_ssl_context())
        t0 = time.perf_counter()
        await door.login("door:1@home")
        rows.append(("CPython device: TLS connect + hello -> ready", (time.perf_counter() - t0) * 1e3, None))
        phones = []
        for jid in PHONES:
            c = Client(sb.address, devices[jid].client_ssl_context())
            await c.login(jid)
            phones.append(c)
        routed = []
        for i in range(rounds):
            msg = st.Stanza("terminate", call_id="C%d" % i, call_creator="door:1@home", to=PHONES[0],
                            stanza_id="T%d" % i)
            t = time.perf_counter()
            door.send(msg.to_node())
            await phones[0].recv()
            routed.append((time.perf_counter() - t) * 1e3)
        rows.append(("route door -> phone (terminate)", statistics.median(routed), pct(routed, 0.95)))
        fan, ack = [], []
        for i in range(rounds // 3):
            offer = st.Stanza("offer", call_id="O%d" % i, call_creator="door:1@home",
                              audio=list(st.PORTIER_AUDIO), to="household@home", stanza_id="S%d" % i,
                              destination=[(j, st.enc(os.urandom(120), "msg")) for j in PHONES])
            t = time.perf_counter()
            door.send(offer.to_node())
            for p in phones:
                await p.recv()
            fan.append((time.perf_counter() - t) * 1e3)
            await door.recv()
            ack.append((time.perf_counter() - t) * 1e3)
        rows.append(("offer fan-out: last of 3 phones has it", statistics.median(fan), pct(fan, 0.95)))
        rows.append(("offer: caller has the ack with relay block", statistics.median(ack), pct(ack, 0.95)))

        board = devices["door:2@home"]
        files = {}
        for name, data in (("ca", board.ca_der), ("cert", board.cert_der), ("key", board.key_der)):
            files[name] = os.path.join(folder, name + ".der")
            with open(files[name], "wb") as f:
                f.write(data)
        script = os.path.join(folder, "mp.py")
        with open(script, "w") as f:
            f.write(_MP % dict(files, firmware=paths.FIRMWARE, port=sb.address[1], jid=board.jid))
        proc = await asyncio.create_subprocess_exec(
            paths.micropython_exe(), "-X", "heapsize=256k", script,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        if proc.returncode:
            raise SystemExit("micropython failed: %s" % err.decode())
        login_us, med_us, p90_us = (int(x) for x in out.split())
        rows.append(("MicroPython board: TLS connect + hello -> ready", login_us / 1e3, None))
        rows.append(("MicroPython board: ping -> pong (p50, p90)", med_us / 1e3, p90_us / 1e3))
        for c in phones + [door]:
            c.close()
    finally:
        await sb.close()
    return rows


def run(quick=False):
    folder = tempfile.mkdtemp(prefix="portier-bench-sb-")
    try:
        db = os.path.join(folder, "sb.db")
        hh = provisioning.create_household("home")
        devices = {}
        t = time.perf_counter()
        for name in ("door", "anna", "anna", "ben", "door"):
            d = provisioning.add_device(hh, name, db=db, prekeys=20)
            devices[d.jid] = d
        per_device = (time.perf_counter() - t) * 1e3 / 5
        rows = asyncio.run(bench(folder, hh, devices, 30 if quick else ROUNDS))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = [["provision one device (cert, XEdDSA, 20 prekeys)", per_device, "-"]]
    for name, med, p95 in rows:
        out.append([name, med, "-" if p95 is None else p95])
    table = benchlib.table("Switchboard on loopback, mutual TLS (ms; median, p95)",
                           ["what", "ms", "p95 ms"], out)
    return benchlib.result("switchboard", "Switchboard: provisioning, routing, board login",
                           __doc__, [table])


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
