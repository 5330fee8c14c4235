# portier: board-only (needs machine.I2S on an ESP32)
# The ESP32 board HAL. This issue adds the I2S audio part; Button, Relay, LED, WDT and WLAN
# land with the board issue.
#
# Audio: two I2S controllers in controller mode, RX for the INMP441 microphone (32-bit words,
# left slot), TX for the MAX98357A amplifier (16-bit mono), driven through asyncio streams.
# DMA buffers are 256 I2S frames each (ESP-IDF i2s_std via MicroPython machine_i2s.c), so the
# bus runs at 16 kHz for every call (RATE): a capture is readable 16 ms-buffer by 16 ms-buffer
# and the primed TX buffer holds 16 ms. At 8 kHz both would double (bench_audio: 78 ms instead
# of 56 ms mouth to ear); G.711 calls go through dsp.Downsampler / dsp.Upsampler instead. Boards with
# one shared I2S bus (M5Stack Atom Echo) get one controller that is switched between RX and TX:
# half-duplex, with portier.media.dsp.ECHO_HALF deciding who has the floor.
import asyncio

from machine import I2S, Pin
from micropython import const

from ..media.dsp import MicConditioner
from .audio import FRAME_MS, AudioDevice, read_full, write_full

RATE = const(16000)  # the I2S sample rate for every call
DMA_FRAMES = const(256)  # I2S frames per DMA buffer in the esp32 port
_RX_FRAME_BYTES = const(8)  # RX DMA always captures 32-bit stereo
_TX_FRAME_BYTES = const(2)  # 16-bit mono out
RX_IBUF = const(8192)  # 4 DMA buffers: room for a GC pause, no added latency while we keep up
TX_IBUF = const(1024)  # 2 DMA buffers, the minimum: this queue is playback latency


class I2sAudio(AudioDevice):
    """mic / amp: dicts with the board file's I2S fields: id, sck, ws, sd (GPIO numbers).

    For a shared bus pass the same dict twice (same id): the device runs half-duplex and
    set_direction() chooses between listening and speaking.
    """

    def __init__(self, mic, amp, rate=RATE, mic_gain_db=18, frame_ms=FRAME_MS,
                 rx_ibuf=RX_IBUF, tx_ibuf=TX_IBUF):
        super().__init__(rate, frame_ms)
        self._mic_cfg = mic
        self._amp_cfg = amp
        self._rx_ibuf = rx_ibuf
        self._tx_ibuf = tx_ibuf
        self.half_duplex = mic["id"] == amp["id"]
        self._raw = bytearray(4 * self.frame_samples)  # one frame of 32-bit mic words
        self._cond = MicConditioner(gain_db=mic_gain_db)
        self._rx = self._tx = None
        self._reader = self._writer = None
        self._speaking = None  # the shared bus's direction now (None: not opened yet)
        self._want = False  # the direction set_direction() asked for
        self._reading = False  # a read is waiting on the RX controller
        if self.half_duplex:
            self._switch()
        else:
            self._open_rx()
            self._open_tx()

    def _open_rx(self):
        c = self._mic_cfg
        self._rx = I2S(c["id"], sck=Pin(c["sck"]), ws=Pin(c["ws"]), sd=Pin(c["sd"]), mode=I2S.RX,
                       bits=32, format=I2S.MONO, rate=self.rate, ibuf=self._rx_ibuf)
        self._reader = asyncio.StreamReader(self._rx)

    def _open_tx(self):
        c = self._amp_cfg
        self._tx = I2S(c["id"], sck=Pin(c["sck"]), ws=Pin(c["ws"]), sd=Pin(c["sd"]), mode=I2S.TX,
                       bits=16, format=I2S.MONO, rate=self.rate, ibuf=self._tx_ibuf)
        self._writer = asyncio.StreamWriter(self._tx, {})
        # Prime one DMA buffer of silence so the first frames do not underrun.
        self._tx.write(bytearray(DMA_FRAMES * _TX_FRAME_BYTES))

    def set_direction(self, speaking):
        """Shared bus only: re-initialise the one controller for TX (True) or RX (False). A
        read waiting on the RX controller is never pulled from under it: the switch then
        happens when that read completes (within a frame), so the far end's first frame
        after a switch to speaking may be lost."""
        if not self.half_duplex:
            return
        self._want = speaking
        if not self._reading:
            self._switch()

    def _switch(self):
        speaking = self._want
        if speaking == self._speaking:
            return
        for dev in (self._rx, self._tx):
            if dev is not None:
                dev.deinit()
        self._rx = self._tx = self._reader = self._writer = None
        self._speaking = speaking
        if speaking:
            self._open_tx()
        else:
            self._open_rx()

    async def read_frame(self, buf):
        self._check(buf)
        if self._reader is None:  # half-duplex and speaking: the mic is off the bus
            await asyncio.sleep_ms(self.frame_ms)
            for i in range(self.frame_bytes):
                buf[i] = 0
            return self.frame_bytes
        self._reading = True
        try:
            await read_full(self._reader, self._raw, len(self._raw))
        finally:
            self._reading = False
        if self.half_duplex:
            self._switch()  # one set_direction() asked for while this read waited
        return self._cond.process(self._raw, buf, self.frame_samples)

    async def write_frame(self, buf):
        self._check(buf)
        if self._writer is None:  # half-duplex and listening: nothing is played, but the
            await asyncio.sleep_ms(self.frame_ms)  # frame still takes its time (else the
            return self.frame_bytes  # media's play loop would spin and starve the others)
        return await write_full(self._writer, buf, self.frame_bytes)

    def latency_ms(self):
        dma_ms = DMA_FRAMES * 1000 // self.rate
        # Capture: a frame's last sample waits for its DMA buffer, half a buffer on average.
        # Playback: the primed buffer stays queued ahead of every frame.
        return (dma_ms // 2, dma_ms)

    def close(self):
        for dev in (self._rx, self._tx):
            if dev is not None:
                dev.deinit()
        self._rx = self._tx = self._reader = self._writer = None
