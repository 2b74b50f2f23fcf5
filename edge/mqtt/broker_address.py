"""The one parser of MQTT broker addresses given on command lines.

Accepted forms: ``host``, ``host:port``, ``mqtt://host[:port]``, ``mqtts://host[:port]``,
``[::1]``, ``[::1]:port`` (IPv6 in brackets, as in URLs). Without a port: 1883, or 8883
for ``mqtts://``. Every problem is one :class:`ValueError` line, e.g.
``broker port 'abc' is not a number (1-65535)``.
"""

from __future__ import annotations

from dataclasses import dataclass

MQTT_PORT = 1883
MQTTS_PORT = 8883
_SCHEMES = {"mqtt": False, "mqtts": True}


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker listens.

    Attributes:
        host: host name or IP address (IPv6 without brackets).
        port: TCP port (1-65535).
        tls: True for ``mqtts://``.
    """

    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _port(text: str) -> int:
    if not text.isdecimal() or not 0 < int(text) < 65536:
        raise ValueError(f"broker port {text!r} is not a number (1-65535)")
    return int(text)


def parse_broker_address(text: str, default_port: int | None = None) -> BrokerAddress:
    """Parse a broker address (see the module docstring).

    Args:
        text: the address as typed.
        default_port: port when none is given (default 1883, or 8883 for ``mqtts://``).

    Raises:
        ValueError: one line naming the problem (no host, bad port, unknown scheme).
    """
    rest = text.strip()
    tls = False
    scheme, sep, after = rest.partition("://")
    if sep:
        if scheme.lower() not in _SCHEMES:
            raise ValueError(f"broker address {text!r}: unknown scheme {scheme!r} (mqtt, mqtts)")
        tls = _SCHEMES[scheme.lower()]
        rest = after.rstrip("/")
    port = default_port if default_port is not None else (MQTTS_PORT if tls else MQTT_PORT)
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ValueError(f"broker address {text!r}: expected [IPv6 address]:port")
        if tail:
            port = _port(tail[1:])
    elif rest.count(":") > 1:
        raise ValueError(f"broker address {text!r}: write IPv6 addresses in brackets, [::1]:1883")
    else:
        host, sep, port_text = rest.partition(":")
        if sep:
            port = _port(port_text)
    if not host:
        raise ValueError(f"broker address {text!r} has no host")
    return BrokerAddress(host, port, tls)


def _is_bare_ipv6(text: str) -> bool:
    return text.count(":") > 1 and "://" not in text and not text.startswith("[")


def split_host_setting(data: dict) -> dict:
    """``[mqtt]`` settings with ``host`` given in any address form split into ``host``,
    ``port`` and (``mqtts://``) an empty ``tls`` table, so ``host = "mqtts://b.lan:8884"``
    means what it says. A port in ``host`` that contradicts ``port`` is an error; an
    address that does not parse is left as it is, for :func:`check_host_setting` to name.

    Raises:
        ValueError: ``host`` and ``port`` give different ports.
    """
    host = data.get("host")
    if not isinstance(host, str) or _is_bare_ipv6(host.strip()):
        return data
    if "://" not in host and ":" not in host:
        return data
    try:
        given = parse_broker_address(host, default_port=0)  # 0: no port in the text
    except ValueError:
        return data
    out = dict(data, host=given.host)
    if given.tls and out.get("tls") is None:
        out["tls"] = {}
    default = MQTTS_PORT if given.tls else MQTT_PORT
    if given.port:
        if "port" in data and data["port"] != given.port:
            raise ValueError(
                f"host {host!r} gives port {given.port} but port = {data['port']}: give it once"
            )
        out["port"] = given.port
    elif "port" not in data:
        out["port"] = default
    return out


def check_host_setting(host: str) -> str:
    """``[mqtt] host`` after :func:`split_host_setting`: a plain host name or address.

    Raises:
        ValueError: one line, e.g. ``broker port 'abc' is not a number (1-65535)``.
    """
    if _is_bare_ipv6(host.strip()):
        return host.strip()
    if "://" in host or ":" in host:
        parse_broker_address(host)  # raises the one-line reason
    if "/" in host or any(c.isspace() for c in host.strip()):
        raise ValueError(f"{host!r} is not a host name or address")
    return host.strip()
