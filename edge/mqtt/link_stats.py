"""The MQTT link's counters, as one consistent snapshot (:meth:`MqttLink.stats`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinkStats:
    """A consistent snapshot of the link's counters.

    Attributes:
        connected: a CONNACK accepted and no disconnect since.
        connects: accepted CONNACKs; reconnects: those after the first.
        refused: CONNACKs with a failure reason code (bad credentials, ...).
        disconnects: connections lost or closed.
        submitted: messages given to ``publish_*`` (bulk + reliable).
        published: handed to paho while connected.
        dropped: dropped by the queue policy (or undeliverable, or left at close).
        dropped_bulk / dropped_reliable: ``dropped`` split by class.
        queued: waiting in the offline queue now (including one being handed over).
        delivered: QoS 0 written to the socket / QoS 1 acknowledged by the broker.
        lost_in_flight: QoS 0 messages handed to paho that a lost connection discarded.
        last_error: the last connection problem, in words.
    """

    connected: bool
    connects: int
    reconnects: int
    refused: int
    disconnects: int
    submitted: int
    published: int
    dropped: int
    dropped_bulk: int
    dropped_reliable: int
    queued: int
    delivered: int
    lost_in_flight: int
    last_error: str | None
