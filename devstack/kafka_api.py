"""Does the broker speak the Kafka protocol versions a Connect version's clients need?

Kafka 4.0 dropped every request version older than Kafka 2.1's (KIP-896): its clients refuse a
broker that offers only older ones. `broker_api_versions` asks the running broker (ApiVersions
v0, whose reply every broker understands); `client_api_versions` asks the kafka-clients jar of a
Connect version (its `ApiKeys`); `gaps` lists the APIs the clients know that the broker serves
in no common version, or does not serve at all.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import versions
from .proc import StackError
from .versions import ConnectVersion

PROBE_SRC = Path(__file__).resolve().parent / "java" / "ClientApiVersions.java"


@dataclass(frozen=True)
class ApiRange:
    key: int
    name: str
    oldest: int
    latest: int


def broker_api_versions(host: str, port: int, timeout: float = 5.0) -> dict[int, ApiRange]:
    client_id = b"devstack-probe"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id  # ApiVersions v0, correlation 1
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)

        def read(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = sock.recv(n - len(data))
                if not chunk:
                    raise StackError("broker", "closed the connection during ApiVersions")
                data += chunk
            return data

        reply = read(struct.unpack(">i", read(4))[0])
    _correlation, error, count = struct.unpack(">ihi", reply[:10])
    if error:
        raise StackError("broker", f"ApiVersions answered error code {error}")
    ranges = {}
    for i in range(count):
        key, oldest, latest = struct.unpack(">hhh", reply[10 + 6 * i : 16 + 6 * i])
        ranges[key] = ApiRange(key, "", oldest, latest)
    return ranges


def client_api_versions(version: ConnectVersion) -> dict[int, ApiRange]:
    java = shutil.which("java")
    if java is None:
        raise StackError("connect", "java not found; run scripts/bootstrap")
    libs = versions.libs_dir(version)
    proc = subprocess.run([java, "-cp", str(libs / "*"), str(PROBE_SRC)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise StackError("connect", f"ClientApiVersions failed: {proc.stderr[-2000:]}")
    ranges = {}
    for line in proc.stdout.splitlines():
        key, name, oldest, latest = line.split()
        ranges[int(key)] = ApiRange(int(key), name, int(oldest), int(latest))
    return ranges


def gaps(client: dict[int, ApiRange], broker: dict[int, ApiRange]) -> dict[str, str]:
    """API name -> what is wrong, for every client API the broker does not serve in a common version."""
    found = {}
    for key, c in client.items():
        b = broker.get(key)
        if b is None:
            found[c.name] = "not served"
        elif b.latest < c.oldest or b.oldest > c.latest:
            found[c.name] = f"broker {b.oldest}-{b.latest}, clients {c.oldest}-{c.latest}"
    return found
