"""CPython stand-in for MicroPython's `cryptolib`, matching stock ESP32 firmware.

Same argument checks in the same order, same error texts, CBC chaining across calls, one
direction per object, in-place output, and mode 6 (CTR) refused with ValueError('mode') as on
a board built without MICROPY_PY_CRYPTOLIB_CTR. Backed by the `cryptography` package.
"""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_MODE_ECB = 1
_MODE_CBC = 2
_DIR_NONE = 0
_DIR_ENCRYPT = 1
_DIR_DECRYPT = 2


def _readable(obj):
    try:
        return memoryview(obj).cast("B")
    except TypeError:
        if isinstance(obj, str):
            return memoryview(obj.encode())
        raise TypeError("object with buffer protocol required") from None


def _writable(obj):
    try:
        view = memoryview(obj).cast("B")
    except TypeError:
        raise TypeError("object with buffer protocol required") from None
    if view.readonly:
        raise TypeError("object with buffer protocol required")
    return view


class aes:  # noqa: N801 - MicroPython's name
    def __init__(self, key, mode, IV=None):  # noqa: N803 - MicroPython's keyword
        if not isinstance(mode, int):
            raise TypeError("can't convert %s to int" % type(mode).__name__)
        if mode not in (_MODE_ECB, _MODE_CBC):
            raise ValueError("mode")
        key = bytes(_readable(key))
        if len(key) not in (16, 32):
            raise ValueError("key")
        if IV is not None:
            IV = bytes(_readable(IV))
            if len(IV) != 16:
                raise ValueError("IV")
        elif mode == _MODE_CBC:
            raise ValueError("IV")
        self._key = key
        self._mode = mode
        self._iv = IV
        self._dir = _DIR_NONE
        self._ctx = None

    def encrypt(self, data, out=None):
        return self._process(data, out, _DIR_ENCRYPT)

    def decrypt(self, data, out=None):
        return self._process(data, out, _DIR_DECRYPT)

    def _process(self, data, out, direction):
        src = _readable(data)
        if len(src) % 16:
            raise ValueError("blksize % 16")
        dst = None
        if out is not None:
            dst = _writable(out)
            if len(dst) < len(src):
                raise ValueError("output too small")
        if self._dir == _DIR_NONE:
            self._start(direction)
        elif self._dir != direction:
            raise ValueError("can't encrypt & decrypt")
        result = self._ctx.update(bytes(src))  # bytes() first: src and dst may overlap
        if dst is None:
            return result
        dst[: len(result)] = result
        return out

    def _start(self, direction):
        mode = modes.ECB() if self._mode == _MODE_ECB else modes.CBC(self._iv)
        cipher = Cipher(algorithms.AES(self._key), mode)
        self._ctx = cipher.encryptor() if direction == _DIR_ENCRYPT else cipher.decryptor()
        self._dir = direction
