# The compact stanza codec byte by byte. Expected bytes are worked out by hand from
# docs/protocol.md section 2 (token numbers from its table), never taken from the encoder.
import binascii

from coretest import ON_MICROPYTHON, assert_raises, unhex

from portier.wire import tokens
from portier.wire.stanza import (
    MAX_ATTRS,
    MAX_BYTES,
    MAX_CHILDREN,
    MAX_DEPTH,
    MAX_NODES,
    MAX_TEXT,
    Node,
    StanzaError,
    decode,
    encode,
    encode_into,
    encoded_size,
)


def _hex(data):
    return str(binascii.hexlify(data), "ascii")


def _both_ways(node, hex_text):
    want = unhex(hex_text)
    got = encode(node)
    assert got == want, "encode %s: %s" % (node.to_xml(), _hex(got))
    assert encoded_size(node) == len(want)
    assert decode(want) == node


def test_token_numbers_used_below():
    for text, byte in (("call", 0x01), ("to", 0x04), ("id", 0x06), ("t", 0x07), ("enc", 0x32),
                       ("terminate", 0x18), ("call-id", 0x1F), ("call-creator", 0x20), ("reason", 0x21),
                       ("timeout", 0x5C), ("lid", 0x71), ("8000", 0x58), ("k", 0)):
        assert tokens.index(text) == byte, text
    assert tokens.VERSION == 1
    assert len(tokens.TOKENS) - 1 <= tokens.MAX_TOKEN


def test_token_index_finds_every_token_and_nothing_else():
    # tokens.index is a hash index over TOKENS: every token at its own position, as a fresh
    # (not interned) string too; near misses, prefixes, empty and non-str -> 0, with no allocation.
    import micropython

    for i in range(1, len(tokens.TOKENS)):
        text = tokens.TOKENS[i]
        assert tokens.index(text) == i, text
        assert tokens.index(str(text.encode(), "utf-8")) == i, text
    for text in ("", "Call", "call ", "cal", "calls", "offerr", "8001", "10", "portier.", "lid@x",
                 "S.whatsapp.net", "pcmu\x00", "k"):
        assert tokens.index(text) == 0, text
    for other in (None, 1, b"call", ["call"]):
        assert tokens.index(other) == 0
    # many strings that are not tokens land on occupied slots: each must still say 0
    for n in range(600 if ON_MICROPYTHON else 5000):
        assert tokens.index("x%d" % n) == 0
    fresh = str(b"terminate", "ascii")
    micropython.heap_lock()
    try:
        found = tokens.index(fresh) + tokens.index("no-such-token")
    finally:
        micropython.heap_unlock()
    assert found == 0x18


def test_tag_only_nodes():
    _both_ways(Node("call"), "d0 01")
    _both_ways(Node("a"), "d0 fc 01 61")
    _both_ways(Node("call", None, []), "d1 01 00")
    _both_ways(Node("call", None, [Node("ack")]), "d1 01 d0 d0 02")


def test_nibble_strings():
    _both_ways(Node("call", {"t": "1700000000"}), "d2 01 07 a9 17 00 00 00 00")
    _both_ways(Node("x", {"k": "123"}), "d2 fc 01 78 fc 01 6b a2 12 3f")
    _both_ways(Node("call", {"t": "-1.5"}), "d2 01 07 a3 a1 b5")
    # 33 characters no longer fit the short form: NIBBLE_8, 17 bytes, odd flag, pad F
    _both_ways(Node("call", {"t": "1" * 33}), "d2 01 07 ff 91" + "11" * 16 + "1f")
    # a token wins over packing
    _both_ways(Node("call", {"t": "8000"}), "d2 01 07 58")


def test_hex_strings():
    _both_ways(Node("call", {"id": "ABCD"}), "d2 01 06 c1 ab cd")
    _both_ways(Node("call", {"id": "ABC"}), "d2 01 06 fb 82 ab cf")  # odd: HEX_8
    call_id = "0123456789ABCDEF0123456789ABCDEF"
    _both_ways(Node("call", {"id": call_id}), "d2 01 06 cf" + "0123456789abcdef" * 2)
    _both_ways(Node("call", {"id": "AB" * 17}), "d2 01 06 fb 11" + "ab" * 17)
    # lowercase hex is not packed
    _both_ways(Node("call", {"id": "ab"}), "d2 01 06 fc 02 61 62")
    # "-" and a letter together: raw
    _both_ways(Node("call", {"id": "A-1"}), "d2 01 06 fc 03 41 2d 31")


def test_jids():
    _both_ways(Node("call", {"to": "x@y"}), "d2 01 04 fa fc 01 78 fc 01 79")
    _both_ways(Node("call", {"to": "12:7@lid"}), "d2 01 04 f7 07 a1 12 71")
    _both_ways(Node("call", {"to": "123456789@lid"}), "d2 01 04 fa a8 12 34 56 78 9f 71")
    _both_ways(Node("call", {"to": "door:255@portier"}), "d2 01 04 f7 ff fc 04 64 6f 6f 72 73")
    # packed parts in both places, short and long forms (the server is odd-length hex: HEX_8)
    _both_ways(Node("call", {"to": "0@A"}), "d2 01 04 fa a0 0f fb 81 af")
    _both_ways(Node("call", {"to": "AB@" + "1" * 33}), "d2 01 04 fa c0 ab ff 91" + "11" * 16 + "1f")
    # a JID user that is also a token is packed, not tokenised
    _both_ways(Node("call", {"to": "8000@lid"}), "d2 01 04 fa a3 80 00 71")
    # the heartbeat address: a 32-hex user at the call server
    _both_ways(Node("call", {"to": "AB" * 16 + "@call"}), "d2 01 04 fa cf" + "ab" * 16 + "01")
    # not canonical: sent as raw text
    for text in ("1:01@lid", "1:256@lid", ":1@lid", "a@b@c", "@lid", "lid@", "1:@lid", "a:b:1@lid"):
        node = Node("call", {"to": text})
        raw = text.encode()
        _both_ways(node, "d2 01 04 fc %02x %s" % (len(raw), _hex(raw)))


def test_raw_strings_and_bodies():
    _both_ways(Node("call", {"id": ""}), "d2 01 06 fc 00")
    _both_ways(Node("call", {"id": "\u00e9"}), "d2 01 06 fc 02 c3 a9")
    _both_ways(Node("enc", None, b"\x01\x02"), "d1 32 fc 02 01 02")
    _both_ways(Node("enc", None, b""), "d1 32 fc 00")
    _both_ways(Node("enc", None, bytes(255)), "d1 32 fc ff" + "00" * 255)
    _both_ways(Node("enc", None, bytes(256)), "d1 32 fd 00 01 00" + "00" * 256)
    _both_ways(Node("enc", None, bytes(300)), "d1 32 fd 00 01 2c" + "00" * 300)


def test_list_headers():
    _both_ways(Node("call", None, [Node("ack")] * 31), "d1 01 ee" + "d0 02" * 31)
    _both_ways(Node("call", None, [Node("ack")] * 32), "d1 01 ef" + "d0 02" * 32)
    _both_ways(Node("call", None, [Node("ack")] * 40), "d1 01 f8 28" + "d0 02" * 40)
    # 16 attributes + content = 34 items: LIST_8
    attrs = {}
    body = ""
    for i in range(16):
        attrs[str(10 + i)] = "1"  # "10".."25": nibble keys, sorted as strings
        body += "a1 %d 68 " % (10 + i)
    _both_ways(Node("call", attrs, b""), "f8 22 01 " + body + "fc 00")


def test_decoder_accepts_long_forms():
    # A decoder takes LIST_8/LIST_16/NIBBLE_8/HEX_8/BINARY_20/32 even where a short form exists.
    assert decode(unhex("f8 01 01")) == Node("call")
    assert decode(unhex("f9 00 01 01")) == Node("call")
    assert decode(unhex("f8 02 01 f8 00")) == Node("call", None, [])
    assert decode(unhex("d2 01 07 ff 02 12 34")) == Node("call", {"t": "1234"})
    assert decode(unhex("d2 01 06 fb 01 ab")) == Node("call", {"id": "AB"})
    assert decode(unhex("d1 32 fd 00 00 02 61 62")) == Node("enc", None, b"ab")
    assert decode(unhex("d1 32 fe 00 00 00 01 61")) == Node("enc", None, b"a")
    assert decode(unhex("d2 01 06 fe 00 00 00 01 61")) == Node("call", {"id": "a"})
    assert decode(unhex("d2 01 04 fa fc 02 31 32 71")) == Node("call", {"to": "12@lid"})


def test_attribute_order_is_canonical():
    # tokens in dictionary order, then the other names in string order
    a = Node("call", {"zz": "1", "id": "1", "aa": "1", "to": "1"})
    b = Node("call", {"to": "1", "aa": "1", "zz": "1", "id": "1"})
    assert encode(a) == encode(b)
    assert encode(a) == unhex("d8 01 04 68 06 68 fc 02 61 61 68 fc 02 7a 7a 68")
    assert a.to_xml() == '<call to="1" id="1" aa="1" zz="1"/>'
    # the decoder keeps whatever order it gets
    assert decode(unhex("d4 01 06 68 04 68")) == Node("call", {"to": "1", "id": "1"})


def test_version_marker():
    assert decode(unhex("01 d0 01")) == Node("call")
    for v in range(2, 16):
        e = assert_raises(StanzaError, decode, bytes([v, 0xD0, 0x01]))
        assert "version" in str(e)


def test_model_terminate_example():
    # protocol-model section 6's worked example, 50 bytes in WABinary.
    node = Node("call", {"to": "123456789@lid", "id": "ABCD01"}, [
        Node("terminate", {"call-id": "0123456789ABCDEF", "call-creator": "987654321:3@lid", "reason": "timeout"})])
    _both_ways(node, "d5 01 04 fa a8 12 34 56 78 9f 71 06 c2 ab cd 01 d0 d6 18"
               " 1f c7 01 23 45 67 89 ab cd ef 20 f7 03 a8 98 76 54 32 1f 71 21 5c")
    assert len(encode(node)) <= 46


def test_malformed_inputs_raise_stanza_error():
    bad = (
        "",  # nothing
        "00",  # LIST_EMPTY as a node
        "d0",  # truncated tag
        "d0 74",  # token beyond the table
        "d0 9f",  # token beyond the table
        "d0 01 00",  # trailing byte
        "d0 e0",  # list header where a string belongs
        "f0 01",  # reserved byte as a node header
        "f4",  # reserved
        "d1 01 01",  # token where content belongs
        "d1 01 a0 1f",  # packed string where content belongs
        "d2 01 07 a0 cf",  # nibble code 12
        "d2 01 07 a1 1c",  # nibble code 12 in the low half
        "d2 01 07 a0 12",  # odd length, pad is not F
        "d2 01 07 ff 00",  # empty NIBBLE_8
        "d2 01 07 ff 81 1f 00",  # declared 1 byte, trailing
        "d2 01 07 ff 05 12",  # truncated packed bytes
        "d2 01 06 fb 81 a0",  # hex pad is not F
        "d2 01 06 fc 01 ff",  # invalid UTF-8
        "d2 01 06 fc 02 c3 28",  # invalid UTF-8 continuation
        "d2 01 06 fc 03 ed a0 80",  # UTF-8 surrogate
        "d4 01 06 a0 1f 06 a0 2f",  # duplicate attribute
        "d2 01 04 fa fc 03 61 40 62 71",  # "@" inside a JID user
        "d2 01 04 fa fc 03 61 3a 62 71",  # ":" inside a JID user
        "d2 01 04 fa fc 00 71",  # empty JID user
        "d2 01 04 f7 01 fc 01 61",  # truncated AD_JID
        "d2 01 04 fa d0 71",  # list where a JID user belongs
        "d1 32 fd 0f ff ff",  # 20-bit length beyond MAX_BYTES
        "d1 32 fe ff ff ff ff",  # 32-bit length beyond MAX_BYTES, nothing allocated
        "d1 32 fc 05 00",  # truncated body
        "d2 01 06 fe 00 00 04 01",  # 1025-byte string declared
        "d1 01 f8 41",  # 65 children declared
        "f8 23 01",  # 17 attributes declared
        "d1 01 d1 d0",  # child that is not a node
    )
    for text in bad:
        assert_raises(StanzaError, decode, unhex(text))
    assert_raises(StanzaError, decode, "d0 01")  # not bytes


def _nested(depth):
    node = Node("ack")
    for _ in range(depth - 1):
        node = Node("call", None, [node])
    return node


def test_limit_depth():
    ok = _nested(MAX_DEPTH)
    assert decode(encode(ok)) == ok
    assert_raises(StanzaError, encode, _nested(MAX_DEPTH + 1))
    deep = unhex("d1 01 d0" * MAX_DEPTH + "d0 02")  # by hand: one level deeper
    assert_raises(StanzaError, decode, deep)
    assert decode(unhex("d1 01 d0" * (MAX_DEPTH - 1) + "d0 02")) == ok


def test_limit_children_attrs_text_bytes():
    assert decode(encode(Node("call", None, [Node("ack")] * MAX_CHILDREN))).content[-1] == Node("ack")
    assert_raises(StanzaError, encode, Node("call", None, [Node("ack")] * (MAX_CHILDREN + 1)))
    many = {}
    for i in range(MAX_ATTRS):
        many["k%d" % i] = "v"
    assert len(decode(encode(Node("call", many))).attrs) == MAX_ATTRS
    many["k99"] = "v"
    assert_raises(StanzaError, encode, Node("call", many))
    text = "x" * MAX_TEXT
    assert decode(encode(Node("call", {"id": text}))).attrs["id"] == text
    assert_raises(StanzaError, encode, Node("call", {"id": text + "x"}))
    assert_raises(StanzaError, encode, Node("call", {text + "x": "1"}))
    assert_raises(StanzaError, encode, Node(text + "x"))
    # multi-byte characters count as bytes
    assert_raises(StanzaError, encode, Node("call", {"id": "\u00e9" * (MAX_TEXT // 2 + 1)}))


def test_limit_bytes_content():
    # refused from the length alone, before the body is read or allocated
    assert_raises(StanzaError, decode, unhex("d1 32 fd 01 00 01"))
    assert_raises(StanzaError, decode, unhex("d1 32 fd 01 00 01") + bytes(100))
    if ON_MICROPYTHON:
        return  # a 64 KiB body (and its encoding) does not fit the 96 KiB test heap twice
    big = Node("enc", None, bytes(MAX_BYTES))
    data = encode(big)
    assert data[:6] == unhex("d1 32 fd 01 00 00")
    assert decode(data) == big
    assert_raises(StanzaError, encode, Node("enc", None, bytes(MAX_BYTES + 1)))
    assert_raises(StanzaError, decode, unhex("d1 32 fd 01 00 01") + bytes(MAX_BYTES + 1))


def test_limit_node_count():
    # 1 + 64 * 2 = 129 nodes, each level within its own limits
    data = unhex("d1 01 f8 40" + "d1 02 d0 d0 02" * 64)
    e = assert_raises(StanzaError, decode, data)
    assert "nodes" in str(e)
    assert_raises(StanzaError, encode, Node("call", None, [Node("ack", None, [Node("ack")])] * 64))
    fits = Node("call", None, [Node("ack", None, [Node("ack")])] * 63 + [Node("ack")])
    assert decode(encode(fits)) == fits
    assert MAX_NODES == 128


def test_encoder_refuses_what_it_cannot_encode():
    assert_raises(StanzaError, encode, "call")
    assert_raises(StanzaError, encode, Node(1))
    assert_raises(StanzaError, encode, Node("call", {"t": 1}))
    assert_raises(StanzaError, encode, Node("call", {1: "1"}))
    assert_raises(StanzaError, encode, Node("call", None, "text"))
    assert_raises(StanzaError, encode, Node("call", None, ["x"]))
    assert_raises(StanzaError, encode, Node("call", []))


def test_encode_into_offset_and_room():
    node = Node("call", {"t": "1"})
    buf = bytearray(8)
    end = encode_into(node, buf, 3)
    assert end == 7 and bytes(buf[3:7]) == unhex("d2 01 07 68")
    assert_raises(StanzaError, encode_into, node, bytearray(3))
    assert_raises(StanzaError, encode_into, node, bytearray(8), 5)


def test_decode_takes_bytearray_and_memoryview():
    data = unhex("d1 32 fc 02 01 02")
    want = Node("enc", None, b"\x01\x02")
    assert decode(bytearray(data)) == want
    assert decode(memoryview(data)) == want
    assert isinstance(decode(bytearray(data)).content, bytes)


def test_node_equality_and_helpers():
    a = Node("call", {"to": "1@lid"}, [Node("offer", {"x": "1"}), Node("enc", None, b"ab")])
    b = Node("call", {"to": "1@lid"}, [Node("offer", {"x": "1"}), Node("enc", None, b"ab")])
    assert a == b and not (a != b)
    assert a != Node("call", {"to": "1@lid"})
    assert a != Node("call", {"to": "2@lid"}, b.content)
    assert Node("enc", None, b"a") != Node("enc", None, b"b")
    assert Node("call") != "call"
    assert a.child("enc").content == b"ab"
    assert a.child("nope") is None
    assert a.get("to") == "1@lid" and a.get("from") is None
    assert Node("enc", None, b"x").children() == []
    assert Node("call").attrs == {}


def test_to_xml():
    node = Node("call", {"to": "1@lid", "id": "A\"<&>"}, [
        Node("enc", {"type": "msg"}, b"\x00\xff"), Node("capability", None, b"hi"), Node("x")])
    want = ('<call to="1@lid" id="A&quot;&lt;&amp;&gt;"><enc type="msg">[00 ff]</enc>'
            "<capability>hi</capability><x/></call>")
    assert node.to_xml() == want
    assert repr(node) == want


def test_invalid_utf8_is_refused_the_same_in_both_runtimes():
    # MicroPython's str() accepts overlong forms, surrogates and code points above U+10FFFF;
    # the decoder checks UTF-8 itself so both runtimes refuse the same bytes.
    for raw in ("ff", "c0 80", "c1 bf", "e0 80 80", "ed a0 80", "ed bf bf", "f0 80 80 80", "f4 90 80 80",
                "f5 80 80 80", "c3", "e2 82", "80", "c3 c3", "e2 28 a1"):
        data = unhex("d2 01 06 fc %02x " % len(unhex(raw)) + raw)
        assert_raises(StanzaError, decode, data)
    for raw, text in (("7f", "\x7f"), ("c2 80", "\x80"), ("df bf", "\u07ff"), ("e0 a0 80", "\u0800"),
                      ("ed 9f bf", "\ud7ff"), ("ee 80 80", "\ue000"), ("ef bf bf", "\uffff"),
                      ("f0 90 80 80", "\U00010000"), ("f4 8f bf bf", "\U0010ffff")):
        data = unhex("d2 01 06 fc %02x " % len(unhex(raw)) + raw)
        assert decode(data) == Node("call", {"id": text})
