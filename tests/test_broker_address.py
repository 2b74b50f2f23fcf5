"""The one broker address parser (command lines, dashboard, simulation config)."""

from __future__ import annotations

import pytest

from edge.mqtt.broker_address import BrokerAddress, parse_broker_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost", BrokerAddress("localhost", 1883)),
        ("127.0.0.1:1884", BrokerAddress("127.0.0.1", 1884)),
        (" pi.local:1 ", BrokerAddress("pi.local", 1)),
        ("mqtt://broker.lan", BrokerAddress("broker.lan", 1883)),
        ("mqtt://broker.lan:2000/", BrokerAddress("broker.lan", 2000)),
        ("mqtts://broker.lan", BrokerAddress("broker.lan", 8883, tls=True)),
        ("MQTTS://broker.lan:8884", BrokerAddress("broker.lan", 8884, tls=True)),
        ("[::1]:1885", BrokerAddress("::1", 1885)),
        ("[::1]", BrokerAddress("::1", 1883)),
        ("mqtts://[fe80::1]:65535", BrokerAddress("fe80::1", 65535, tls=True)),
    ],
)
def test_accepted_forms(text: str, expected: BrokerAddress) -> None:
    assert parse_broker_address(text) == expected


def test_default_port_and_text_form() -> None:
    assert parse_broker_address("h", default_port=2883).port == 2883
    assert str(parse_broker_address("[::1]:1885")) == "[::1]:1885"
    assert str(parse_broker_address("mqtt://h")) == "h:1883"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("h:abc", "broker port 'abc' is not a number (1-65535)"),
        ("h:0", "broker port '0' is not a number (1-65535)"),
        ("h:70000", "broker port '70000' is not a number (1-65535)"),
        ("h:-1", "broker port '-1' is not a number (1-65535)"),
        ("h:", "broker port '' is not a number (1-65535)"),
        (":1883", "has no host"),
        ("", "has no host"),
        ("mqtt://", "has no host"),
        ("ws://h:80", "unknown scheme 'ws'"),
        ("::1:1883", "IPv6 addresses in brackets"),
        ("[::1", "expected [IPv6 address]:port"),
        ("[::1]x", "expected [IPv6 address]:port"),
    ],
)
def test_bad_addresses_give_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_broker_address(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
