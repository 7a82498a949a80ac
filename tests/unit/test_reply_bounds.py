"""Upstream reply bounds: size caps, nesting depth, absurd numbers, hangs and drip-feeds.

Every case runs the real HTTP path (httpx over loopback) against `FakeHTTP` misbehaving in
exactly one way, and checks the reason label the poll ends with.
"""

from __future__ import annotations

import gzip
import itertools
import json

import pymysql.err
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdc_watch.config import ConfigError, parse_config
from cdc_watch.core.model import ErrorReason, PollResult, SourceFailure
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.exporter.exposition import format_value
from cdc_watch.exporter.jolokia import jolokia_metrics
from cdc_watch.exporter.render import render
from cdc_watch.sources.connect.poll import ConnectSource
from cdc_watch.sources.http import may_hold_absurd_numbers
from cdc_watch.sources.jolokia import parse as jolokia_parse
from cdc_watch.sources.jolokia.model import Group
from cdc_watch.sources.jolokia.poll import JolokiaSource
from cdc_watch.sources.mysql import poll as mysql_poll
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.recorded import body, recorded
from tests.unit.test_jolokia_source import connect_state

EXPAND = "/connectors?expand=status&expand=info"
HUGE_INT = "1" + "0" * 400  # parses as an int; float() overflows
LONG_INT = "9" * 5000  # more digits than int() converts (4,300)
HUGE_FLOAT = "1e400"  # a float literal that overflows to infinity


@pytest.fixture
def fake():
    with FakeHTTP() as server:
        yield server
    assert not server.unexpected, f"unexpected requests: {[(s.method, s.path) for s in server.unexpected]}"


def connect_cluster(url: str, **extra):
    return parse_config(
        {"connect_clusters": [{"name": "prod", "urls": [url], "timeout": "5s", **extra}]}
    ).connect_clusters[0]


def poll_connect(fake: FakeHTTP, reply: Reply, **extra) -> SourceFailure:
    fake.route("GET", "/", Reply(200, body("connect", "root")))
    fake.route("GET", EXPAND, reply)
    source = ConnectSource(connect_cluster(fake.url, **extra))
    try:
        with pytest.raises(SourceFailure) as caught:
            source.poll()
    finally:
        source.client.close()
    return caught.value


# --------------------------------------------------------------------------- size


def test_a_reply_announcing_more_than_the_cap_is_refused_unread(fake):
    failure = poll_connect(fake, Reply(200, b" " * (200 << 10)), max_reply_size="64KiB")
    assert failure.reason is ErrorReason.TOO_LARGE
    assert "announces 200 KiB" not in failure.message  # sizes under 1 MiB are shown in bytes
    assert f"announces {200 << 10} bytes" in failure.message and "max_reply_size" in failure.message


def test_an_endless_reply_without_length_stops_at_the_cap(fake):
    # No Content-Length and no end: only a reader that stops at the cap ends with too_large
    # (one that reads on would hold ever more and end at the 5 s timeout instead).
    endless = Reply(200, chunks=lambda: itertools.repeat(b"[" + b" " * 65535))
    failure = poll_connect(fake, endless, max_reply_size="1MiB")
    assert failure.reason is ErrorReason.TOO_LARGE
    assert "goes past the cap of 1.0 MiB" in failure.message


def test_a_gzip_bomb_is_stopped_at_the_decoded_cap(fake):
    bomb = gzip.compress(b" " * (32 << 20))  # 32 MiB of spaces in about 32 KiB
    assert len(bomb) < 64 << 10
    failure = poll_connect(fake, Reply(200, bomb, headers={"Content-Encoding": "gzip"}), max_reply_size="1MiB")
    assert failure.reason is ErrorReason.TOO_LARGE


def test_a_gzip_reply_within_the_cap_is_read(fake):
    fake.route("GET", "/", Reply(200, body("connect", "root")))
    expanded = json.dumps(body("connect", "connectors_expand_healthy")).encode()
    fake.route("GET", EXPAND, Reply(200, gzip.compress(expanded), headers={"Content-Encoding": "gzip"}))
    source = ConnectSource(connect_cluster(fake.url))
    state = source.poll()
    source.client.close()
    assert len(state.connectors) == 1
    assert all(seen.headers.get("Accept-Encoding") == "gzip" for seen in fake.requests)


def test_a_corrupt_gzip_body_is_a_decode_error(fake):
    failure = poll_connect(fake, Reply(200, b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"}))
    assert failure.reason is ErrorReason.DECODE


def test_an_encoding_not_asked_for_is_a_decode_error(fake):
    failure = poll_connect(fake, Reply(200, b"{}", headers={"Content-Encoding": "br"}))
    assert failure.reason is ErrorReason.DECODE and "Content-Encoding" in failure.message


def test_the_default_caps_and_their_limits():
    cluster = parse_config(
        {"connect_clusters": [{"url": "http://c:8083", "jolokia": {"url": "http://c:8778/jolokia"}}]}
    ).connect_clusters[0]
    assert cluster.max_reply_size == 64 << 20
    assert cluster.jolokia is not None and cluster.jolokia.max_reply_size == 16 << 20
    for bad in ("512", "2GiB", "lots"):
        with pytest.raises(ConfigError) as caught:
            parse_config({"connect_clusters": [{"url": "http://c:8083", "max_reply_size": bad}]})
        assert [p.split(":")[0] for p in caught.value.problems] == ["connect_clusters[0].max_reply_size"]


# --------------------------------------------------------------------------- depth


def test_a_reply_nested_100000_levels_deep_is_a_decode_error(fake):
    deep = b"[" * 100_000 + b"]" * 100_000
    failure = poll_connect(fake, Reply(200, deep))
    assert failure.reason is ErrorReason.DECODE
    assert "nested deeper than" in failure.message


# --------------------------------------------------------------------------- hang, drip-feed


def test_a_hanging_and_a_dripping_jolokia_endpoint_time_out_within_the_timeout(fake):
    fake.route("POST", "/hang", Reply(200, [], delay=3.0))
    fake.route("POST", "/drip", Reply(200, b"[" + b" " * 200 + b"]", trickle=0.01))  # 2 s in all
    source = jolokia_source(fake, ["/hang", "/drip"], timeout="300ms")
    try:
        with pytest.raises(SourceFailure) as caught:
            source.poll()
    finally:
        source.close()
    assert caught.value.reason is ErrorReason.TIMEOUT
    assert "all 2 Jolokia endpoints failed" in caught.value.message


# --------------------------------------------------------------------------- absurd numbers


def jolokia_source(fake: FakeHTTP, paths: list[str], **extra) -> JolokiaSource:
    cfg = parse_config(
        {
            "connect_clusters": [
                {
                    "name": "dev",
                    "url": "http://connect:8083",
                    "jolokia": {"urls": [fake.url + p for p in paths], **extra},
                }
            ]
        }
    )
    return JolokiaSource(cfg.connect_clusters[0])


def bulk_text(replacements: dict[tuple[int, str, str | None], str]) -> bytes:
    """The recorded bulk reply with some attribute values replaced by raw JSON number text:
    (element index, attribute, MBean key or None for a plain read) -> text."""
    reply = recorded("jolokia", "bulk_worker_with_debezium")["reply"]
    marks = {}
    for n, ((index, attribute, mbean), text) in enumerate(replacements.items()):
        value = reply[index]["value"]
        target = value if mbean is None else value[mbean]
        assert attribute in target
        mark = f"@@absurd{n}@@"
        target[attribute] = mark
        marks[f'"{mark}"'] = text
    out = json.dumps(reply)
    for mark, text in marks.items():
        out = out.replace(mark, text)
    return out.encode()


STREAMING = "debezium.mysql:context=streaming,server=dbserver1,type=connector-metrics"
WORKER = next(i for i, (group, _) in enumerate(jolokia_parse.BULK) if group is Group.WORKER)
STREAMING_INDEX = 11


def test_absurd_numbers_skip_only_their_attributes_and_are_counted(fake):
    assert jolokia_parse.BULK[STREAMING_INDEX][0] is Group.DEBEZIUM_STREAMING
    fake.route(
        "POST",
        "/jolokia",
        Reply(
            200,
            bulk_text(
                {
                    (WORKER, "connector-count", None): HUGE_INT,
                    (WORKER, "task-count", None): "-" + LONG_INT,
                    (STREAMING_INDEX, "MilliSecondsBehindSource", STREAMING): HUGE_FLOAT,
                }
            ),
        ),
    )
    source = jolokia_source(fake, ["/jolokia"])
    store = SnapshotStore()
    store.register([("connect:dev", "connect"), ("jolokia:dev", "jolokia")])
    store.record(PollResult("connect:dev", "connect", 1000.0, 0.1, data=connect_state()))
    try:
        state = source.poll(store.current())
    finally:
        source.close()
    reading = state.endpoints[fake.url + "/jolokia"]
    assert reading.up and reading.skipped_values == 3
    assert reading.worker is not None
    assert reading.worker["connector-count"] is None and reading.worker["task-count"] is None
    assert reading.worker["connector-startup-attempts-total"] == 1.0  # the rest of the MBean stands
    streaming = state.streaming["inventory-connector"]
    assert streaming.ms_behind_source is None and streaming.connected is True
    store.record(PollResult("jolokia:dev", "jolokia", 2000.0, 0.1, data=state))
    cfg = parse_config(
        {
            "connect_clusters": [
                {"name": "dev", "url": "http://connect:8083", "jolokia": {"urls": [fake.url + "/jolokia"]}}
            ]
        }
    )
    text = render(store.current(), [jolokia_metrics(lambda: cfg)]).decode()
    samples = {
        (s.name, s.labels.get("endpoint")): s.value for fam in text_string_to_metric_families(text) for s in fam.samples
    }
    assert samples[("cdc_jolokia_skipped_values", fake.url + "/jolokia")] == 3
    assert samples[("cdc_jolokia_up", fake.url + "/jolokia")] == 1


@pytest.mark.parametrize(
    ("text", "absurd"),
    [
        (HUGE_INT, True),
        (LONG_INT, True),
        (HUGE_FLOAT, True),
        ("[1.5E+308]", True),
        ("[1e400 ]", True),
        ('{"a": -2e0400}', True),
        ("[1" + "0" * 20 + "e" + "9" * 14 + "]", True),
        ("[1e-400]", False),
        ("[1e99]", False),
        ("[1.2345E10]", False),
        ('["3e11fa47-71ca-11e1-9e33-c80aa9e42956:1-5"]', False),  # hex like 9e429, then more hex
        ('["ab9e123-4", "x9e123:1"]', False),
    ],
)
def test_the_scan_for_absurd_numbers(text, absurd):
    assert may_hold_absurd_numbers(text.encode()) is absurd


def test_a_recorded_reply_needs_no_closer_look():
    text = json.dumps(recorded("jolokia", "bulk_worker_with_debezium")["reply"]).encode()
    assert not may_hold_absurd_numbers(text)


def test_a_deep_and_an_oversize_jolokia_endpoint_fail_alone(fake):
    good = recorded("jolokia", "bulk_worker_with_debezium")["reply"]
    fake.route("POST", "/good", Reply(200, good))
    fake.route("POST", "/deep", Reply(200, b"[" * 100_000 + b"]" * 100_000))
    fake.route("POST", "/huge", Reply(200, chunks=lambda: itertools.repeat(b" " * 65536)))
    source = jolokia_source(fake, ["/good", "/deep", "/huge"], max_reply_size="1MiB")
    try:
        state = source.poll(None)  # read on the source's worker threads
    finally:
        source.close()
    readings = {url.removeprefix(fake.url): r for url, r in state.endpoints.items()}
    assert readings["/good"].up
    assert readings["/deep"].error is not None and readings["/deep"].error.reason is ErrorReason.DECODE
    assert readings["/huge"].error is not None and readings["/huge"].error.reason is ErrorReason.TOO_LARGE


def test_a_clean_reply_skips_nothing():
    reply = recorded("jolokia", "bulk_worker_with_debezium")["reply"]
    reading = jolokia_parse.parse_bulk_reply(jolokia_parse.Endpoint("e", "http://e"), reply)
    assert reading.up and reading.skipped_values == 0


def test_nan_and_infinity_literals_stay_no_sample_and_are_not_counted(fake):
    fake.route(
        "POST",
        "/jolokia",
        Reply(
            200,
            bulk_text({(WORKER, "connector-count", None): "NaN", (WORKER, "task-count", None): "Infinity"}),
        ),
    )
    source = jolokia_source(fake, ["/jolokia"])
    try:
        state = source.poll(None)
    finally:
        source.close()
    reading = state.endpoints[fake.url + "/jolokia"]
    assert reading.skipped_values == 0
    assert reading.worker is not None and reading.worker["task-count"] is None


# --------------------------------------------------------------------------- MySQL rows


class _Cursor:
    def __init__(self, rows: int):
        self.description = [("Log_name",), ("File_size",)]
        self._rows = iter((f"mysql-bin.{i:06d}", 100) for i in range(rows))
        self.fetched = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        assert sql == "SHOW BINARY LOGS"

    def fetchmany(self, size):
        rows = list(itertools.islice(self._rows, size))
        self.fetched += len(rows)
        return rows

    def nextset(self):
        return None


class _Connection:
    def __init__(self, rows: int):
        self.cursors: list[_Cursor] = []
        self.rows = rows

    def cursor(self, cursor_class=None):
        assert cursor_class is pymysql.cursors.SSCursor  # unbuffered: rows past the bound never held
        self.cursors.append(_Cursor(self.rows))
        return self.cursors[-1]

    def close(self):
        pass


@pytest.mark.parametrize(("rows", "ok"), [(mysql_poll.MAX_ROWS, True), (mysql_poll.MAX_ROWS + 5, False)])
def test_a_statement_returning_more_rows_than_the_bound_is_too_large(rows, ok):
    db = parse_config(
        {"connect_clusters": [{"url": "http://c:8083"}], "databases": [{"name": "db", "host": "h", "user": "u"}]}
    ).databases[0]
    conn = _Connection(rows)
    source = mysql_poll.MySQLSource(db, connect=lambda: conn)
    if ok:
        assert len(source._query("SHOW BINARY LOGS")[1]) == rows
    else:
        with pytest.raises(SourceFailure) as caught:
            source._query("SHOW BINARY LOGS")
        assert caught.value.reason is ErrorReason.TOO_LARGE
        assert f"SHOW BINARY LOGS returned more than {mysql_poll.MAX_ROWS} rows" in caught.value.message
    assert conn.cursors[-1].fetched <= mysql_poll.MAX_ROWS + 1


def test_mysql_errors_are_still_errors_not_size_failures():
    assert not issubclass(SourceFailure, pymysql.err.MySQLError)


def test_an_integer_past_the_float_range_renders_as_infinity_not_a_crash():
    assert format_value(int(HUGE_INT)) == "+Inf" and format_value(-int(HUGE_INT)) == "-Inf"
    assert format_value(2**64) == str(2**64)
