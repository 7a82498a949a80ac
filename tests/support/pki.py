"""A throwaway certificate authority for loopback TLS tests, made with `cryptography`.

`make_pki(dir)` writes a CA, a server certificate for 127.0.0.1/localhost signed by it, and a
client certificate (SAN DNS `scraper.test`) signed by it, each with its unencrypted key, plus a
second CA that signed nothing the server trusts (for "wrong client certificate" cases).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_client_cert: Path  # signed by a CA the server does not trust
    other_client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool = False,
    sans: list[x509.GeneralName] | None = None,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    def pem(path: Path, cert: x509.Certificate) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key, other_ca_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = pem(directory / "ca.pem", _cert("test CA", ca_key, "test CA", ca_key, ca=True))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
    ]
    server_cert = pem(
        directory / "server.pem",
        _cert("127.0.0.1", server_key, "test CA", ca_key, sans=server_sans, usage=ExtendedKeyUsageOID.SERVER_AUTH),
    )
    _write_key(directory / "server.key", server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_sans: list[x509.GeneralName] = [x509.DNSName("scraper.test")]
    client_cert = pem(
        directory / "client.pem",
        _cert("scraper", client_key, "test CA", ca_key, sans=client_sans, usage=ExtendedKeyUsageOID.CLIENT_AUTH),
    )
    _write_key(directory / "client.key", client_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_cert = pem(
        directory / "other-client.pem",
        _cert("intruder", other_key, "other CA", other_ca_key, sans=client_sans, usage=ExtendedKeyUsageOID.CLIENT_AUTH),
    )
    _write_key(directory / "other-client.key", other_key)
    return Pki(
        ca,
        server_cert,
        directory / "server.key",
        client_cert,
        directory / "client.key",
        other_cert,
        directory / "other-client.key",
    )
