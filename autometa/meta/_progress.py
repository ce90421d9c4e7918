"""Progress lines for meta-training when stderr is not a terminal (logs, CI, ``nohup``).

tqdm's bar is only drawn on a terminal; redirected to a file it would print one line per
refresh or nothing at all. :class:`ProgressLines` has the two methods the trainer calls on a
bar (``update``, ``set_postfix``) and writes one plain line every ``every_s`` seconds or
``every_steps`` steps, whichever comes first, plus one at the last step::

    meta-train maml: step 120/2000 (6%), loss=0.6931, tasks_s=12.3, 65 s elapsed, about 17 min left
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["ProgressLines"]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressLines:
    """A line-per-interval stand-in for a tqdm bar.

    Parameters
    ----------
    total : int
        Steps of the whole run.
    initial : int
        Steps already done (a resumed run).
    desc : str
        Prefix of every line.
    every_s : float
        Seconds between lines.
    every_steps : int or None
        Also a line every this many steps (``None``: by time only).
    stream : file, optional
        Where the lines go (default ``sys.stderr``).
    clock : callable
        Time source (tests pass a fake one).
    """

    def __init__(
        self,
        total: int,
        initial: int = 0,
        desc: str = "meta-train",
        *,
        every_s: float = 30.0,
        every_steps: int | None = None,
        stream: TextIO | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.total, self.n, self.desc = int(total), int(initial), desc
        self.every_s, self.every_steps = float(every_s), every_steps
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._start = self._last = clock()
        self._start_n = self.n
        self._postfix: dict[str, Any] = {}

    def set_postfix(self, **values: Any) -> None:
        """Remember the values shown on the next line (e.g. ``loss``, ``tasks_s``)."""
        self._postfix = values

    def update(self, n: int = 1) -> None:
        """Count ``n`` finished steps; print a line when one is due."""
        self.n += n
        now = self._clock()
        due = now - self._last >= self.every_s or self.n >= self.total
        if self.every_steps and self.n % self.every_steps == 0:
            due = True
        if due:
            self._last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = now - self._start
        done = self.n - self._start_n
        parts = [f"{self.desc}: step {self.n}/{self.total} ({100 * self.n / max(self.total, 1):.0f}%)"]
        parts += [f"{k}={v}" for k, v in self._postfix.items()]
        parts.append(f"{_duration(elapsed)} elapsed")
        if 0 < done and self.n < self.total:
            parts.append(f"about {_duration(elapsed / done * (self.total - self.n))} left")
        return ", ".join(parts)

    def close(self) -> None:
        """Nothing to clean up (the tqdm interface)."""
