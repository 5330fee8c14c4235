# Stream framing: 3-byte big-endian length, then the payload (docs/protocol.md section 1).
from coretest import ON_MICROPYTHON, assert_raises, unhex

from portier.wire.framing import DEFAULT_MAX_FRAME, FrameDecoder, FrameError, encode_frame, frame_header


def test_header_bytes():
    assert frame_header(0) == unhex("000000")
    assert frame_header(1) == unhex("000001")
    assert frame_header(0x0102) == unhex("000102")
    assert frame_header(0xFFFFFF) == unhex("ffffff")
    assert_raises(FrameError, frame_header, 0x1000000)
    assert_raises(FrameError, frame_header, -1)
    assert encode_frame(b"abc") == unhex("000003 616263")
    assert encode_frame(b"") == unhex("000000")
    assert DEFAULT_MAX_FRAME == 65536


def test_encode_frame_refuses_oversized_payloads():
    assert_raises(FrameError, encode_frame, bytes(11), 10)
    assert encode_frame(bytes(10), 10) == unhex("00000a") + bytes(10)


def _stream():
    payloads = [b"", b"a", bytes(range(200)), b"xyz" * 100, b"\x00\x00\x01"]
    data = b"".join(encode_frame(p) for p in payloads)
    return payloads, data


def test_every_split_point_gives_the_same_frames():
    payloads, data = _stream()
    for cut in range(len(data) + 1):
        dec = FrameDecoder()
        dec.feed(data[:cut])
        got = list(dec.frames())
        dec.feed(data[cut:])
        got.extend(dec.frames())
        assert got == payloads, cut
        assert dec.pending_bytes() == 0


def test_byte_by_byte_and_buffer_with_count():
    payloads, data = _stream()
    dec = FrameDecoder()
    buf = bytearray(7)
    got = []
    for b in data:
        buf[0] = b
        dec.feed(buf, 1)  # only the first byte of the buffer counts
        f = dec.next_frame()
        while f is not None:
            got.append(f)
            f = dec.next_frame()
    assert got == payloads
    assert dec.next_frame() is None
    assert_raises(ValueError, dec.feed, buf, 8)


def test_frames_come_out_as_bytes_in_order():
    dec = FrameDecoder()
    dec.feed(bytearray(encode_frame(b"one") + encode_frame(b"two")))
    out = list(dec.frames())
    assert out == [b"one", b"two"] and isinstance(out[0], bytes)
    dec.feed(memoryview(encode_frame(b"three")))
    assert list(dec.frames()) == [b"three"]


def test_max_frame_is_checked_before_buffering():
    dec = FrameDecoder(max_frame=16)
    dec.feed(encode_frame(bytes(16)))
    assert list(dec.frames()) == [bytes(16)]
    dec.feed(unhex("00 00"))
    assert dec.pending_bytes() == 2
    # the third header byte makes it 17: refused before a payload byte is held
    e = assert_raises(FrameError, dec.feed, unhex("11") + bytes(17))
    assert "17" in str(e)
    assert dec.pending_bytes() == 3
    # the stream is desynchronised for good
    assert_raises(FrameError, dec.feed, encode_frame(b"ok"))
    assert dec.next_frame() is None


def test_frames_before_a_bad_header_are_kept():
    dec = FrameDecoder(max_frame=4)
    assert_raises(FrameError, dec.feed, encode_frame(b"ok") + unhex("ffffff"))
    assert list(dec.frames()) == [b"ok"]


def test_default_limit_and_huge_header():
    dec = FrameDecoder()
    assert_raises(FrameError, dec.feed, unhex("010001"))  # 65537
    dec = FrameDecoder()
    assert_raises(FrameError, dec.feed, unhex("ffffff"))
    assert_raises(ValueError, FrameDecoder, 0x1000000)


def test_split_frame_is_held_in_one_buffer():
    # A frame arriving in pieces is copied into one buffer of its final size: no regrowth.
    size = 4000 if ON_MICROPYTHON else 60000
    payload = bytes(range(256)) * (size // 256)
    data = encode_frame(payload)
    dec = FrameDecoder()
    dec.feed(data[:10])
    held = dec._part
    assert held is not None and len(held) == len(payload)
    step = 333
    for i in range(10, len(data), step):
        dec.feed(data[i : i + step])
        if dec._part is not None:
            assert dec._part is held
    assert list(dec.frames()) == [payload]
    assert dec.pending_bytes() == 0
