"""What the journal says while the broker cannot be reached: never nothing, never a flood.

paho retries by itself with back-off and tells the link only *that* a connect failed
(``on_connect_fail``); :func:`capture_connect_errors` keeps the reason (the ``OSError``
of the TCP or TLS connect: refused, no route, unknown host, certificate). The
:class:`ConnectFailureLog` then writes a WARNING naming the broker, the reason and what
to check at the first failure and whenever the reason changes, and a reminder with the
time offline and the queue every ``remind_s`` while it lasts; a refused CONNACK
(credentials, client id) is handled the same way at ERROR. The reconnect ends it with
one INFO line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("edge.mqtt.link")

REMIND_S = 30.0


def capture_connect_errors(client: Any, record: Callable[[str], None]) -> None:
    """Wrap ``client.reconnect`` (what paho's network loop calls for every attempt) so
    the reason of a failed attempt reaches ``record`` before paho's ``on_connect_fail``."""
    original = client.reconnect

    def reconnect(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except OSError as exc:
            record(" ".join(str(exc).split()) or type(exc).__name__)
            raise

    client.reconnect = reconnect


class ConnectFailureLog:
    """Rate-limited log lines about an unreachable or refusing broker.

    Args:
        where: ``host:port`` for the messages.
        remind_s: the same problem is repeated at most this often (s).
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self, where: str, remind_s: float = REMIND_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.where = where
        self.remind_s = remind_s
        self._clock = clock
        self._reason: str | None = None
        self._since: float | None = None
        self._last_line = -float("inf")
        self.attempts = 0
        self.lines = 0

    def failed(self, reason: str, *, refused: bool = False, queued: int = 0, dropped: int = 0):
        """One failed attempt (``refused``: the broker answered and said no)."""
        now = self._clock()
        self.attempts += 1
        if self._since is None:
            self._since = now
        level = logging.ERROR if refused else logging.WARNING
        if reason != self._reason:
            self._reason = reason
            hint = (
                "check [mqtt] username/password and that no other device uses this client id"
                if refused
                else "check [mqtt] host and port, the network, and that the broker runs"
            )
            what = "refused the connection" if refused else "is unreachable"
            log.log(level, "MQTT broker %s %s: %s; retrying (%s)", self.where, what, reason, hint)
        elif now - self._last_line >= self.remind_s:
            log.log(
                level,
                "MQTT broker %s still %s after %.0f s (%d attempts): %s; %d messages queued, "
                "%d dropped",
                *(self.where, "refusing" if refused else "unreachable", now - self._since),
                *(self.attempts, reason, queued, dropped),
            )
        else:
            return
        self._last_line = now
        self.lines += 1

    def connected(self) -> None:
        """The connection is up: a line if there were failures, and start afresh."""
        if self._since is not None:
            log.info(
                "MQTT broker %s reachable again after %d failed attempts",
                *(self.where, self.attempts),
            )
        self._reason = None
        self._since = None
        self._last_line = -float("inf")
        self.attempts = 0
