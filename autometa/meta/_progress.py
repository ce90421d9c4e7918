"""Progress lines for meta-training when stderr is not a terminal (logs, CI, ``nohup``).

tqdm's bar is only drawn on a terminal; redirected to a file it would print one line per
refresh or nothing at all. :class:`ProgressLines` has the two methods the trainer calls on a
bar (``update``, ``set_postfix``) and writes one plain line every ``every_s`` seconds or
``every_steps`` steps, whichever comes first, plus one at the last step::

    meta-train maml: step 120/2000 (6%), loss=0.6931, tasks_s=12.3, 65 s elapsed, about 17 min left
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["ProgressLines", "progress_bar"]


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


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, initial: int, desc: str) -> Iterator[Any]:
    """A tqdm bar on a terminal, :class:`ProgressLines` elsewhere (logs, CI), None when disabled.

    Both have ``update(n)`` and ``set_postfix(**values)``; the bar is closed when the block ends.
    """
    if not enabled:
        yield None
        return
    if not sys.stderr.isatty():  # logs and CI: a plain line every 30 s instead of a bar
        yield ProgressLines(total, initial, desc)
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=int(total), initial=initial, desc=desc, unit="step")
    try:
        yield bar
    finally:
        bar.close()
