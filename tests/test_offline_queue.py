"""The MQTT link's offline queue and its drop policy, without a broker: many random
sequences of submit / take+publish / take+drop / take+put back / close, checked after
every step against the invariant and against a plain reference model."""

from __future__ import annotations

import random

import pytest

from edge.mqtt.acks import PublishAcks, SubscriptionAcks
from edge.mqtt.offline_queue import OfflineQueue, QueuedMessage


class Reference:
    """The policy written as plainly as possible: one list, oldest first."""

    def __init__(self, max_messages: int, drop_newest: bool) -> None:
        self.max, self.drop_newest = max_messages, drop_newest
        self.items: list[tuple[int, bool]] = []  # (id, reliable)
        self.dropped: list[int] = []

    def submit(self, ident: int, reliable: bool) -> bool:
        if len(self.items) >= self.max:
            bulk = [i for i in self.items if not i[1]]
            if reliable:
                victim = bulk[0] if bulk else self.items[0]
            elif self.drop_newest or not bulk:
                self.dropped.append(ident)
                return False
            else:
                victim = bulk[0]
            self.items.remove(victim)
            self.dropped.append(victim[0])
        self.items.append((ident, reliable))
        return True


def _message(ident: int, reliable: bool) -> QueuedMessage:
    return QueuedMessage(f"t/{ident}", str(ident).encode(), 1 if reliable else 0, False, reliable)


def _ident(msg: QueuedMessage) -> int:
    return int(msg.topic[2:])


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
@pytest.mark.parametrize("seed", range(150))
def test_random_sequences_keep_the_invariant_and_the_policy(seed: int, policy: str) -> None:
    rng = random.Random(seed)
    size = rng.choice([1, 2, 3, 5, 8, 20])
    q = OfflineQueue(size, policy)  # type: ignore[arg-type]
    ref = Reference(size, policy == "drop_newest")
    published: list[int] = []
    dropped_out: list[int] = []
    for ident in range(rng.randrange(50, 400)):
        op = rng.random()
        if op < 0.6:  # submit; bursts overflow small queues
            reliable = rng.random() < 0.3
            accepted = q.submit(_message(ident, reliable))
            assert accepted == ref.submit(ident, reliable)
        else:
            msg = q.take()
            if msg is None:
                assert not ref.items
            else:
                assert (_ident(msg), msg.reliable) == ref.items[0]  # oldest first
                how = rng.random()
                if how < 0.7:
                    q.mark_published()
                    published.append(ref.items.pop(0)[0])
                elif how < 0.85:
                    q.mark_dropped()
                    dropped_out.append(ref.items.pop(0)[0])
                else:
                    q.put_back()  # stays the oldest of the queue
        assert q.submitted == q.published + q.dropped + q.queued
        assert q.waiting <= size and q.queued == len(ref.items)
        assert q.published == len(published)
        assert q.dropped == len(ref.dropped) + len(dropped_out)
    left = q.drop_all()
    assert left == len(ref.items) and q.queued == 0
    assert q.submitted == q.published + q.dropped
    assert published == sorted(published)  # never out of order


def test_a_full_queue_drops_bulk_before_reliable() -> None:
    q = OfflineQueue(3)
    for i in range(3):
        q.submit(_message(i, reliable=i == 1))
    assert q.submit(_message(3, reliable=True))  # drops bulk 0
    assert q.submit(_message(4, reliable=False))  # drops bulk 2 (the oldest bulk)
    assert (q.dropped_bulk, q.dropped_reliable) == (2, 0)
    assert q.submit(_message(5, reliable=True))  # drops bulk 4
    assert q.submit(_message(6, reliable=True))  # only reliable left: drops reliable 1
    assert (q.dropped_bulk, q.dropped_reliable) == (3, 1)
    assert not q.submit(_message(7, reliable=False))  # no bulk to drop: itself
    order = []
    while (msg := q.take()) is not None:
        order.append(_ident(msg))
        q.mark_published()
    assert order == [3, 5, 6]
    assert q.submitted == 8 == q.published + q.dropped


def test_drop_newest_and_refuse() -> None:
    q = OfflineQueue(2, "drop_newest")
    assert q.submit(_message(0, False)) and q.submit(_message(1, False))
    assert not q.submit(_message(2, False))
    q.refuse(_message(3, True))
    assert (q.submitted, q.dropped_bulk, q.dropped_reliable, q.queued) == (4, 1, 1, 2)
    with pytest.raises(ValueError):
        OfflineQueue(0)


def test_one_message_in_transit_at_a_time() -> None:
    q = OfflineQueue(4)
    q.submit(_message(0, False))
    q.submit(_message(1, False))
    assert _ident(q.take()) == 0  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        q.take()
    q.put_back()
    assert _ident(q.take()) == 0  # type: ignore[arg-type]
    q.mark_published()
    with pytest.raises(RuntimeError):
        q.mark_dropped()


def test_acks_count_early_confirmations_and_lost_qos0() -> None:
    acks = PublishAcks()
    acks.confirmed(7)  # paho confirmed before the sender recorded the id
    acks.handed_over(7, 0)
    acks.handed_over(8, 1)
    acks.handed_over(9, 0)
    acks.handed_over(10, 1, counted=False)  # status/meta: not a queue message
    assert acks.delivered == 1 and len(acks) == 3
    acks.confirmed(10)
    acks.connection_lost()  # QoS 0 id 9 is lost, QoS 1 id 8 stays for the resend
    assert (acks.delivered, acks.lost_in_flight, len(acks)) == (1, 1, 1)
    acks.confirmed(8)
    assert (acks.delivered, len(acks)) == (2, 0)
    subs = SubscriptionAcks()
    subs.acknowledged(3)
    subs.sent(3)
    subs.sent(4)
    assert not subs.all_acknowledged
    subs.acknowledged(4)
    assert subs.all_acknowledged
    subs.sent(5)
    subs.clear()
    assert subs.all_acknowledged
