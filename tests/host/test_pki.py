"""Provisioning certificates: chains verify, and a board (real MicroPython) authenticates to a
TLS server with its device certificate while pinning the switchboard CA."""

import os
import socket
import ssl
import threading

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from portier_host import mprun, pki


def _verify(ca, leaf):
    ca.cert.public_key().verify(leaf.cert.signature, leaf.cert.tbs_certificate_bytes,
                                ec.ECDSA(leaf.cert.signature_hash_algorithm))


def test_chain_and_usages():
    ca = pki.new_ca()
    server = pki.issue_server(ca, ("switchboard.local", "127.0.0.1"))
    door = pki.issue_device(ca, "door:1@home")
    _verify(ca, server)
    _verify(ca, door)
    assert pki.device_jid(door.cert) == "door:1@home"
    eku = door.cert.extensions.get_extension_for_class(pki.x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    again = pki.Identity.from_pem(door.key_pem(), door.cert_pem())
    assert again.cert_der() == door.cert_der()


def test_device_jid_bounds():
    ca = pki.new_ca()
    for bad in ("", "x" * 65):
        try:
            pki.issue_device(ca, bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)


def _tls_server(ca, server, seen):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert_file, key_file = _write_tmp(server.cert_pem()), _write_tmp(server.key_pem())
    ca_file = _write_tmp(ca.cert_pem())
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(ca_file)
    ctx.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                seen.append(tls.getpeercert()["subject"][0][0][1])
                tls.sendall(b"hello " + tls.recv(64))
        except (ssl.SSLError, OSError) as e:
            seen.append("refused: %s" % e.__class__.__name__)
        finally:
            listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


_TMP = []


def _write_tmp(data):
    import tempfile

    fd, path = tempfile.mkstemp()
    os.write(fd, data)
    os.close(fd)
    _TMP.append(path)
    return path


_BOARD = r"""
import socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cadata=open(%r, "rb").read())
ctx.load_cert_chain(open(%r, "rb").read(), open(%r, "rb").read())
s = socket.socket()
s.connect(socket.getaddrinfo("127.0.0.1", %d)[0][-1])
try:
    s = ctx.wrap_socket(s, server_hostname="localhost")
    s.write(b"door")
    print(s.read(16))
except (OSError, ValueError) as e:  # MicroPython reports a bad certificate as ValueError
    print("tls failed", repr(e))
"""


def test_board_mutual_tls_on_real_micropython():
    ca = pki.new_ca()
    server = pki.issue_server(ca)
    door = pki.issue_device(ca, "door:1@home")
    seen = []
    port, thread = _tls_server(ca, server, seen)
    out = mprun.run_snippet(_BOARD % (_write_tmp(ca.cert_der()), _write_tmp(door.cert_der()),
                                      _write_tmp(door.key_der()), port))
    thread.join(10)
    assert out.strip() == "b'hello door'"
    assert seen == ["door:1@home"]


def test_board_refuses_a_switchboard_from_another_ca():
    ca, rogue_ca = pki.new_ca(), pki.new_ca("rogue")
    rogue_server = pki.issue_server(rogue_ca)
    door = pki.issue_device(ca, "door:1@home")
    seen = []
    port, thread = _tls_server(rogue_ca, rogue_server, seen)
    out = mprun.run_snippet(_BOARD % (_write_tmp(ca.cert_der()), _write_tmp(door.cert_der()),
                                      _write_tmp(door.key_der()), port))
    thread.join(10)
    assert out.startswith("tls failed")
    assert seen and seen[0].startswith("refused")


def teardown_module():
    for path in _TMP:
        os.remove(path)
