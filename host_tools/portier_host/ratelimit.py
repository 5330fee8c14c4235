"""Token buckets by key (an address, a relay leg): `rate` events a second on average, bursts of
up to `burst`. At most `max_keys` keys are remembered, the least recently seen forgotten first,
so a flood from ever new keys cannot grow the table; a forgotten key starts again with a full
bucket, which costs a flood nothing it did not have."""


class Buckets:
    def __init__(self, rate, burst, max_keys):
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate %r, burst %r, max_keys %r" % (rate, burst, max_keys))
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets = {}  # key -> (tokens, when), least recently seen first

    def allow(self, key, now_s):
        """Take one token for key at now_s (seconds, any monotonic origin); False when empty."""
        held = self._buckets.pop(key, None)
        if held is None:
            tokens = self.burst
        else:
            tokens, last = held
            tokens = min(self.burst, tokens + max(0.0, now_s - last) * self.rate)
        ok = tokens >= 1
        if ok:
            tokens -= 1
        self._buckets[key] = (tokens, now_s)
        if len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        return ok

    def __len__(self):
        return len(self._buckets)
