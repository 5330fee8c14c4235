"""CPython-only I/O helpers for firmware code running under the shim (portier.net.streams).

MicroPython reads stdin through an asyncio stream and loads DER keys into its SSLContext;
CPython needs a reader thread and PEM files instead.
"""

import asyncio
import os
import ssl
import sys
import tempfile
import threading


def load_cert_chain_der(ctx, cert_der, key_der):
    """ctx.load_cert_chain from DER bytes (OpenSSL only reads PEM files there)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_private_key(key_der, None)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_pem = ssl.DER_cert_to_PEM_cert(cert_der).encode()
    with tempfile.TemporaryDirectory() as d:
        cert_path = os.path.join(d, "cert.pem")
        key_path = os.path.join(d, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        ctx.load_cert_chain(cert_path, key_path)


class StdinLines:
    """`await readline()` -> the next stdin line (bytes, b"" at EOF). A daemon thread reads, so
    pipes, files and terminals all work and the thread never keeps the process alive. It reads
    the file descriptor with os.read, not sys.stdin.buffer: a thread blocked inside the buffered
    reader holds its lock, and CPython aborts at exit when it cannot take that lock to close
    stdin ("Fatal Python error: _enter_buffered_busy", exit 134)."""

    def __init__(self, fd=0):
        self._loop = asyncio.get_running_loop()
        self._q = asyncio.Queue()
        self._fd = fd
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in read_lines(self._fd):
            self._loop.call_soon_threadsafe(self._q.put_nowait, line)

    async def readline(self):
        return await self._q.get()


def read_lines(fd, chunk=4096):
    """Lines from a file descriptor, each with its newline, then b"" once at EOF (or when the
    descriptor is closed or was never open: a detached process reads no commands)."""
    buf = b""
    while True:
        try:
            data = os.read(fd, chunk)
        except OSError:
            data = b""
        if not data:
            if buf:
                yield buf
            yield b""
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line + b"\n"
