# Minimal protobuf (proto2) reader and writer: varints and length-delimited fields only, which is
# all Signal's WhisperTextProtocol and the call-key Message use. Reading is bounded: the caller
# names every field it accepts with its wire kind and maximum size; unknown fields are skipped
# (within the message's length), groups are refused, and a varint longer than 10 bytes, a
# length running past the end, a uint32 above 2^32 - 1 or a field over its size limit raises.
from micropython import const

from . import E2eError

VARINT = const(0)
BYTES = const(2)
_FIXED64 = const(1)
_FIXED32 = const(5)
_MAX_VARINT_BYTES = const(10)
_MAX_FIELDS = const(32)  # fields (known or not) in one message


class ProtobufError(E2eError):
    pass


def _varint(buf, pos, end):
    value = 0
    shift = 0
    for _ in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    raise ProtobufError("varint too long")


def parse(buf, spec):
    """Decode buf into {field: value}. spec maps field number -> (kind, limit): for VARINT the
    largest value, for BYTES the longest length. A repeated field keeps its last value, as
    protobuf does for a non-repeated field."""
    out = {}
    pos = 0
    end = len(buf)
    count = 0
    while pos < end:
        count += 1
        if count > _MAX_FIELDS:
            raise ProtobufError("too many fields")
        key, pos = _varint(buf, pos, end)
        field = key >> 3
        wire = key & 7
        if field == 0:
            raise ProtobufError("field number 0")
        if wire == VARINT:
            value, pos = _varint(buf, pos, end)
        elif wire == BYTES:
            n, pos = _varint(buf, pos, end)
            if n > end - pos:
                raise ProtobufError("field %d runs past the end" % field)
            value = bytes(buf[pos : pos + n])
            pos += n
        elif wire == _FIXED64 or wire == _FIXED32:
            n = 8 if wire == _FIXED64 else 4
            if n > end - pos:
                raise ProtobufError("truncated fixed field")
            pos += n
            value = None
        else:
            raise ProtobufError("wire type %d not supported" % wire)
        want = spec.get(field)
        if want is None:
            continue  # unknown field: skipped, as proto2 readers do
        kind, limit = want
        if kind != wire:
            raise ProtobufError("field %d has wire type %d" % (field, wire))
        if kind == VARINT:
            if value > limit:
                raise ProtobufError("field %d value out of range" % field)
        elif len(value) > limit:
            raise ProtobufError("field %d is %d bytes" % (field, len(value)))
        out[field] = value
    return out


def put_varint(out, value):
    if value < 0:
        raise ProtobufError("negative varint")
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def put_uint(out, field, value):
    put_varint(out, (field << 3) | VARINT)
    put_varint(out, value)


def put_bytes(out, field, data):
    put_varint(out, (field << 3) | BYTES)
    put_varint(out, len(data))
    out.extend(data)
