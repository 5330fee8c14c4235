"""CPython stand-in for MicroPython's `neopixel` (addressable RGB LEDs such as WS2812/SK6812).

`pixels(pin_id)` reads what the firmware last wrote out to the strip on that pin.
"""

_written = {}  # pin id -> list of (r, g, b) as last sent by write()


class NeoPixel:
    ORDER = (1, 0, 2, 3)

    def __init__(self, pin, n, bpp=3, timing=1):
        if bpp not in (3, 4):
            raise ValueError("bpp must be 3 or 4")
        self.pin = pin
        self.n = n
        self.bpp = bpp
        self._buf = [(0,) * bpp for _ in range(n)]

    def __len__(self):
        return self.n

    def __setitem__(self, i, color):
        if len(color) != self.bpp:
            raise ValueError("need %d values per pixel" % self.bpp)
        self._buf[i] = tuple(color)

    def __getitem__(self, i):
        return self._buf[i]

    def fill(self, color):
        for i in range(self.n):
            self[i] = color

    def write(self):
        _written[self.pin.id] = list(self._buf)


def pixels(pin_id):
    """The colours last written to the strip on pin_id, or None if none was written."""
    return _written.get(pin_id)
