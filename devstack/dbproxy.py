"""A MySQL-protocol relay between Debezium >= 3.6 and the devstack MariaDB (one devstack piece).

Debezium 3.6's MySQL connector asks `SHOW BINARY LOG STATUS` (MySQL >= 8.2's name) and, when
that fails on a server whose version reads as 10 or more, refuses it: against MariaDB 10.11 a
connector then fails config validation with "MySQL version 10.11… should support SHOW BINARY
LOG STATUS but it failed". The wheels carry no Debezium MariaDB connector, and no MySQL server
is obtainable here. So for Connect 4.3 the connectors reach MariaDB through this relay, which
passes every byte through unchanged except that one statement, rewritten to MariaDB's
`SHOW MASTER STATUS` (same first four columns). The binlog stream itself is untouched, and
cdc_watch always talks to MariaDB directly.

It parses only the client-to-server packets (3-byte length, sequence id, payload) and needs a
plain connection: the devstack MariaDB has no TLS (`have_ssl=DISABLED`), so clients never switch
to TLS. When MariaDB is down, a new client connection is closed at once, as a refused one would
be; when either side closes, the other is closed too.

Run: python -m devstack.dbproxy --listen PORT --upstream PORT
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

COM_QUERY = 0x03
REWRITES = {b"SHOW BINARY LOG STATUS": b"SHOW MASTER STATUS"}


def rewrite_packet(payload: bytes) -> bytes:
    """The payload to send on for one client packet (a rewritten query, or the same bytes)."""
    if payload[:1] == bytes([COM_QUERY]):
        statement = payload[1:].strip().rstrip(b";").strip()
        replacement = REWRITES.get(statement.upper())
        if replacement is not None:
            return bytes([COM_QUERY]) + replacement
    return payload


class ClientStream:
    """Cuts the client's byte stream into packets and rewrites the ones that need it."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[0:3], "little")
            if len(self._buffer) < 4 + length:
                break
            seq = self._buffer[3]
            payload = bytes(self._buffer[4 : 4 + length])
            del self._buffer[: 4 + length]
            if length == 0xFFFFFF:  # part of a packet of 16 MiB or more: never a query to rewrite
                out += length.to_bytes(3, "little") + bytes([seq]) + payload
                continue
            payload = rewrite_packet(payload)
            out += len(payload).to_bytes(3, "little") + bytes([seq]) + payload
        return bytes(out)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: ClientStream | None) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(stream.feed(data) if stream is not None else data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


async def serve(listen_port: int, upstream_port: int, host: str = "127.0.0.1") -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(host, upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, server_writer, ClientStream()), _pipe(server_reader, client_writer, None)
        )

    server = await asyncio.start_server(handle, host, listen_port, reuse_address=True)
    print(f"devstack dbproxy: {host}:{listen_port} -> {host}:{upstream_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.dbproxy", description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--state-dir", default="", help="only marks the process as this devstack's")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen, args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
