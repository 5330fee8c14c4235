"""Switchboard capacity on this machine (issue 14). One switchboard process (`portier
switchboard --limits building`, its relay in-process, mutual TLS) and lightweight simulated
households in the bench process (asyncio TLS clients, a door and three phones each, devices
entered in the database directly). Measured: logins per second and the switchboard's memory per
logged-in link; ring latency (the door's offer out -> the last of its three phones has it) and
call set-up (offer -> the door has the phone's accept) at rising call rates; relay packets per
second (one leg sending 172-byte SRTP-sized datagrams as fast as it can, counted where the other
leg receives them); then ring latency, a logged-in device's ping and the switchboard's memory
again with a flood process beside it: 3,000 TCP connections that never start TLS (from 188
loopback addresses, re-opened when closed) and one valid leg token re-bound from 400 rotating
ports as fast as it goes. The two flood processes run at nice 10: an attacker's CPU is its own
machine's, and on these 2 shared cores it would otherwise take the switchboard's."""

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "host"))

import benchlib  # noqa: E402
from portier_host import paths, pki, provisioning  # noqa: E402
from portier_host.switchboard_db import Database  # noqa: E402
from sbclient import Client  # noqa: E402

paths.use_firmware()
from portier.signaling import linkstanzas as ls  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.wire import relaybind  # noqa: E402

PHONES = ("a", "b", "c")
GOAL_MS = 150.0

_FLOOD = r"""
import socket, sys, time, selectors
from portier.wire import relaybind
mode, port, rport, token, answerer, seconds, n_idle = sys.argv[1:8]
port, rport, seconds, n_idle = int(port), int(rport), float(seconds), int(n_idle)
end = time.monotonic() + seconds
opened = closed = binds = 0
if mode == "connections":  # n_idle TCP connections that never start TLS, re-opened when closed
    sel = selectors.DefaultSelector()
    def connect(i):
        global opened
        s = socket.socket()
        s.setblocking(False)
        s.bind(("127.1.%d.%d" % (1 + i // 16 // 250, 1 + (i // 16) % 250), 0))
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        sel.register(s, selectors.EVENT_READ, i)
        opened += 1
    for i in range(n_idle):
        connect(i)
    while time.monotonic() < end:
        for key, _ in sel.select(0.05):
            s = key.fileobj
            try:
                data = s.recv(100)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                closed += 1
                connect(key.data)
else:  # one valid leg token re-bound from 400 rotating ports, as fast as it goes
    binder = relaybind.Binder(bytes.fromhex(token), answerer)
    buf = bytearray(relaybind.BIND_LEN)
    udp = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(400)]
    for u in udp:
        u.bind(("127.0.0.1", 0))
        u.setblocking(False)
    k = 0
    while time.monotonic() < end:
        n = binder.bind_into(buf)
        try:
            udp[k % 400].sendto(bytes(buf[:n]), ("127.0.0.1", rport))
            binds += 1
        except OSError:
            time.sleep(0.001)
        k += 1
print(opened, closed, binds, flush=True)
"""

def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_s(pid):
    """User + system CPU seconds the process has used."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


class World:
    """H households on one CA, registered straight into the database (the switchboard never
    looks at bundle signatures), each device with its own certificate."""

    def __init__(self, folder, households):
        self.hh = provisioning.create_household("bench", folder=os.path.join(folder, "hh"))
        self.db_path = os.path.join(folder, "sb.db")
        db = Database(self.db_path)
        provisioning.register_household(db, self.hh)
        self.names = []
        self.ctx = {}
        ca_der, ca_pem = self.hh.ca_der(), self.hh.ca_pem().decode()
        for h in range(households):
            name = "h%d" % h
            db.add_household(name, ca_der)
            jids = ["door:1@" + name] + ["%s:1@%s" % (p, name) for p in PHONES]
            for jid in jids:
                db.add_device(jid, 1, b"\x05" + os.urandom(32), 1, b"\x05" + os.urandom(32),
                              bytes(64))
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.load_verify_locations(cadata=ca_pem)
                provisioning._load_chain(ctx, pki.issue_device(self.hh.ca, jid))
                self.ctx[jid] = ctx
            self.names.append(jids)
        db.close()


def _start_switchboard(world, folder):
    proc = subprocess.Popen(
        [sys.executable, "-m", "portier_host.cli", "switchboard", "--provisioning",
         os.path.join(folder, "hh"), "--db", world.db_path, "--port", "0", "--relay-port", "0",
         "--limits", "building"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # "switchboard: listening on H:P, relay udp H:P"
    words = line.replace(",", " ").split()
    port = int(words[3].rsplit(":", 1)[1])
    rport = int(words[6].rsplit(":", 1)[1])
    return proc, port, rport


class Household:
    def __init__(self, jids, clients):
        self.door, self.phones = clients[0], clients[1:]
        self.door_jid, self.phone_jids = jids[0], jids[1:]
        self.n = 0

    async def call(self):
        """One call: offer, every phone rings, the first answers, the door ends it.
        -> (ring ms, set-up ms, the caller's relay token, the answering leg's token)."""
        self.n += 1
        cid = "%016X%016X" % (id(self) & 0xFFFFFFFFFFFF, self.n)
        offer = st.Stanza("offer", call_id=cid, call_creator=self.door_jid,
                          audio=list(st.PORTIER_AUDIO), to="household@" + self.door_jid.split("@")[1],
                          stanza_id="S%d" % self.n,
                          destination=[(j, st.enc(b"k" * 120, "msg")) for j in self.phone_jids])
        t0 = time.perf_counter()
        self.door.send(offer.to_node())
        offers = [await p.recv_call() for p in self.phones]
        ring = (time.perf_counter() - t0) * 1e3
        ack = await self.door.recv_call()
        self.phones[0].send(st.Stanza("accept", call_id=cid, call_creator=self.door_jid,
                                      audio=[st.PORTIER_AUDIO[0]],
                                      to=self.door_jid, stanza_id="A%d" % self.n).to_node())
        await self.door.recv_call()
        setup = (time.perf_counter() - t0) * 1e3
        for j, p in zip(self.phone_jids, self.phones):
            self.door.send(st.Stanza("terminate", call_id=cid, call_creator=self.door_jid,
                                     reason="timeout", to=j, stanza_id="T%d" % self.n).to_node())
            await p.recv_call()
        return ring, setup, ack.relay.tokens[0][1], offers[0].relay.tokens[0][1]


async def _login_all(world, port):
    households = []
    t0 = time.perf_counter()
    for jids in world.names:
        clients = [Client(("127.0.0.1", port), world.ctx[j]) for j in jids]
        await asyncio.gather(*(c.login(j) for c, j in zip(clients, jids)))
        households.append(Household(jids, clients))
    return households, time.perf_counter() - t0


async def _touch(households):
    """A ping on every link, so none is closed idle between phases."""
    for h in households:
        await asyncio.gather(*(c.barrier() for c in [h.door] + h.phones))


async def _at_rate(households, rate, seconds):
    """Start a call every 1/rate s on the next idle household. -> ring, set-up lists, calls."""
    rings, setups, busy = [], [], set()
    tasks = []

    async def one(h):
        busy.add(h)
        try:
            ring, setup, _, _ = await h.call()
            rings.append(ring)
            setups.append(setup)
        finally:
            busy.discard(h)

    t_end = time.perf_counter() + seconds
    i = 0
    nxt = time.perf_counter()
    while time.perf_counter() < t_end:
        h = households[i % len(households)]
        i += 1
        if h in busy:
            continue
        tasks.append(asyncio.ensure_future(one(h)))
        nxt += 1.0 / rate
        await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
    await asyncio.gather(*tasks)
    return rings, setups, len(tasks)


async def _pings(client, seconds):
    rtts = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        await client.barrier()
        rtts.append((time.perf_counter() - t) * 1e3)
        await asyncio.sleep(0.02)
    return rtts


def _bind(sock, rport, token, answerer=None):
    binder = relaybind.Binder(token, answerer)
    buf = bytearray(relaybind.BIND_LEN)
    for _ in range(3):
        n = binder.bind_into(buf)
        sock.sendto(bytes(buf[:n]), ("127.0.0.1", rport))
        data = sock.recv(200)
        if binder.answer(bytearray(data), len(data)) == relaybind.BOUND:
            return
    raise SystemExit("relay bind failed")


def _relay_pps(rport, caller_token, callee_token, answerer, seconds):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for s in (a, b):
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    _bind(a, rport, caller_token, answerer)
    _bind(b, rport, callee_token)
    got = [0]
    stop = threading.Event()

    def receive():
        b.settimeout(0.2)
        while not stop.is_set():
            try:
                b.recv(2048)
                got[0] += 1
            except OSError:
                pass

    t = threading.Thread(target=receive)
    t.start()
    pkt = b"\x80\x00" + os.urandom(170)
    sent = 0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        for _ in range(50):
            a.sendto(pkt, ("127.0.0.1", rport))
        sent += 50
        time.sleep(0.0005)
    time.sleep(0.3)
    stop.set()
    t.join()
    a.close()
    b.close()
    return got[0] / seconds, sent / seconds


async def bench(world, folder, quick):
    proc, port, rport = _start_switchboard(world, folder)
    rows, figs = [], {}
    try:
        rss0 = _rss_kib(proc.pid)
        households, login_s = await _login_all(world, port)
        links = 4 * len(households)
        await asyncio.sleep(0.5)
        rss1 = _rss_kib(proc.pid)
        per_link = (rss1 - rss0) / links
        rows.append(["devices logged in (households x 4)", links, "-", "-", "-"])
        rows.append(["logins per second (TLS + hello -> ready)", round(links / login_s), "-", "-", "-"])
        rows.append(["switchboard RSS per logged-in link (KiB)", round(per_link, 1), "-", "-", "-"])
        figs["links"] = benchlib.figure(links, "links", "devices logged in at once", "CPython")
        figs["kib_per_link"] = benchlib.figure(round(per_link, 1), "KiB",
                                               "switchboard memory per logged-in link", "CPython")
        work = households[:-1]  # the last one makes the call whose token the flood re-binds
        rates = (10,) if quick else (20, 50, 100, 200)
        best = None
        for rate in rates:
            await _touch(households)
            rings, setups, calls = await _at_rate(work, rate, 1.0 if quick else 5.0)
            p99 = pct(rings, 0.99)
            rows.append(["ring latency at %d calls/s offered (%d calls)" % (rate, calls),
                         round(pct(rings, 0.5), 1), round(pct(rings, 0.95), 1), round(p99, 1),
                         round(pct(setups, 0.5), 1)])
            if p99 <= GOAL_MS:
                best = (rate, calls / (1.0 if quick else 5.0))
        if best is not None:
            figs["calls_per_s"] = benchlib.figure(round(best[1], 1), "calls/s",
                                                  "calls set up per second with ring p99 <= 150 ms",
                                                  "CPython", goal="p99 ring <= 150 ms", met=True)
        await _touch(households)
        ring, _, caller_tok, callee_tok = await households[-1].call()
        fwd, offered = await asyncio.get_running_loop().run_in_executor(
            None, _relay_pps, rport, caller_tok, callee_tok, households[-1].phone_jids[0],
            1.0 if quick else 3.0)
        rows.append(["relay: datagrams forwarded per second (offered %d/s)" % offered,
                     round(fwd), "-", "-", "-"])
        rows.append(["relay: calls with audio both ways at that rate (100 pkt/s each)",
                     int(fwd // 100), "-", "-", "-"])
        figs["relay_pps"] = benchlib.figure(round(fwd), "pkt/s", "relay datagrams forwarded",
                                            "CPython")

        # baseline, then the same with the flood beside it
        rate = 10 if quick else 50
        seconds = 1.5 if quick else 8.0
        await _touch(households)
        quiet = work[-1]
        ping_task = asyncio.ensure_future(_pings(quiet.phones[2], seconds))
        cpu0, t0 = _cpu_s(proc.pid), time.perf_counter()
        rings0, _, _ = await _at_rate(work[:-1] or work, rate, seconds)
        pings0 = await ping_task
        load0 = (_cpu_s(proc.pid) - cpu0) / (time.perf_counter() - t0) * 100
        rss_before = _rss_kib(proc.pid)
        await _touch(households)
        ring_fresh, _, caller_tok, _ = await households[-1].call()
        n_idle = 100 if quick else 3000
        floods = [subprocess.Popen(
            [sys.executable, "-c", _FLOOD, mode, str(port), str(rport), caller_tok.hex(),
             households[-1].phone_jids[0], str(seconds + 4), str(n_idle)],
            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.nice(10),
            env=dict(os.environ, PYTHONPATH=os.pathsep.join([paths.MPSHIM, paths.FIRMWARE])))
            for mode in ("connections", "binds")]
        await asyncio.sleep(2.0)  # the flood is at full strength
        rss_peak = [0]

        async def sample():
            while True:
                rss_peak[0] = max(rss_peak[0], _rss_kib(proc.pid))
                await asyncio.sleep(0.25)

        sampler = asyncio.ensure_future(sample())
        ping_task = asyncio.ensure_future(_pings(quiet.phones[2], seconds))
        cpu0, t0 = _cpu_s(proc.pid), time.perf_counter()
        rings1, _, _ = await _at_rate(work[:-1] or work, rate, seconds)
        pings1 = await ping_task
        load1 = (_cpu_s(proc.pid) - cpu0) / (time.perf_counter() - t0) * 100
        sampler.cancel()
        outs = [await asyncio.get_running_loop().run_in_executor(None, f.communicate)
                for f in floods]
        opened, closed, _ = (int(x) for x in outs[0][0].split())
        binds = int(outs[1][0].split()[2])
        rows.append(["ring latency at %d calls/s, quiet" % rate, round(pct(rings0, 0.5), 1),
                     round(pct(rings0, 0.95), 1), round(pct(rings0, 0.99), 1), "-"])
        rows.append(["ring latency at %d calls/s, flood beside it" % rate,
                     round(pct(rings1, 0.5), 1), round(pct(rings1, 0.95), 1),
                     round(pct(rings1, 0.99), 1), "-"])
        rows.append(["another device's ping, quiet", round(pct(pings0, 0.5), 1),
                     round(pct(pings0, 0.95), 1), round(pct(pings0, 0.99), 1), "-"])
        rows.append(["another device's ping, flood beside it", round(pct(pings1, 0.5), 1),
                     round(pct(pings1, 0.95), 1), round(pct(pings1, 0.99), 1), "-"])
        rows.append(["flood: connections it keeps open / opened in all / closed by the switchboard",
                     "%d / %d / %d" % (n_idle, opened, closed), "-", "-", "-"])
        rows.append(["flood: re-binds of one leg token from 400 ports, per second",
                     round(binds / (seconds + 4)), "-", "-", "-"])
        rows.append(["switchboard CPU, quiet / flood beside it (% of one core)",
                     "%.0f / %.0f" % (load0, load1), "-", "-", "-"])
        rows.append(["switchboard RSS before the flood / peak during it (MiB)",
                     "%.1f / %.1f" % (rss_before / 1024, rss_peak[0] / 1024), "-", "-", "-"])
        p95 = pct(rings1, 0.95)
        figs["flood_ring_p95"] = benchlib.figure(
            round(p95, 1), "ms", "another household's ring latency p95 with %d idle connections "
            "and a bind flood" % n_idle, "CPython", goal="<= 150 ms", met=p95 <= GOAL_MS)
        figs["flood_rss_growth"] = benchlib.figure(
            round((rss_peak[0] - rss_before) / 1024, 1), "MiB",
            "switchboard memory growth during the flood", "CPython")
        for h in households:
            for c in [h.door] + h.phones:
                c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return rows, figs


def run(quick=False):
    folder = tempfile.mkdtemp(prefix="portier-bench-capacity-")
    try:
        world = World(folder, 4 if quick else 250)
        rows, figs = asyncio.run(bench(world, folder, quick))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    table = benchlib.table(
        "One switchboard process, households of a door and 3 phones on loopback (ms unless "
        "stated: median, p95, p99, and call set-up median)",
        ["what", "median / value", "p95", "p99", "set-up ms"], rows,
        notes=["ring latency: the door's offer sent -> the last of its 3 phones has it; set-up: "
               "-> the door has the accept. The bench's clients share the 2 cores with the "
               "switchboard and the flood process.",
               "calls with audio: derived from the relay's forwarding rate (one process, one "
               "core), not measured with that many calls."])
    return benchlib.result("capacity", "Switchboard capacity and floods", __doc__, [table], figs)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
