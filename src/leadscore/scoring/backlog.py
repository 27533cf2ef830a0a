"""The scoring log's backlog: rows durable in the journal but not in the table yet, and how long
the oldest has waited (the consumer lag), kept in memory so health and metrics never read a file
or a database."""

from __future__ import annotations

import threading
import time
from collections import deque


class Backlog:
    """Rows journaled and not yet shipped, in the order they are shipped (oldest first)."""

    def __init__(self) -> None:
        self._groups: deque[list[float]] = deque()  # [journaled at (epoch seconds), rows]
        self._rows = 0
        self._lock = threading.Lock()

    def add(self, rows: int, at: float | None = None) -> None:
        """`rows` more wait, journaled at `at` (now by default)."""
        if rows <= 0:
            return
        with self._lock:
            self._groups.append([time.time() if at is None else at, rows])
            self._rows += rows

    def remove(self, rows: int) -> None:
        """`rows` of the oldest were shipped (or set aside)."""
        with self._lock:
            self._rows = max(0, self._rows - rows)
            while rows > 0 and self._groups:
                group = self._groups[0]
                taken = min(rows, int(group[1]))
                group[1] -= taken
                rows -= taken
                if group[1] <= 0:
                    self._groups.popleft()

    @property
    def rows(self) -> int:
        return self._rows

    def oldest_seconds(self, now: float | None = None) -> float:
        """How long the oldest unshipped row has waited (0 when none waits)."""
        with self._lock:
            if not self._groups:
                return 0.0
            return max(0.0, (time.time() if now is None else now) - self._groups[0][0])
