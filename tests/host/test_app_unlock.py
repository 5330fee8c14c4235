"""Door unlock end to end (docs/protocol.md section 10): the door app (real MicroPython, and
CPython through the shim) and two phones (portier.app, phone profile, in this process) over the
loopback mini switchboard, with real Signal sessions from pairing. The answering phone's right
PIN pulses the strike for pulse_s and is logged; before the answer, from the other rung phone,
forged by the switchboard, replayed in the same call, after hang-up and in a later call, and
during a lockout, the door refuses, logs, and never touches the relay."""

import asyncio
import json
import os
import sys
import time

import pytest

from portier_host import paths, pki

paths.use_firmware()

from portier import unlock as ul  # noqa: E402
from portier.e2e import session  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.wire import stanza as wire  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from minisb import MiniSwitchboard, server_tls  # noqa: E402
from test_app_link import (Device, _config, _event, _provision_door, _until,  # noqa: E402
                           print_phone_logs, start_paired_phones, stop_all)

DOOR = "door:1@home"
ANNA = "anna:2@home"
BEN = "ben:3@home"
PIN = "2468"
SALT = bytes(range(16))


def _unlock_node(store, call, counter, pin=PIN):
    """An <unlock> made with a phone's own session, as a device (not its engine) would make it:
    its age counted from when this phone saw the call answered (0 while it rings)."""
    age = 0 if call.answered_ms is None else time.ticks_diff(time.ticks_ms(), call.answered_ms)
    enc_type, ct = session.encrypt(store, DOOR, ul.encode_request(call.id, counter, pin, age))
    return st.Stanza("unlock", call_id=call.id, call_creator=call.creator, enc=st.enc(ct, enc_type),
                     to=DOOR, stanza_id="X%d" % counter).to_node()


def _as_from(node, jid):
    """The stanza as the switchboard delivers it, `from` stamped (or forged) to jid."""
    copy = wire.decode(wire.encode(node))
    copy.attrs["from"] = jid
    return copy


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_unlock_only_by_the_answerer_with_the_pin(tmp_path, runtime):
    ca = pki.new_ca()

    async def body():
        # the PIN's verifier as `portier provision` writes it (the bundle writer): the door's
        # own check must take it
        bundles, secrets = _provision_door(tmp_path / "door", pin=PIN, salt=SALT)
        sb = await MiniSwitchboard(server_tls(ca, pki.issue_server(ca), tmp_path),
                                   bundles={DOOR: bundles}).start()
        door_cfg = _config(ca, DOOR, tmp_path, sb.port, profile="door", unlock={"pulse_s": 1},
                           secrets=secrets, door_log=str(tmp_path / "door-log.json"))
        door = await Device(runtime, door_cfg, tmp_path).start()
        phones, tasks, logs = {}, [], {ANNA: [], BEN: []}

        def refused(reason, since):
            return door.wait(lambda d: door.lines.index(d) >= since and d.get("msg") == "unlock refused"
                             and d.get("reason") == reason)

        async def phone_result(jid, result, since):
            """The first unlock result at or after logs[jid][since] (it must be `result`), and
            the position after it."""
            def first():
                for i in range(since, len(logs[jid])):
                    if logs[jid][i].get("msg") == "unlock result":
                        return i
                return None
            await _until(lambda: first() is not None)
            i = first()
            assert logs[jid][i]["result"] == result, logs[jid][i]
            return logs[jid][i], i + 1

        try:
            await door.wait(lambda d: d.get("msg") == "ready")
            await start_paired_phones(ca, tmp_path, sb.port, door, phones, logs, tasks)
            anna, ben = phones[ANNA], phones[BEN]

            # ringing: no answered call yet, at either end
            await door.send("press")
            await _until(lambda: all(p.engine.current() is not None for p in phones.values()))
            n = len(door.lines)
            await anna.command("unlock", [PIN])  # the phone itself refuses: nothing answered
            assert any(x.get("msg") == "command refused" and x["cmd"] == "unlock" for x in logs[ANNA])
            m = len(logs[ANNA])
            await sb.send(DOOR, _as_from(_unlock_node(anna.store, anna.engine.current(), 100), ANNA))
            await refused("no_call", n)
            res, m = await phone_result(ANNA, "refused", m)  # the door's answer goes to `from`
            assert res["reason"] == "no_call"

            await anna.command("answer")
            await door.wait(_event("media"))
            await _until(lambda: anna.engine.answered_call() is not None)
            call = anna.engine.answered_call()
            # Anna's request, made now and withheld by the switchboard until the end (10.3)
            withheld, t_made = _unlock_node(anna.store, call, 90), time.monotonic()
            await _until(lambda: ben.engine.current() is None)  # accepted_elsewhere
            # Ben was rung for the same call, but did not answer; the switchboard relabelling his
            # stanza as Anna's does not help, since Anna's session does not open it
            bens = _unlock_node(ben.store, call, 1)
            n = len(door.lines)
            await sb.send(DOOR, _as_from(bens, BEN))
            await refused("not_answerer", n)
            await sb.send(DOOR, _as_from(bens, ANNA))
            await refused("bad_message", n)
            res, m = await phone_result(ANNA, "refused", m)
            assert res["reason"] == "bad_message"
            # malformed (two <enc>) and oversized (a 3000-byte <enc>) stanzas: dropped with a
            # clear error, or refused before decryption; no state is written
            bad = _as_from(bens, ANNA)
            bad.content[0].content.append(bad.content[0].content[0])
            await sb.send(DOOR, bad)
            await door.wait(lambda d: door.lines.index(d) >= n and d.get("msg") == "bad call stanza"
                            and "out of order" in d["error"])
            huge = st.Stanza("unlock", call_id=call.id, call_creator=call.creator, to=DOOR,
                             enc=st.enc(b"\x33" * 3000, "msg"), stanza_id="BIG").to_node()
            n = len(door.lines)
            await sb.send(DOOR, _as_from(huge, ANNA))
            await refused("bad_message", n)
            res, m = await phone_result(ANNA, "refused", m)
            assert not (tmp_path / "door" / "keys" / "unlock.json").exists()

            # Anna: a wrong PIN, then the right one
            await anna.command("unlock", ["1111"])
            res, m = await phone_result(ANNA, "wrong_pin", m)
            assert res["reason"] == "wrong_pin" and res["retry_after_s"] is None
            n = len(door.lines)
            await anna.command("unlock", [PIN])
            res, m = await phone_result(ANNA, "opened", m)
            assert res["peer"] == DOOR and res["call_id"] == call.id
            opened = await door.wait(lambda d: door.lines.index(d) >= n and d.get("msg") == "unlocked")
            assert opened["peer"] == ANNA and opened["call_id"] == call.id
            on = await door.wait(lambda d: d.get("msg") == "relay" and d.get("energised") is True)
            assert on["pulse_ms"] == 1000
            off = await door.wait(lambda d: d.get("msg") == "relay" and d.get("energised") is False)
            assert 900 <= off["t"] - on["t"] <= 1500  # released when the pulse ends

            # the switchboard replays the stanza that opened: the ratchet has consumed it
            _, captured = [(j, x) for j, x in sb.received if j == ANNA and x.tag == "call"
                           and x.content[0].tag == "unlock"][-1]
            n = len(door.lines)
            await sb.send(DOOR, _as_from(captured, ANNA))
            await refused("bad_message", n)
            res, m = await phone_result(ANNA, "refused", m)  # the door's answer goes to Anna
            assert res["reason"] == "bad_message"

            # brute force: the third wrong PIN locks for 30 s; the right PIN is then refused
            for i in range(3):
                await anna.command("unlock", ["0000"])
                res, m = await phone_result(ANNA, "wrong_pin", m)
            assert res["retry_after_s"] == 30
            await anna.command("unlock", [PIN])
            res, m = await phone_result(ANNA, "locked_out", m)
            assert 1 <= res["retry_after_s"] <= 30 and res["reason"] == "locked_out"
            # the withheld request, delivered more than FRESH_MS after it was made: stale
            await asyncio.sleep(ul.FRESH_MS / 1000 + 0.5 - (time.monotonic() - t_made))
            n = len(door.lines)
            await sb.send(DOOR, _as_from(withheld, ANNA))
            await refused("stale", n)
            res, m = await phone_result(ANNA, "refused", m)
            assert res["reason"] == "stale"

            await anna.command("hangup")
            await door.wait(_event("ended"))
            n = len(door.lines)
            await sb.send(DOOR, _as_from(captured, ANNA))  # after the hang-up
            await refused("no_call", n)

            # a later call: the captured stanza names the old call
            await door.send("press")
            await _until(lambda: anna.engine.current() is not None
                         and anna.engine.current().id != call.id)
            await anna.command("answer")
            await _until(lambda: anna.engine.answered_call() is not None)
            n = len(door.lines)
            await sb.send(DOOR, _as_from(captured, ANNA))
            await refused("wrong_call", n)
            await anna.command("hangup")
            await door.wait(lambda d: door.lines.index(d) >= n and _event("ended")(d))
        except BaseException:
            print_phone_logs(logs)
            raise
        finally:
            await stop_all(door, sb, phones, tasks)
        relays = [d for d in door.lines if d.get("msg") == "relay" and d.get("energised")]
        assert len(relays) == 1  # only the right PIN from the answerer, outside a lockout
        log = json.loads((tmp_path / "door-log.json").read_text())
        events = [(e["event"], e.get("reason")) for e in log["entries"]]
        assert events == [("unlock_refused", "no_call"), ("unlock_refused", "not_answerer"),
                          ("unlock_refused", "bad_message"), ("unlock_refused", "bad_message"),
                          ("unlock_refused", "wrong_pin"),
                          ("unlocked", "pin_ok"), ("unlock_refused", "bad_message"),
                          ("unlock_refused", "wrong_pin"), ("unlock_refused", "wrong_pin"),
                          ("unlock_refused", "wrong_pin"), ("unlock_refused", "locked_out"),
                          ("unlock_refused", "stale"),
                          ("unlock_refused", "no_call"), ("unlock_refused", "wrong_call")], events
        assert all(e["time"] > 1700000000 and e["peer"] in (ANNA, BEN) for e in log["entries"])
        state = json.loads((tmp_path / "door" / "keys" / "unlock.json").read_text())
        assert state["fails"] == 3 and list(state["last"]) == [ANNA]

    asyncio.run(asyncio.wait_for(body(), 150))
