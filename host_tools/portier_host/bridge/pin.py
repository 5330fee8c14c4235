"""The resident's keypad: `*` PIN `#` typed as DTMF, and the tones that answer it.

PinCollector is sans-IO: digits and `now` in, a PIN (or a refusal) out. `*` always starts
afresh (a resident who mistyped presses it again); `#` ends the entry; digits typed without a
`*` first, or after a pause longer than the entry timeout, are dropped, so a phone menu's
stray keys never become an unlock attempt.

Tones are 16-bit little-endian mono PCM, made once per (name, rate): short patterns a person
tells apart without looking (rising pair: opened; three low beeps: wrong PIN or refused;
one long low tone: locked out).
"""

import math
import struct

PIN_MIN = 4  # docs/protocol.md section 10.2: the PIN is 4..12 digits
PIN_MAX = 12
ENTRY_TIMEOUT_MS = 10000  # between two keys of one entry

# name -> ((frequency Hz or 0 for a pause, ms), ...)
_PATTERNS = {
    "opened": ((660, 150), (0, 60), (880, 250)),
    "wrong_pin": ((420, 120), (0, 80), (420, 120), (0, 80), (420, 120)),
    "refused": ((420, 120), (0, 80), (420, 120), (0, 80), (420, 120)),
    "locked_out": ((300, 900),),
    "bad_entry": ((420, 120), (0, 80), (420, 120), (0, 80), (420, 120)),
}
_AMPLITUDE = 6000  # about -15 dBFS: audible over a handset, not painful
_cache = {}


class PinCollector:
    def __init__(self, timeout_ms=ENTRY_TIMEOUT_MS):
        self._timeout_ms = timeout_ms
        self._digits = None  # None: no entry open (no `*` yet)
        self._last_ms = None

    def feed(self, digit, now_ms):
        """One key. Returns None (keep typing), ("pin", "2468") or ("bad", reason)."""
        if self._digits is not None and now_ms - self._last_ms > self._timeout_ms:
            self._digits = None  # a stale entry: the keys so far are forgotten
        self._last_ms = now_ms
        if digit == "*":
            self._digits = ""
            return None
        if self._digits is None:
            return None
        if digit == "#":
            pin, self._digits = self._digits, None
            if len(pin) < PIN_MIN:
                return ("bad", "too short")
            return ("pin", pin)
        if digit not in "0123456789":
            self._digits = None
            return ("bad", "not a digit")
        if len(self._digits) >= PIN_MAX:
            self._digits = None
            return ("bad", "too long")
        self._digits += digit
        return None


def tone(name, rate):
    """The PCM of a result tone (see _PATTERNS), made once per rate."""
    key = (name, rate)
    pcm = _cache.get(key)
    if pcm is None:
        pattern = _PATTERNS.get(name, _PATTERNS["refused"])
        out = []
        for freq, ms in pattern:
            n = rate * ms // 1000
            fade = max(1, rate // 200)  # 5 ms ramps: no clicks at the edges
            for i in range(n):
                env = min(1.0, i / fade, (n - 1 - i) / fade)
                v = _AMPLITUDE * env * math.sin(2 * math.pi * freq * i / rate) if freq else 0
                out.append(int(v))
        pcm = _cache[key] = struct.pack("<%dh" % len(out), *out)
    return pcm
