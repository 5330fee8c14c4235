"""Relay legs under attack (issue 13 attack 2; docs/protocol.md section 7): the door (real
firmware on MicroPython) rings two phones through the shipped switchboard and relay; anna
answers. Ben was rung and did not answer: he holds his offer's relay block and, being a
household device, his wrapped call key. He binds relay legs with what he holds (his own leg,
and his token relabelled as other legs), and injects SRTP keyed from the call key as anna. A
stranger on the path replays anna's own bind datagram from another address. None of it may
move anna's leg, reach the door, get the door's audio to them, or decrypt the door's packets
(his call key is not anna's); anna and the door keep hearing each other."""

import asyncio
import os
import socket
import sys

from portier_host import paths

paths.use_firmware()
from portier.e2e import callkey  # noqa: E402
from portier.media import rtp  # noqa: E402
from portier.media.srtp import SrtpContext, SrtpError, derive_master, derive_ssrc  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.wire import relaybind  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from attackrig import Rig, msg_of, until  # noqa: E402


def _udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def _drain(sock):
    got = []
    while True:
        try:
            got.append(sock.recv(2048))
        except BlockingIOError:
            return got


def _offer_to(rig, jid):
    for sender, receiver, node in rig.routed:
        if receiver == jid and node.tag == "call" and node.content[0].tag == "offer":
            return st.parse(node)
    raise AssertionError("no offer routed to %s" % jid)


def _media_received(runner):
    media = runner.app.media
    return 0 if media is None else media.stats.received


def test_rung_device_and_sniffer_cannot_take_the_answered_leg(tmp_path):
    async def body():
        rig = await Rig(phones=2, workdir=str(tmp_path)).start()
        seen = []  # (data, source address) of every datagram the relay got
        core = rig.sb.relay.core
        orig = core.datagram

        def datagram(data, addr, now_s):
            seen.append((bytes(data), addr))
            return orig(data, addr, now_s)

        core.datagram = datagram
        attacker = _udp()
        sniffer = _udp()
        try:
            door = rig.door_jid
            anna_r, ben_r = rig.phones
            anna, ben = anna_r.party.jid, ben_r.party.jid
            await rig.sim.door.command("press")
            await until(lambda: all(p.app.engine.current() is not None for p in rig.phones))
            await anna_r.command("answer")
            await rig.door_wait(lambda d: d.get("msg") == "first audio", what="door first audio")
            await anna_r.party.wait_for(msg_of("first audio"), what="anna first audio")
            await until(lambda: ben_r.app.engine.current() is None)

            offer = _offer_to(rig, ben)
            block = offer.relay
            relay_addr = rig.sb.relay.address
            # ben's call key: he was rung, so his own Signal session opens his <enc>
            key = callkey.unwrap(ben_r.app.store, door, offer.enc.type, offer.enc.ciphertext)

            # 1. ben binds his own leg, and his token relabelled as the caller's and anna's legs
            token = block.tokens[0][1]
            for leg in (None, 1, 2):
                forged = bytearray(token)
                if leg is not None:
                    forged[8] = leg
                binder = relaybind.Binder(bytes(forged), anna if leg == 1 else None)
                buf = bytearray(relaybind.BIND_LEN)
                for _ in range(3):
                    attacker.sendto(buf[:binder.bind_into(buf)], relay_addr)
                    await asyncio.sleep(0.05)
                    for got in _drain(attacker):  # follow the relay's address answers
                        binder.answer(bytearray(got), len(got))
            # 2. a stranger replays anna's own bind datagram from another address
            anna_addr = anna_r.app.media._udp.sock.getsockname()
            anna_binds = [d for d, a in seen if a == anna_addr and relaybind.is_bind(d)]
            assert anna_binds
            for _ in range(3):
                sniffer.sendto(anna_binds[-1], relay_addr)
                await asyncio.sleep(0.05)
            # 3. ben injects audio keyed from the call key, as anna, into the door's leg
            k, s = derive_master(key, anna)
            forge = SrtpContext(k, s)
            sender = rtp.RtpSender(derive_ssrc(offer.call_id, anna, 0), 1000, 160000)
            for i in range(50):
                buf = bytearray(400)
                n = sender.audio_into(buf, rtp.PT_PCMU, False, 160)
                n = forge.protect_into(buf, n + 160)
                attacker.sendto(bytes(buf[:n]), relay_addr)
                await asyncio.sleep(0.02)

            before = _media_received(anna_r)
            await asyncio.sleep(2.0)
            got_attacker = _drain(attacker)
            got_sniffer = _drain(sniffer)
            # anna still hears the door: her leg did not move
            assert _media_received(anna_r) - before > 50, (before, _media_received(anna_r))
            assert [d for d in got_attacker if not relaybind.is_bind(d)] == []
            assert [d for d in got_sniffer if not relaybind.is_bind(d)] == []
            # nothing from ben's or the sniffer's address was forwarded
            outs = [a for d, a in seen if a in (attacker.getsockname(), sniffer.getsockname())]
            assert outs  # they did send
            assert core.stats["dropped_not_answered"] >= 1  # ben's own leg
            # the door's packets, as anyone on the path sees them, do not open with what ben
            # holds: his call key is his own, anna's keys the call (protocol 4, 9)
            door_addr = [a for d, a in seen if a not in (anna_addr, attacker.getsockname(),
                                                         sniffer.getsockname())][0]
            door_pkts = [d for d, a in seen if a == door_addr and not relaybind.is_bind(d)][-20:]
            opened = 0
            for k, s in (derive_master(key, door), derive_master(key, anna)):
                ctx = SrtpContext(k, s)
                for pkt in door_pkts:
                    buf = bytearray(pkt)
                    try:
                        ctx.unprotect_into(buf, len(buf))
                        opened += 1
                    except SrtpError:
                        pass
            assert door_pkts and opened == 0, "ben decrypted %d of the door's packets" % opened
            await anna_r.command("hangup")
            ended = await rig.door_wait(lambda d: d.get("kind") == "ended", what="call end")
            assert ended["outcome"] == "answered" and ended["reason"] != "connection_lost"
        finally:
            attacker.close()
            sniffer.close()
            await rig.stop()
        stops = [d for _, d in rig.door_party.lines if d.get("msg") == "media stop"]
        assert stops and stops[-1]["srtp_rejected"] == 0 and stops[-1]["received"] > 50, stops

    asyncio.run(asyncio.wait_for(body(), 150))
