"""The MQTT link's bounded offline queue and its drop policy: pure (no paho, no threads).

One queue of at most ``max_messages``. Estimates and health are *bulk*; command results
and other messages are *reliable*. When the queue is full, an arriving bulk message drops
the oldest bulk message (``drop_oldest``) or itself (``drop_newest``), never a reliable
one; an arriving reliable message drops the oldest bulk message, and only when the queue
holds nothing but reliable messages, the oldest reliable one. Messages leave oldest
first, whatever their class. Every drop is counted. Invariant, after every call:
``submitted == published + dropped + queued`` (``queued`` counts the message being
handed over). Not thread-safe: the link calls it under its own lock.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

log = logging.getLogger(__name__)

DropPolicy = Literal["drop_oldest", "drop_newest"]


@dataclass(slots=True)
class QueuedMessage:
    """One message waiting for the broker; ``payload`` may be encoded late (a callable)."""

    topic: str
    payload: bytes | Callable[[], bytes]
    qos: int
    retain: bool
    reliable: bool
    seq: int = field(default=-1, compare=False)


class OfflineQueue:
    """Bounded FIFO with the drop policy of the module docstring.

    Args:
        max_messages: most messages waiting (≥ 1).
        policy: which bulk message a full queue drops.
    """

    def __init__(self, max_messages: int, policy: DropPolicy = "drop_oldest") -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        self.max_messages = max_messages
        self.drop_newest = policy == "drop_newest"
        self._bulk: deque[QueuedMessage] = deque()
        self._reliable: deque[QueuedMessage] = deque()
        self._seq = itertools.count()
        self.in_transit: QueuedMessage | None = None
        self.submitted = 0
        self.published = 0
        self.dropped_bulk = 0
        self.dropped_reliable = 0

    # ---- counts ----------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        return self.dropped_bulk + self.dropped_reliable

    @property
    def waiting(self) -> int:
        """Messages in the queue (not counting one being handed over)."""
        return len(self._bulk) + len(self._reliable)

    @property
    def queued(self) -> int:
        """Messages not yet published or dropped (including one being handed over)."""
        return self.waiting + (self.in_transit is not None)

    def _count_drop(self, msg: QueuedMessage) -> None:
        if msg.reliable:
            self.dropped_reliable += 1
        else:
            self.dropped_bulk += 1

    # ---- in --------------------------------------------------------------------------
    def submit(self, msg: QueuedMessage) -> bool:
        """Queue ``msg``, dropping by the policy when full; False when ``msg`` itself was
        dropped."""
        self.submitted += 1
        if self.waiting >= self.max_messages:
            if msg.reliable:
                if self._bulk:
                    self._count_drop(self._bulk.popleft())
                else:
                    self._count_drop(self._reliable.popleft())
                    log.warning("offline queue full of reliable messages: dropped the oldest")
            elif self.drop_newest or not self._bulk:
                self._count_drop(msg)
                return False
            else:
                self._count_drop(self._bulk.popleft())
        msg.seq = next(self._seq)
        (self._reliable if msg.reliable else self._bulk).append(msg)
        return True

    def refuse(self, msg: QueuedMessage) -> None:
        """Count ``msg`` as submitted and dropped at once (the link is closing)."""
        self.submitted += 1
        self._count_drop(msg)

    # ---- out -------------------------------------------------------------------------
    def take(self) -> QueuedMessage | None:
        """The oldest waiting message, now *in transit* (one at a time), or None.

        Settle it with :meth:`mark_published`, :meth:`mark_dropped` or :meth:`put_back`.
        """
        if self.in_transit is not None:
            raise RuntimeError("a message is in transit already")
        if not self.waiting:
            return None
        bulk, reliable = self._bulk, self._reliable
        if bulk and (not reliable or bulk[0].seq < reliable[0].seq):
            self.in_transit = bulk.popleft()
        else:
            self.in_transit = reliable.popleft()
        return self.in_transit

    def _settle(self) -> QueuedMessage:
        msg = self.in_transit
        if msg is None:
            raise RuntimeError("no message in transit")
        self.in_transit = None
        return msg

    def mark_published(self) -> None:
        """The message in transit went to the broker (or paho keeps it for a resend)."""
        self._settle()
        self.published += 1

    def mark_dropped(self) -> None:
        """The message in transit cannot be sent (paho refused it)."""
        self._count_drop(self._settle())

    def put_back(self) -> None:
        """The connection ended while handing over: the message goes back to the front
        of its class, in its place, for the next connection."""
        msg = self._settle()
        (self._reliable if msg.reliable else self._bulk).appendleft(msg)

    def drop_all(self) -> int:
        """Drop every waiting message (the link closes); returns how many."""
        n = self.waiting
        self.dropped_bulk += len(self._bulk)
        self.dropped_reliable += len(self._reliable)
        self._bulk.clear()
        self._reliable.clear()
        return n
