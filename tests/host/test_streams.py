"""portier.net.streams on CPython (the shim's side of the asyncio differences)."""

import asyncio

from portier_host import paths

paths.use_firmware()
from portier.net import streams  # noqa: E402


def test_wait_for_ms_lets_a_cancel_through_when_the_awaited_completes_in_the_same_turn():
    """A cancel and the awaited event in one loop turn: the waiter must end cancelled
    (asyncio.wait_for on 3.11 returned the result instead, and the cancelled caller ran on)."""
    async def main():
        ev = asyncio.Event()
        task = asyncio.ensure_future(streams.wait_for_ms(ev.wait(), 1000))
        await asyncio.sleep(0)  # the task waits for the event
        ev.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return task.cancelled()
    assert asyncio.run(main())


def test_wait_for_ms_times_out_and_cancels_what_it_waited_for():
    async def main():
        inner = asyncio.ensure_future(asyncio.sleep(5))
        try:
            await streams.wait_for_ms(inner, 30)
        except asyncio.TimeoutError:
            await asyncio.sleep(0)
            return inner.cancelled()
        return None
    assert asyncio.run(main()) is True
