# The few places where MicroPython's asyncio and CPython's differ, hidden behind one shape:
#   await open_stream(host, port, ssl_ctx, server_hostname) -> Stream (readinto/write/close)
#   client_tls(ca_der, cert_der, key_der) -> an SSLContext for mutual TLS with CA pinning
#   sleep_ms(ms), wait_for_ms(aw, ms), stdin_lines() -> an object with `await .readline()`
# MicroPython streams read into a caller's buffer (Stream.readinto); CPython's StreamReader
# has no readinto, so the adapter copies (the host has memory to spare). What only CPython
# needs (a stdin thread, PEM files for OpenSSL) lives in the shim's hostio module.
import asyncio
import sys

MICROPYTHON = sys.implementation.name == "micropython"

if MICROPYTHON:
    sleep_ms = asyncio.sleep_ms
    wait_for_ms = asyncio.wait_for_ms
else:

    def sleep_ms(ms):
        return asyncio.sleep(ms / 1000)

    async def wait_for_ms(aw, ms):
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that arrives in the same
        # loop turn as `aw` completes, and the cancelled caller runs on (the bridge's media
        # session never ended that way: test_bridge_audio). asyncio.timeout lets it through.
        async with asyncio.timeout(ms / 1000):
            return await aw


class Stream:
    """One TCP (or TLS) connection: readinto(buf) -> n (0 at EOF), write(data), close()."""

    def __init__(self, reader, writer):
        self._r = reader
        self._w = writer

    async def readinto(self, buf):
        if MICROPYTHON:
            n = await self._r.readinto(buf)
            return n or 0
        data = await self._r.read(len(buf))
        n = len(data)
        buf[:n] = data
        return n

    async def write(self, data):
        self._w.write(data)
        await self._w.drain()

    async def close(self):
        try:
            self._w.close()
            await self._w.wait_closed()
        except Exception:  # an already broken connection closes without ceremony
            pass


async def open_stream(host, port, ssl_ctx=None, server_hostname=None):
    if ssl_ctx is None:
        r, w = await asyncio.open_connection(host, port)
    else:
        r, w = await asyncio.open_connection(host, port, ssl=ssl_ctx,
                                             server_hostname=server_hostname)
    return Stream(r, w)


def client_tls(ca_der, cert_der, key_der):
    """Mutual TLS: the server must present a certificate of our CA (pinned: the only trust
    anchor), and we present our device certificate. DER in; CPython's OpenSSL wants the client
    chain as PEM files, so there the adapter writes them to a private temporary folder."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if MICROPYTHON:
        ctx.load_verify_locations(cadata=ca_der)
        ctx.load_cert_chain(cert_der, key_der)
        return ctx
    import hostio  # the CPython shim's helpers (host_tools/mpshim)

    ctx.load_verify_locations(cadata=ca_der)
    hostio.load_cert_chain_der(ctx, cert_der, key_der)
    return ctx


def stdin_lines():
    """An object whose `await readline()` returns the next stdin line as bytes (b"" at EOF);
    call it inside the running loop."""
    if MICROPYTHON:
        return asyncio.StreamReader(sys.stdin)
    import hostio

    return hostio.StdinLines()
