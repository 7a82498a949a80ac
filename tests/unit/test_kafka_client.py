"""Kafka endpoint settings: validation of the config section and the librdkafka settings built
from it (checked by librdkafka itself: a client is constructed, which refuses unknown or
ill-typed properties; no broker is contacted)."""

from __future__ import annotations

import logging

import confluent_kafka
import pytest
from pydantic import ValidationError

from cdc_watch.config import KafkaEndpoint
from cdc_watch.sources.kafka.client import client_settings, describe


def test_bootstrap_servers_read_as_kafka_clients_write_them() -> None:
    endpoint = KafkaEndpoint(bootstrap_servers="k1:9092, k2:9093,[::1]:9094")
    assert endpoint.bootstrap_servers == ("k1:9092", "k2:9093", "[::1]:9094")
    assert endpoint.security_protocol == "PLAINTEXT"


@pytest.mark.parametrize(
    ("servers", "says"),
    [
        ("user:pw@k1:9092", "put them under sasl"),
        ("kafka://k1:9092", "not host:port"),
        ("k1", "not host:port"),
        ("k1:99999", "out of range"),
        ("", "at least 1"),
    ],
)
def test_bad_bootstrap_servers_are_refused(servers: str, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        KafkaEndpoint(bootstrap_servers=servers)
    message = raised.value.errors(include_input=False)[0]["msg"]
    assert says in message
    assert "pw" not in message


def test_security_protocol_follows_tls_and_sasl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PW", "s3cr3t-kafka-pw")
    sasl = {"username": "watcher", "password": "${KAFKA_PW}"}
    assert KafkaEndpoint(bootstrap_servers="k:9092", sasl=sasl).security_protocol == "SASL_PLAINTEXT"
    assert KafkaEndpoint(bootstrap_servers="k:9092", tls={}, sasl=sasl).security_protocol == "SASL_SSL"
    assert KafkaEndpoint(bootstrap_servers="k:9092", tls={}).security_protocol == "SSL"


def test_sasl_password_is_a_secret_not_a_literal() -> None:
    with pytest.raises(ValidationError, match="never literally"):
        KafkaEndpoint(bootstrap_servers="k:9092", sasl={"username": "u", "password": "hunter2"})


def test_settings_are_accepted_by_librdkafka_and_carry_the_secret_only_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PW", "s3cr3t-kafka-pw")
    endpoint = KafkaEndpoint(
        bootstrap_servers="127.0.0.1:1",
        tls={"verify": False},
        sasl={"mechanism": "SCRAM-SHA-256", "username": "watcher", "password": "${KAFKA_PW}"},
        timeout="3s",
    )
    settings = client_settings(endpoint, **{"group.id": "cdc-watch"})
    assert settings["security.protocol"] == "SASL_SSL"
    assert settings["sasl.password"] == "s3cr3t-kafka-pw"
    assert settings["socket.timeout.ms"] == 3000
    assert settings["enable.ssl.certificate.verification"] is False
    assert isinstance(settings["logger"], logging.Logger)
    consumer = confluent_kafka.Consumer(settings)  # raises KafkaException on a property it refuses
    consumer.close()
    text = describe(endpoint)
    assert "s3cr3t" not in text and "SCRAM" not in text
    assert text == "kafka 127.0.0.1:1 SASL_SSL as watcher"
    assert "s3cr3t" not in repr(endpoint)


def test_an_unknown_property_is_refused_by_librdkafka() -> None:
    settings = client_settings(KafkaEndpoint(bootstrap_servers="127.0.0.1:1"), **{"no.such.property": 1})
    with pytest.raises(confluent_kafka.KafkaException, match="No such configuration property"):
        confluent_kafka.Producer(settings)
