# The L16 (wideband) media session's frame paths allocate nothing; its own module (a fresh
# MicroPython heap) because an L16 session is the largest (see test_media_session_heap.py).
from mediapair import locked_frames


def test_l16_wideband_allocates_nothing():
    locked_frames(("l16", 16000), 16000)
