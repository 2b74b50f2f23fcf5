"""Bookkeeping of what the broker has confirmed, by paho message id (pure: no paho,
no threads; the link calls it under its lock).

paho may confirm a message (PUBACK, QoS 0 written) or a subscription (SUBACK) before
the caller has recorded the id it got back, so both trackers keep "early" ids.
"""

from __future__ import annotations


class PublishAcks:
    """Messages handed to paho and not yet written (QoS 0) or acknowledged (QoS 1).

    Attributes:
        delivered: counted messages confirmed.
        lost_in_flight: counted QoS 0 messages that a lost connection discarded.
    """

    def __init__(self) -> None:
        self._inflight: dict[int, tuple[int, bool]] = {}  # mid -> (qos, counted)
        self._early: set[int] = set()
        self.delivered = 0
        self.lost_in_flight = 0

    def __len__(self) -> int:
        return len(self._inflight)

    def handed_over(self, mid: int, qos: int, *, counted: bool = True) -> None:
        """Record a message paho took; ``counted`` False for status/meta/discovery."""
        if mid in self._early:
            self._early.discard(mid)
            self.delivered += counted
        else:
            self._inflight[mid] = (qos, counted)

    def confirmed(self, mid: int) -> None:
        """paho's on_publish for ``mid``."""
        entry = self._inflight.pop(mid, None)
        if entry is not None:
            self.delivered += entry[1]
        else:
            self._early.add(mid)

    def connection_lost(self) -> None:
        """QoS 0 messages still in paho are lost; QoS 1 ones stay (paho resends them)."""
        lost = [mid for mid, (qos, _) in self._inflight.items() if qos == 0]
        for mid in lost:
            self.lost_in_flight += self._inflight.pop(mid)[1]
        self._early.clear()


class SubscriptionAcks:
    """SUBSCRIBE requests waiting for their SUBACK."""

    def __init__(self) -> None:
        self._pending: set[int] = set()
        self._early: set[int] = set()

    @property
    def all_acknowledged(self) -> bool:
        return not self._pending

    def sent(self, mid: int) -> None:
        """Record a SUBSCRIBE paho sent (it may have been acknowledged already)."""
        if mid in self._early:
            self._early.discard(mid)
        else:
            self._pending.add(mid)

    def acknowledged(self, mid: int) -> None:
        """paho's on_subscribe for ``mid``."""
        if mid in self._pending:
            self._pending.discard(mid)
        else:
            self._early.add(mid)

    def clear(self) -> None:
        """The connection ended: subscriptions are sent again on the next one."""
        self._pending.clear()
        self._early.clear()
