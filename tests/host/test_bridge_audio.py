"""The bridge's audio device (bridge/audio.py) between PJSIP's media clock and the door call's
media session: pacing by the clock, silence on a stall, and a stop that always ends it."""

import asyncio

from portier_host.bridge.audio import _STALL_S, BridgeAudio, PortQueues


def _device():
    q = PortQueues()
    return q, BridgeAudio(q, 8000)


def _cancelled_in_a_tick_turn(wait, tick):
    """Start wait(dev) (a read or a write that waits for the clock), then let a clock tick and
    a cancel arrive in the same loop turn. -> whether the task ended cancelled."""
    async def main():
        _, dev = _device()
        task = await wait(dev)
        await asyncio.sleep(0)  # the task now waits for a tick
        tick(dev).set()  # the tick and the cancel in one turn
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return task.cancelled()
    return asyncio.run(main())


def test_a_cancel_in_the_same_turn_as_a_tick_ends_the_read():
    """The media session stops its loops by cancelling them; a clock tick that arrives in the
    same loop turn must not swallow that cancel (asyncio.wait_for on 3.11 did: the read went
    on, the session never ended, and the SIP call the door had hung up stayed up)."""
    async def read(dev):
        return asyncio.ensure_future(dev.read_frame(bytearray(dev.frame_bytes)))
    assert _cancelled_in_a_tick_turn(read, lambda dev: dev._rx_tick)


def test_a_cancelled_write_ends_too():
    async def write(dev):
        for _ in range(3):  # the queue to SIP full: the next write waits for a tick
            await dev.write_frame(bytearray(dev.frame_bytes))
        return asyncio.ensure_future(dev.write_frame(bytearray(dev.frame_bytes)))
    assert _cancelled_in_a_tick_turn(write, lambda dev: dev._tx_tick)


def test_a_frame_from_the_clock_is_read_and_a_stall_gives_silence():
    async def main():
        q, dev = _device()
        buf = bytearray(dev.frame_bytes)
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, q.put_rx, b"\x01\x02" * (dev.frame_bytes // 2))
        await dev.read_frame(buf)
        heard = bytes(buf)
        t0 = loop.time()
        await dev.read_frame(buf)  # nothing comes: silence after the stall time
        return heard, bytes(buf), loop.time() - t0, dev.silent_reads
    heard, stalled, waited, silent = asyncio.run(main())
    assert heard == b"\x01\x02" * (len(heard) // 2)
    assert stalled == bytes(len(stalled)) and silent == 1
    assert waited >= _STALL_S * 0.9
