# Length-prefixed frames on the signalling stream (docs/protocol.md section 1): a 3-byte
# big-endian payload length, then the payload (one encoded stanza).
#
# FrameDecoder is sans-IO: feed it whatever slices the socket returns, take whole frames out.
# Each payload byte is copied once into its frame (twice only for a frame split across feeds),
# so the cost is linear in the stream, and a frame's length is checked against max_frame before
# a byte of it is buffered.
from micropython import const

HEADER = const(3)
DEFAULT_MAX_FRAME = const(65536)
_LENGTH_LIMIT = const(0xFFFFFF)


class FrameError(ValueError):
    pass


def frame_header(n):
    """The 3-byte header of an n-byte payload (write it, then the payload: no join needed)."""
    if n < 0 or n > _LENGTH_LIMIT:
        raise FrameError("payload of %d bytes cannot be framed" % n)
    return bytes(((n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF))


def encode_frame(payload, max_frame=DEFAULT_MAX_FRAME):
    n = len(payload)
    if n > max_frame:
        raise FrameError("payload of %d bytes above the %d-byte frame limit" % (n, max_frame))
    out = bytearray(HEADER + n)
    out[0:HEADER] = frame_header(n)
    out[HEADER:] = payload
    return bytes(out)


class FrameDecoder:
    def __init__(self, max_frame=DEFAULT_MAX_FRAME):
        if max_frame < 0 or max_frame > _LENGTH_LIMIT:
            raise ValueError("max_frame out of range")
        self.max_frame = max_frame
        self._hdr = bytearray(HEADER)
        self._hdr_n = 0  # header bytes collected for the next frame
        self._part = None  # bytearray of a frame split across feeds
        self._part_n = 0
        self._ready = []  # whole frames not yet taken
        self._error = None  # set once the stream is desynchronised

    def pending_bytes(self):
        """Bytes held for an incomplete frame (header included)."""
        return self._hdr_n + self._part_n

    def feed(self, buf, n=None):
        """Take the first n bytes of buf (all of it by default).

        Raises FrameError when a header announces a frame above max_frame; the stream cannot be
        resynchronised after that, so every later feed raises too and the link must close.
        Frames completed before the bad header are still returned by frames().
        """
        if self._error is not None:
            raise FrameError(self._error)
        if n is None:
            n = len(buf)
        if n < 0 or n > len(buf):
            raise ValueError("n outside buf")
        mv = memoryview(buf)
        p = 0
        while p < n:
            if self._part is None:
                p = self._read_header(buf, p, n)
                if self._hdr_n < HEADER:
                    return
                length = (self._hdr[0] << 16) | (self._hdr[1] << 8) | self._hdr[2]
                if length > self.max_frame:
                    self._error = "frame of %d bytes above the %d-byte limit" % (length, self.max_frame)
                    raise FrameError(self._error)
                self._hdr_n = 0
                if n - p >= length:  # the whole payload is here: one copy straight out
                    self._ready.append(bytes(mv[p : p + length]))
                    p += length
                    continue
                self._part = bytearray(length)
                self._part_n = 0
            part = self._part
            take = min(len(part) - self._part_n, n - p)
            part[self._part_n : self._part_n + take] = mv[p : p + take]
            self._part_n += take
            p += take
            if self._part_n == len(part):
                self._ready.append(bytes(part))
                self._part = None
                self._part_n = 0

    def _read_header(self, buf, p, n):
        while self._hdr_n < HEADER and p < n:
            self._hdr[self._hdr_n] = buf[p]
            self._hdr_n += 1
            p += 1
        return p

    def next_frame(self):
        """The oldest whole frame (bytes), or None."""
        if not self._ready:
            return None
        return self._ready.pop(0)

    def frames(self):
        """Yields every whole frame received so far, oldest first, and forgets it."""
        while self._ready:
            yield self._ready.pop(0)
