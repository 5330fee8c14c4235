# Bad input is normal input: every truncation of every call stanza, byte mutations and random
# bytes either decode to a Node or raise StanzaError, and parse() of whatever decodes gives a
# Stanza or a CallStanzaError. Nothing else, in both runtimes. (tests/host/test_stanza_fuzz.py
# runs well over 100 000 inputs on CPython; MicroPython gets a seeded few thousand here.)
from coretest import ON_MICROPYTHON
from _stanza_samples import samples

from portier.signaling.stanzas import CallStanzaError, Stanza, parse
from portier.wire.stanza import Node, StanzaError, decode, encode


class _Rng:
    # xorshift32: the same sequence in both runtimes, no `random` module needed
    def __init__(self, seed):
        self.s = seed

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n


def _check(data):
    """Decode and parse; returns 1 when it decoded. Any exception but ours fails the test."""
    try:
        node = decode(data)
    except StanzaError:
        return 0
    assert isinstance(node, Node)
    try:
        out = parse(node)
    except CallStanzaError:
        return 1
    assert isinstance(out, Stanza)
    return 1


def _encodings():
    return [encode(s.to_node()) for s in samples()]


def test_every_truncation_is_refused():
    for data in _encodings():
        for cut in range(len(data)):
            try:
                decode(data[:cut])
            except StanzaError:
                continue
            raise AssertionError("prefix of %d/%d bytes decoded" % (cut, len(data)))


def test_mutated_stanzas():
    rng = _Rng(0x1234567)
    bases = _encodings()
    rounds = 2000 if ON_MICROPYTHON else 20000
    decoded = 0
    for i in range(rounds):
        data = bytearray(bases[i % len(bases)])
        for _ in range(1 + rng.below(3)):
            pos = rng.below(len(data))
            op = rng.below(4)
            if op == 0:
                data[pos] = rng.below(256)
            elif op == 1:
                data[pos] ^= 1 << rng.below(8)
            elif op == 2:
                data[pos : pos + 1] = b""
            else:
                data[pos:pos] = bytes((rng.below(256),))
        decoded += _check(bytes(data))
    assert 0 < decoded < rounds  # mutations both survive and break decoding


def test_random_bytes():
    rng = _Rng(0xBADC0DE)
    rounds = 1000 if ON_MICROPYTHON else 10000
    for _ in range(rounds):
        n = rng.below(48)
        data = bytearray(n)
        for j in range(n):
            data[j] = rng.below(256)
        if n:
            data[0] = 0xD0 + rng.below(8)  # a node header, so decoding gets past the first byte
        _check(bytes(data))
