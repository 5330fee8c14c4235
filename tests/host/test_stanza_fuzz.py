"""Hypothesis round trips of arbitrary Node trees and call stanzas, and well over 100 000 random
and mutated inputs: decode() returns a Node or raises StanzaError, parse() a Stanza or
CallStanzaError; nothing else, no hang, bounded memory."""

import os
import random
import sys
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portier_host import paths

paths.use_firmware()
sys.path.insert(0, os.path.join(paths.REPO, "tests", "core"))

from _stanza_samples import samples  # noqa: E402

from portier.signaling import stanzas as S  # noqa: E402
from portier.wire import tokens  # noqa: E402
from portier.wire.framing import FrameDecoder, FrameError, encode_frame  # noqa: E402
from portier.wire.stanza import MAX_NODES, Node, StanzaError, decode, encode  # noqa: E402

_TOKENS = [t for t in tokens.TOKENS if t]
_text = st.one_of(
    st.sampled_from(_TOKENS),
    st.text(alphabet="0123456789-.", min_size=1, max_size=300),
    st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=300),
    st.builds(lambda u, d, s: "%s:%d@%s" % (u, d, s), st.text("0123456789", min_size=1, max_size=20),
              st.integers(0, 300), st.sampled_from(["lid", "portier", "x.y"])),
    st.builds(lambda u, s: "%s@%s" % (u, s), st.text(min_size=0, max_size=8), st.text(min_size=0, max_size=8)),
    st.text(max_size=40),
    st.text(max_size=1024).filter(lambda s: len(s.encode()) <= 1024),
)
_body = st.one_of(st.binary(max_size=300), st.binary(min_size=255, max_size=257))


def _count(node):
    kids = node.content if isinstance(node.content, list) else []
    return 1 + sum(_count(k) for k in kids)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.recursive(st.builds(Node, _text, st.dictionaries(_text, _text, max_size=16), st.one_of(st.none(), _body)),
                    lambda kids: st.builds(Node, _text, st.dictionaries(_text, _text, max_size=4),
                                           st.lists(kids, max_size=6)),
                    max_leaves=30))
def test_any_tree_round_trips(node):
    try:
        data = encode(node)
    except StanzaError:
        # only for trees beyond a documented limit
        assert _count(node) > MAX_NODES or _depth(node) > 8 or _wide(node)
        return
    assert decode(data) == node
    assert encode(decode(data)) == data  # the encoding is canonical


def _depth(node):
    kids = node.content if isinstance(node.content, list) else []
    return 1 + max((_depth(k) for k in kids), default=0)


def _wide(node):
    kids = node.content if isinstance(node.content, list) else []
    return len(kids) > 64 or any(_wide(k) for k in kids)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=20), st.data())
def test_framing_any_split(payloads, data):
    stream = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    dec = FrameDecoder()
    got, last = [], 0
    for cut in cuts + [len(stream)]:
        dec.feed(stream[last:cut])
        got.extend(dec.frames())
        last = cut
    assert got == payloads


_cid = st.text("0123456789ABCDEF", min_size=32, max_size=32)
_jid = st.builds(lambda u, d: "%s:%d@portier" % (u, d), st.text("0123456789", min_size=5, max_size=15),
                 st.integers(0, 255))


@settings(max_examples=300, deadline=None)
@given(_cid, _jid, _jid, st.sampled_from(S.TERMINATE_REASONS + (None,)), st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       st.lists(_jid, max_size=4))
def test_terminate_round_trips(cid, me, peer, reason, duration, dest):
    t = S.Stanza("terminate", call_id=cid, call_creator=me, reason=reason, duration=duration, destination=dest,
                 to=peer)
    assert S.parse(decode(encode(t.to_node()))) == t


@settings(max_examples=200, deadline=None)
@given(_cid, _jid, st.lists(st.tuples(_jid, st.binary(min_size=1, max_size=200), st.sampled_from(["pkmsg", "msg"])),
                            min_size=1, max_size=8),
       st.lists(st.sampled_from(S.PORTIER_AUDIO + (("opus", 16000),)), min_size=1, max_size=4))
def test_offer_round_trips(cid, me, devices, audio):
    dest = [(j, S.enc(body, kind)) for j, body, kind in devices]
    offer = S.Stanza("offer", call_id=cid, call_creator=me, audio=audio, destination=dest, to="1@portier")
    assert S.parse(decode(encode(offer.to_node()))) == offer


def _outcome(data):
    try:
        node = decode(data)
    except StanzaError:
        return 0
    try:
        S.parse(node)
    except S.CallStanzaError:
        return 1
    return 2


def test_a_hundred_thousand_bad_inputs():
    rng = random.Random(20261124)
    bases = [encode(s.to_node()) for s in samples()]
    counts = [0, 0, 0]
    n = 0
    tracemalloc.start()
    try:
        for data in bases:  # every truncation of every stanza
            for cut in range(len(data)):
                assert _outcome(data[:cut]) == 0
                n += 1
        while n < 110000:
            if n % 3 == 0:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
            else:
                buf = bytearray(rng.choice(bases))
                for _ in range(rng.randrange(1, 5)):
                    pos = rng.randrange(len(buf))
                    op = rng.randrange(4)
                    if op == 0:
                        buf[pos] = rng.randrange(256)
                    elif op == 1:
                        buf[pos] ^= 1 << rng.randrange(8)
                    elif op == 2:
                        del buf[pos]
                    else:
                        buf.insert(pos, rng.randrange(256))
                data = bytes(buf)
            counts[_outcome(data)] += 1
            n += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n >= 100000
    assert counts[0] and counts[1] and counts[2]  # refused, malformed call, and parsed all occur
    assert peak < 4 * 1024 * 1024, peak  # nothing grows with the number of inputs


def test_huge_declared_lengths_allocate_nothing_big():
    tracemalloc.start()
    try:
        for data in (b"\xd1\x32\xfe\xff\xff\xff\xff", b"\xd2\x01\x06\xfe\x7f\xff\xff\xff", b"\xd1\x01\xf9\xff\xff"):
            try:
                decode(data)
            except StanzaError:
                pass
            else:
                raise AssertionError(data)
        dec = FrameDecoder()
        try:
            dec.feed(b"\xff\xff\xff" + bytes(1000))
        except FrameError:
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, peak
