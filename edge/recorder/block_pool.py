"""Preallocated sample blocks handed between the sampling thread and the writer thread,
so the hot path never allocates (beyond a bounded number of extra blocks for a slow card).
"""

from __future__ import annotations

import math
import threading
from collections import deque

import numpy as np

#: A block: times (rows,) in s and values (rows, S, 6).
Block = tuple[np.ndarray, np.ndarray]


class BlockPool:
    """Blocks of ``rows`` samples of ``n_sensors`` sensors.

    Args:
        rows: samples per block (``flush_interval_s`` of samples).
        n_sensors: sensors per sample.
        max_blocks: most blocks that ever exist (the writer's backlog bound).
        initial: blocks allocated up front.
    """

    def __init__(self, rows: int, n_sensors: int, max_blocks: int, initial: int = 4) -> None:
        self.rows = rows
        self._shape = (rows, n_sensors, 6)
        self.max_blocks = max(initial, max_blocks)
        self._free: deque[Block] = deque(self._new() for _ in range(initial))
        self._allocated = initial
        self._lock = threading.Lock()

    @classmethod
    def for_rates(
        cls, sample_rate_hz: float, n_sensors: int, flush_interval_s: float, max_backlog_s: float
    ) -> BlockPool:
        """Blocks of ``flush_interval_s`` (s) of samples, at most ``max_backlog_s`` (s)."""
        rows = max(1, math.ceil(flush_interval_s * sample_rate_hz))
        max_blocks = max(4, math.ceil(max_backlog_s / max(flush_interval_s, 1e-3)))
        return cls(rows, n_sensors, max_blocks)

    def _new(self) -> Block:
        return np.empty(self.rows), np.empty(self._shape)

    def take(self) -> Block | None:
        """A free block, a new one while under ``max_blocks``, else None (writer behind)."""
        with self._lock:
            if self._free:
                return self._free.popleft()
            if self._allocated < self.max_blocks:
                self._allocated += 1
                return self._new()
        return None

    def give_back(self, block: Block) -> None:
        """Return a block once its rows are written."""
        with self._lock:
            self._free.append(block)
