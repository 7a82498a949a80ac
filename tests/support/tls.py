"""Throwaway TLS material for loopback tests, made with the `openssl` command (no network).

`make_tls(dir)` writes a self-signed certificate for 127.0.0.1 (it is its own CA, so a server
can use it to require it back as the client certificate), its unencrypted key, and a file that
is not PEM at all.
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    not_pem: Path

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(self.key))
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(self.cert))
        return context


def make_tls(directory: Path) -> TlsFiles:
    cert, key, not_pem = directory / "cert.pem", directory / "key.pem", directory / "not-pem.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    not_pem.write_bytes(b"\x30\x82\x01\x0a this is DER-looking junk, not a PEM certificate\n")
    return TlsFiles(cert, key, not_pem)
