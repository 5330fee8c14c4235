# The media session's frame paths allocate nothing once the session is made: a microphone
# frame to an SRTP packet, that packet into the jitter buffer, a speaker frame out of it, and a
# keepalive bind, all under micropython.heap_lock() on MicroPython (where any allocation raises
# MemoryError). Few sessions per module: the 128 KiB test heap fragments (L16: its own module).
from mediapair import locked_frames


def test_board_g711_call_on_16k_i2s_allocates_nothing():
    locked_frames(("pcmu", 8000), 16000)  # Downsampler / Upsampler in the paths


def test_g711_at_8k_allocates_nothing():
    locked_frames(("pcma", 8000), 8000)
