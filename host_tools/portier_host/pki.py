"""Certificates for the signalling link: a switchboard CA, the switchboard's server
certificate, and one client certificate per device (its JID in the common name).

These are the provisioning functions: `portier provision` and the simulator both call them, so
the simulator's parties authenticate exactly as real boards do. Keys are ECDSA P-256 (mbedtls on
the ESP32 verifies them in hardware-assisted time); the board gets DER, which MicroPython's
`ssl.SSLContext.load_cert_chain`/`load_verify_locations(cadata=...)` take directly.
"""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 20
LEAF_YEARS = 10


class Identity:
    """A private key and its certificate."""

    def __init__(self, key, cert):
        self.key = key
        self.cert = cert

    def cert_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_der(self):
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self):
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def key_der(self):
        # mbedtls (MicroPython) reads the SEC1 "EC PRIVATE KEY" DER form.
        return self.key.private_bytes(serialization.Encoding.DER,
                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption())

    @classmethod
    def from_pem(cls, key_pem, cert_pem):
        return cls(serialization.load_pem_private_key(key_pem, None),
                   x509.load_pem_x509_certificate(cert_pem))


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject, issuer, public_key, years, now):
    return (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365 * years)))


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def new_ca(name="Portier switchboard CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(_name(name), _name(name), key.public_key(), CA_YEARS, _now())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    return Identity(key, cert)


def _leaf(ca, common_name, usage, sans):
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(_name(common_name), ca.cert.subject, key.public_key(), LEAF_YEARS, _now())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return Identity(key, builder.sign(ca.key, hashes.SHA256()))


def issue_server(ca, hosts=("localhost", "127.0.0.1", "::1")):
    """The switchboard's certificate, valid for the given host names and IP addresses."""
    sans = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    return _leaf(ca, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, sans)


def issue_device(ca, device_jid):
    """A device's client certificate: the switchboard takes the device's JID from it."""
    if not device_jid or len(device_jid) > 64:
        raise ValueError("device JID must be 1-64 characters")
    return _leaf(ca, device_jid, ExtendedKeyUsageOID.CLIENT_AUTH, None)


def device_jid(cert):
    """The JID a verified client certificate speaks for."""
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
