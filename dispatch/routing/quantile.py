"""A sliding-window quantile: the live operating point of `ShareRouter`."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable

from dispatch.errors import ConfigError

__all__ = ("RunningQuantile",)


class RunningQuantile:
    """The `q`-quantile of the last `window` values seen (a sliding window).

    Kept exact with a sorted list beside the FIFO: an insertion and a removal
    cost O(window) element moves, microseconds for a window of a few thousand,
    and the result is deterministic (no sketch approximations to explain).

    Args:
        q: quantile in [0, 1] (lower interpolation: an observed value).
        window: values remembered; older ones drop out.
        seed: initial values (e.g. the training scores), oldest first; they are
            replaced by live values as the window fills.

    Raises:
        ConfigError: `q` outside [0, 1] or `window` < 1.
    """

    def __init__(self, q: float, *, window: int = 1000, seed: Iterable[float] = ()):
        if not 0.0 <= q <= 1.0 or window < 1:
            raise ConfigError(
                "running quantile needs 0 <= q <= 1 and window >= 1",
                found={"q": q, "window": window},
            )
        self.q = q
        self.window = window
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []
        for value in seed:
            self.add(value)

    def __len__(self) -> int:
        """Values currently in the window."""
        return len(self._fifo)

    def add(self, value: float) -> None:
        """Remember `value`, forgetting the oldest one when the window is full."""
        if len(self._fifo) == self.window:
            old = self._fifo.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._fifo.append(value)
        bisect.insort(self._sorted, value)

    def value(self) -> float:
        """The current quantile (NaN while the window is empty)."""
        if not self._sorted:
            return float("nan")
        return self._sorted[int(self.q * (len(self._sorted) - 1))]
