# Support for tests/host/test_app_boundary.py (not a core test module: a whole App, its engine,
# link and the Signal code an offer's key needs take more than the core suite's 128 KiB heap, so
# the host test runs these checks in MicroPython with more, and in CPython).
#
# The app's one error boundary (portier.app App.guard; issues 14, 16): every input enters the
# one edge loop (App._edge) through its inbox, whichever task saw it; an exception while
# handling one (a stanza from the link, a timer turn, a command, the board's button, an engine
# event) drops that input, is logged once with its cause and counted, and the edge loop, which
# feeds the watchdog every turn, the link's read loop and the command reader go on. The fault used throughout is a call log that cannot
# be written (a full or broken flash: every call's "ended" event raises OSError), together with
# hostile stanzas: a seeded fuzzer builds a few hundred (offers whose key cannot open, offers
# without an id or from overlong JIDs, actions for calls that do not exist, junk unlocks and
# pairings, unknown tags) and sends them through the real link read loop as frames.
import json
import random
import time

import asyncio
from portier import config
from portier.app import App
from portier.hal.board import Board
from portier.net import streams
from portier.signaling import stanzas as st
from portier.wire import stanza as wire
from portier.wire.framing import FrameDecoder, encode_frame

DOOR = "door:1@home"
PHONES = ("anna:2@home", "ben:3@home")
_E2E = "_test_app_boundary_e2e"
_BROKEN_LOG = "_test_app_boundary_no_such_dir/calls.json"  # its folder is never made: OSError


class _Hal(Board):  # no audio device: a call's media fails, the call goes on
    def __init__(self):
        self.fed = 0

    def feed(self):
        self.fed += 1


class _Sent:
    def __init__(self):
        self.n = 0

    async def send(self, node):
        wire.encode(node)  # what the app sends must be sendable
        self.n += 1
        return True


class _Frames:
    """A link stream that delivers the given nodes' frames (made one at a time: a few hundred
    at once would crowd the heap) a few bytes at a time, then ends."""

    def __init__(self, nodes):
        self._nodes = nodes
        self._data = b""
        self._at = 0
        self.sent = 0

    async def readinto(self, buf):
        if self._at == len(self._data):
            node = next(self._nodes, None)
            if node is None:
                return 0
            self._data, self._at = encode_frame(wire.encode(node), 4096), 0
            self.sent += 1
        n = min(len(buf), 300, len(self._data) - self._at)
        buf[0:n] = self._data[self._at:self._at + n]
        self._at += n
        await asyncio.sleep(0)
        return n


_KEPT = ("input dropped", "event", "command refused")


class _WrapOnly:
    def wrap(self, device, call_key):
        return "msg", b"wrapped"


def _app():
    d = {"jid": DOOR, "profile": "door", "household": "home",
         "switchboard": {"host": "127.0.0.1", "port": 5222, "insecure": True},
         "e2e_store": _E2E, "call_log": _BROKEN_LOG, "control": "none",
         "auto_answer": list(PHONES)}
    lines = []
    traced = {"in": 0, "out": 0}

    def log(lvl, src, msg, fields):  # stanza traces counted; what the checks look at kept
        if src == "link" and msg in traced:
            traced[msg] += 1
        elif src == "link" or msg in _KEPT:
            lines.append((lvl, src, msg, fields))

    app = App(config.loads(json.dumps(d)), _Hal(), log=log)
    app.lines, app.traced = lines, traced
    sent = _Sent()
    app.link.send = sent.send
    app.sent = sent
    now = time.ticks_ms()
    app.link.timer.connected(now)
    app.link.timer.ready(now)
    app.link.ready = True
    return app


def _logged(app, msg):
    return [f for (lvl, src, m, f) in app.lines if m == msg]


def _log_write_failed(fields):
    # OSError (MicroPython) or FileNotFoundError (CPython), raised in the atomic write
    return "Error" in fields["error"] and fields["at"].startswith("fsutil.py:")


def _hostile(rng, n):
    """n call stanzas as a compromised switchboard or a household device could send them,
    one at a time."""
    relay = st.Stanza("relay", uuid="R1", self_pid=1, peer_pid=2, key=b"k" * 16, hbh_key=b"h" * 30,
                      tokens=[(0, b"t" * 24)],
                      endpoints=[st.Stanza("te2", address=b"\x7f\x00\x00\x01\x0d\x96")])
    ids = ["C%d" % i for i in range(8)]
    for i in range(n):
        who = rng.choice(PHONES)
        cid = rng.choice(ids)
        kind = rng.randint(0, 9)
        junk = bytes([rng.getrandbits(8) for _ in range(rng.randint(0, 40))])
        if kind <= 2:  # an offer whose key cannot open (auto-answered: the call ends failed)
            s = st.Stanza("offer", call_id=cid, call_creator=who, audio=[("pcmu", 8000)],
                          enc=st.enc(b"\x33" + junk, rng.choice(("msg", "pkmsg"))),
                          relay=relay, stanza_id="S%d" % i, to=DOOR)
            node = s.to_node()
            if kind == 1:  # no stanza id
                del node.attrs["id"]
            elif kind == 2:  # from a JID no device has
                node.attrs["from"] = "e" * rng.randint(90, 200) + ":1@home"
        elif kind <= 5:
            action = rng.choice(("accept", "reject", "terminate", "transport", "preaccept",
                                 "relaylatency"))
            try:
                node = st.Stanza("terminate", call_id=cid, call_creator=rng.choice((DOOR, who)),
                                 reason="timeout", to=DOOR, stanza_id="T%d" % i).to_node()
            except ValueError:
                continue
            node.content[0].tag = action  # another action's shape: malformed or out of place
        elif kind == 6:  # an unlock whose Signal message is junk
            node = st.Stanza("unlock", call_id=cid, call_creator=DOOR, to=DOOR, stanza_id="U%d" % i,
                             enc=st.enc(b"\x33" + junk, "msg")).to_node()
        elif kind == 7:  # a pairing request that is junk
            node = wire.Node("pair", {"id": "P%d" % i, "to": DOOR}, [wire.Node("enc", {"type": "msg"}, junk)])
        elif kind == 8:  # an answer to a question never asked
            node = wire.Node("iq", {"id": "Q%d" % rng.randint(0, 9), "type": "result"}, None)
        else:
            node = wire.Node(rng.choice(("call", "receipt", "ack", "message", "x")),
                             {"id": "Z%d" % i, "to": DOOR}, [wire.Node("offer", {}, None)])
        if "from" not in node.attrs:
            node.attrs["from"] = who
        yield node


def _cleanup():
    import os

    for name in ("identity", "sessions"):
        try:
            os.remove(_E2E + "/" + name)
        except OSError:
            pass


async def _with_edge(app, body):
    """Run the app's edge loop around body(); then a last input, handled once every input
    before it was. -> whether the edge loop was still running then."""
    edge = asyncio.create_task(app._edge())
    try:
        await body()
        done = asyncio.Event()
        app.inbox.put_nowait("end of test", None, done)
        await streams.wait_for_ms(done.wait(), 10000)
        return not edge.done()
    finally:
        app._running = False
        app.inbox.put_nowait("stop")  # wakes the loop, which then ends
        await streams.wait_for_ms(edge, 2000)


def check_hostile_stanzas_and_a_broken_call_log_never_drop_the_link():
    app = _app()
    stream = _Frames(_hostile(random.Random(14) if hasattr(random, "Random") else _seeded(14), 160))

    async def read():
        await app.link._read_loop(stream, FrameDecoder(4096))

    try:
        assert asyncio.run(_with_edge(app, read))
    finally:
        _cleanup()
    link_lines = [f for (lvl, src, m, f) in app.lines if src == "link"]
    assert not [f for f in link_lines if "error" in f], link_lines[:3]  # "link read" means dropped
    assert app.traced["in"] == stream.sent > 150, (app.traced, stream.sent)  # every frame handled
    dropped = _logged(app, "input dropped")
    failed = [f for f in _logged(app, "event") if f.get("outcome") == "failed"]
    assert failed and len(dropped) == app.faults, (len(failed), len(dropped), app.faults)
    for f in dropped:  # each once, with its cause: the call log's write
        assert f["input"] == "event ended" and _log_write_failed(f), f
    assert app.faults == len(failed)
    assert app.engine.current() is None  # every hostile call ended


def _seeded(seed):  # MicroPython's random is one module-wide generator
    random.seed(seed)
    return random


def check_the_command_reader_survives_a_command_that_fails():
    app = _app()
    app.link.ready = False  # a press now finds no link: a failed call for the broken call log
    lines = [b"press\n", b"hangup\n", b"quit\n"]

    class _Stdin:
        async def readline(self):
            if not lines:
                await asyncio.sleep(60)  # no end of input: only "quit" ends the app
            await asyncio.sleep(0.01)
            return lines.pop(0)

    async def run():
        edge = asyncio.create_task(app._edge())
        reader = asyncio.create_task(app._read_commands())
        await streams.wait_for_ms(edge, 5000)  # ends when "quit" was obeyed
        reader.cancel()

    real = streams.stdin_lines
    streams.stdin_lines = _Stdin
    try:
        asyncio.run(run())
    finally:
        streams.stdin_lines = real
    assert app.faults == 1 and lines == []  # "quit" was read and obeyed
    assert not app._running
    (f,) = _logged(app, "input dropped")
    assert f["input"] == "command press" and _log_write_failed(f), f
    assert _logged(app, "command refused")[0]["cmd"] == "hangup"  # no call: refused, as ever


def check_the_edge_loop_goes_on_feeding_the_watchdog_after_a_timer_turn_fails():
    app = _app()
    # a call whose ring timeout passed long ago: the first turn ends it, and logging it fails
    app.engine.keys = _WrapOnly()  # no Signal session with the phone in this test
    app.engine.place_call("household@home", [PHONES[0]], time.ticks_add(time.ticks_ms(), -60000))
    app.engine.pending()

    async def until_fed():
        for _ in range(500):  # until two turns after the failing one (10 ms steps, 5 s at most)
            await asyncio.sleep(0.01)
            if app.faults and app.hal.fed >= 3:
                return

    assert asyncio.run(_with_edge(app, until_fed))
    assert app.faults == 1 and app.hal.fed >= 3, (app.faults, app.hal.fed)
    assert app.engine.current() is None
    (f,) = _logged(app, "input dropped")
    assert f["input"] == "event ended" and _log_write_failed(f), f


def check_a_button_press_that_fails_is_dropped_and_the_watchdog_still_fed():
    # The board's button comes from the HAL's own task (before issue 16 an exception there was
    # unobserved): now it is an input of the edge loop, dropped, logged and counted like any.
    app = _app()
    app.link.ready = False  # the press finds no link: a failed call for the broken call log

    async def press_then_wait():
        app.inbox.put_nowait("button")  # what hal/vboardio.py and hal/esp32door.py put
        for _ in range(500):
            await asyncio.sleep(0.01)
            if app.faults:
                break
        fed = app.hal.fed
        await asyncio.sleep(0.3)  # the timer turns go on: 100 ms each at most
        assert app.hal.fed > fed, (fed, app.hal.fed)

    assert asyncio.run(_with_edge(app, press_then_wait))
    (f,) = _logged(app, "input dropped")
    assert f["input"] == "button" and _log_write_failed(f), f
    assert app.faults == 1


def check_a_long_press_whose_status_fails_is_dropped():
    # The long press asks the board for its status line: a board whose status() raises must
    # not end the edge loop (and with it the watchdog's feeding).
    app = _app()

    def broken_status():
        raise OSError("status unreadable")

    app.hal.status = broken_status

    async def long_press():
        app.inbox.put_nowait("long press")  # what the boards put (hal/board.py LONG_PRESS)
        for _ in range(500):
            await asyncio.sleep(0.01)
            if app.faults:
                return

    assert asyncio.run(_with_edge(app, long_press))
    (f,) = _logged(app, "input dropped")
    assert f["input"] == "long press" and "status unreadable" in f["error"], f


CHECKS = (check_hostile_stanzas_and_a_broken_call_log_never_drop_the_link,
          check_the_command_reader_survives_a_command_that_fails,
          check_the_edge_loop_goes_on_feeding_the_watchdog_after_a_timer_turn_fails,
          check_a_button_press_that_fails_is_dropped_and_the_watchdog_still_fed,
          check_a_long_press_whose_status_fails_is_dropped)


def main():
    for check in CHECKS:
        check()
        print("passed", check.__name__)
