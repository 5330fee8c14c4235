# Binding to the media relay (Portier extension; docs/protocol.md section 7).
# Each party of a call sends bind datagrams to the relay from its media socket: the relay
# learns the party's address from them and forwards SRTP between the two bound parties. The
# first byte, 0x50, has RTP version bits 01, so a bind can never be mistaken for RTP/RTCP
# (version 2, first byte 0x80-0xBF) on the same socket.
from micropython import const

MAGIC0 = const(0x50)  # "P"
MAGIC1 = const(0x52)  # "R"
VERSION = const(1)
TYPE_BIND = const(1)
TYPE_BOUND = const(2)  # the relay's answer: the party is bound (also answers keepalive binds)
TOKEN_LEN = const(24)
BIND_LEN = const(5 + TOKEN_LEN)
PID_CALLER = const(1)
PID_CALLEE = const(2)


class RelayBindError(ValueError):
    pass


def build_into(buf, kind, pid, token):
    """Write a bind (or bound) datagram into buf; returns its length. Allocation-free, so a
    board can send its keepalive binds from a preallocated buffer."""
    if kind != TYPE_BIND and kind != TYPE_BOUND:
        raise RelayBindError("kind %d" % kind)
    if pid != PID_CALLER and pid != PID_CALLEE:
        raise RelayBindError("pid %d" % pid)
    if len(token) != TOKEN_LEN:
        raise RelayBindError("token of %d bytes" % len(token))
    if len(buf) < BIND_LEN:
        raise RelayBindError("buffer too small")
    buf[0] = MAGIC0
    buf[1] = MAGIC1
    buf[2] = VERSION
    buf[3] = kind
    buf[4] = pid
    for i in range(TOKEN_LEN):
        buf[5 + i] = token[i]
    return BIND_LEN


def build(kind, pid, token):
    buf = bytearray(BIND_LEN)
    build_into(buf, kind, pid, token)
    return bytes(buf)


def is_bind(data):
    return len(data) >= 2 and data[0] == MAGIC0 and data[1] == MAGIC1


def parse(data):
    """(kind, pid, token) of a bind datagram; RelayBindError for anything else."""
    if len(data) != BIND_LEN or not is_bind(data):
        raise RelayBindError("not a bind datagram")
    if data[2] != VERSION:
        raise RelayBindError("bind version %d" % data[2])
    kind, pid = data[3], data[4]
    if kind != TYPE_BIND and kind != TYPE_BOUND:
        raise RelayBindError("kind %d" % kind)
    if pid != PID_CALLER and pid != PID_CALLEE:
        raise RelayBindError("pid %d" % pid)
    return kind, pid, bytes(data[5:])
