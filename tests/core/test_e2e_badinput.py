# Bad input to unwrap, wire level: every case raises E2eError and leaves the receiver's store
# byte-identical. (Session-level cases: test_e2e_badsession.py; split to keep each module small
# for the 96 KiB MicroPython run.)
import os

from coretest import ON_MICROPYTHON, assert_raises
from portier.e2e import E2eError
from portier.e2e.callkey import unwrap, wrap
from portier.e2e.messages import build_prekey_message, parse_prekey_message
from portier.e2e.protobuf import BYTES, VARINT, ProtobufError, parse, put_bytes, put_uint
from e2epair import DOOR, PHONE, answered_pair, make_pair, refused


def test_wrong_mac():
    door, phone = answered_pair()
    _, data = wrap(phone, DOOR, os.urandom(32))
    for i in (len(data) - 1, len(data) - 8, len(data) - 12):
        bad = bytearray(data)
        bad[i] ^= 0x01
        refused(door, PHONE, "msg", bytes(bad))
    assert len(unwrap(door, PHONE, "msg", data)) == 32  # the good one still opens


def test_wrong_mac_on_pkmsg():
    door, phone = make_pair()
    _, data = wrap(phone, DOOR, os.urandom(32))
    pk = parse_prekey_message(data)
    inner = bytearray(pk.message.body + pk.message.mac)
    inner[-1] ^= 0x80
    bad = build_prekey_message(pk.registration_id, pk.prekey_id, pk.signed_prekey_id,
                               pk.base_key, pk.identity_key, bytes(inner))
    refused(door, PHONE, "pkmsg", bad, "MAC")
    assert door.prekey_ids() == [7]  # not consumed by the failure


def test_truncated_messages():
    door, phone = make_pair()
    enc_type, pk = wrap(phone, DOOR, os.urandom(32))
    step = 7 if ON_MICROPYTHON else 1
    for n in range(0, len(pk), step):
        refused(door, PHONE, "pkmsg", pk[:n])
    assert len(unwrap(door, PHONE, enc_type, pk)) == 32
    _, msg = wrap(phone, DOOR, os.urandom(32))
    for n in range(0, len(msg), step):
        refused(door, PHONE, "msg", msg[:n])


def test_overlong_and_malformed_fields():
    door, phone = answered_pair()
    ratchet_key = phone.identity()[1]  # any valid key: the message fails before it is used
    body = bytearray(b"\x33")
    put_bytes(body, 1, ratchet_key + b"\x00")  # 34-byte ratchet key
    put_uint(body, 2, 0)
    put_bytes(body, 4, bytes(16))
    refused(door, PHONE, "msg", bytes(body) + bytes(8), "field 1")
    body = bytearray(b"\x33")
    put_bytes(body, 1, b"\x06" + ratchet_key[1:])  # not a DJB key
    put_uint(body, 2, 0)
    put_bytes(body, 4, bytes(16))
    refused(door, PHONE, "msg", bytes(body) + bytes(8), "public key")
    body = bytearray(b"\x33")
    put_bytes(body, 1, ratchet_key)
    put_bytes(body, 4, bytes(16))  # no counter
    refused(door, PHONE, "msg", bytes(body) + bytes(8), "required")
    refused(door, PHONE, "msg", b"\x33" + bytes(1100))  # longer than any message
    body = bytearray(b"\x33")
    put_bytes(body, 1, b"\x05" + bytes(32))  # a low-order ratchet key: the DH output is zero
    put_uint(body, 2, 0)
    put_bytes(body, 4, bytes(16))
    refused(door, PHONE, "msg", bytes(body) + bytes(8), "low-order")


def test_protobuf_reader_bounds():
    spec = {1: (VARINT, 0xFFFFFFFF), 2: (BYTES, 4)}
    assert parse(b"\x08\x96\x01\x12\x02ab", spec) == {1: 150, 2: b"ab"}
    assert parse(b"\x18\x05\x08\x01", spec) == {1: 1}  # unknown field 3 skipped
    assert parse(b"\x25\x00\x00\x00\x00\x08\x02", spec) == {1: 2}  # unknown fixed32 skipped
    for bad in (
        b"\x08",  # varint missing
        b"\x08\x80",  # varint truncated
        b"\x08" + b"\xff" * 10 + b"\x01",  # varint longer than 10 bytes
        b"\x08\x80\x80\x80\x80\x10",  # uint32 overflow (2^32)
        b"\x12\x05abcd",  # length past the end
        b"\x12\x05abcde",  # longer than the field allows
        b"\x0a\x01a",  # field 1 with the wrong wire type
        b"\x0b",  # group (wire type 3)
        b"\x00\x01",  # field number 0
        b"\x2d\x00\x00",  # truncated fixed32
        b"\x18\x01" * 40,  # too many fields
    ):
        assert_raises(ProtobufError, parse, bad, spec)
    assert issubclass(ProtobufError, E2eError)


def test_unknown_version_byte():
    # libsignal's rule: the high nibble is the message version (below 3 legacy, above 3
    # unknown); the low nibble (the sender's current version) is not checked.
    door, phone = make_pair()
    _, pk = wrap(phone, DOOR, os.urandom(32))
    for version in (0x23, 0x43, 0x00, 0xFF, 0x13):
        refused(door, PHONE, "pkmsg", bytes((version,)) + pk[1:], "version")
    assert unwrap(door, PHONE, "pkmsg", pk) is not None
    k = os.urandom(32)
    assert unwrap(phone, DOOR, *wrap(door, PHONE, k)) == k
    enc_type, msg = wrap(phone, DOOR, k)
    assert enc_type == "msg"
    for version in (0x23, 0x43, 0x03):
        refused(door, PHONE, "msg", bytes((version,)) + msg[1:], "version")
    assert unwrap(door, PHONE, "msg", msg) == k


def test_low_nibble_of_the_outer_pkmsg_byte_is_not_checked():
    # the outer byte of a pkmsg is not under the MAC: 0x34 and 0x30 open as 0x33 does
    for version in (0x34, 0x30):
        door, phone = make_pair()
        k = os.urandom(32)
        _, pk = wrap(phone, DOOR, k)
        assert unwrap(door, PHONE, "pkmsg", bytes((version,)) + pk[1:]) == k


def test_a_libsignal_0_74_sender_writing_0x34_is_understood():
    # imported here: another test module may have dropped the e2e modules (portier.appmem),
    # and the flag must be set in the copy that this wrap() writes with
    from portier.e2e import messages
    from portier.e2e.callkey import unwrap, wrap

    door, phone = make_pair()
    messages.send_version_byte = 0x34  # as libsignal 0.24-0.74 writes in a v3 session
    try:
        k1, k2 = os.urandom(32), os.urandom(32)
        enc_type, pk = wrap(phone, DOOR, k1)
        assert enc_type == "pkmsg" and pk[0] == 0x34 and messages.parse_prekey_message(pk).message.body[0] == 0x34
        assert unwrap(door, PHONE, "pkmsg", pk) == k1  # the inner MAC covers 0x34 as sent
        assert unwrap(phone, DOOR, *wrap(door, PHONE, k2)) == k2
        enc_type, msg = wrap(phone, DOOR, k1)
        assert enc_type == "msg" and msg[0] == 0x34
        assert unwrap(door, PHONE, "msg", msg) == k1
    finally:
        messages.send_version_byte = messages.VERSION_BYTE


def test_unknown_enc_type_and_garbage():
    door, phone = answered_pair()
    _, msg = wrap(phone, DOOR, os.urandom(32))
    refused(door, PHONE, "skmsg", msg, "enc type")
    for i in range(10 if ON_MICROPYTHON else 100):
        junk = os.urandom(i % 90)
        refused(door, PHONE, "msg", junk)
        refused(door, PHONE, "pkmsg", junk)
        refused(door, PHONE, "msg", b"\x33" + junk)
        refused(door, PHONE, "pkmsg", b"\x33" + junk)
