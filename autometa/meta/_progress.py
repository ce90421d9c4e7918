"""Progress lines for meta-training when stderr is not a terminal (logs, CI, ``nohup``).

tqdm's bar is only drawn on a terminal; redirected to a file it would print one line per
refresh or nothing at all. :class:`ProgressLines` has the two methods the trainer calls on a
bar (``update``, ``set_postfix``) and writes one plain line every ``every_s`` seconds or
``every_steps`` steps, whichever comes first, plus one at the last step::

    meta-train maml: step 120/2000 (6%), loss=0.6931, tasks_s=12.3, 65 s elapsed, about 17 min left

The time left counts what is still to come, not only steps: the trainer declares its recurring
events (:meth:`ProgressLines.schedule`: a validation every ``eval_every`` steps, a checkpoint
every ``checkpoint_every``) and reports the seconds each one took (:meth:`ProgressLines.record`).
The estimate is the remaining steps at the mean time of a bare step over the more recent half
of this run's steps (the first steps load data sets lazily and run slower) plus, for each event, the
occurrences still ahead at its mean measured cost (before its first occurrence: a prior given
in step-times, or the trainer's timing of one validation batch before the loop). A rate from steps alone was 3-5x too low on runs whose validations were a large
share of the time, and the first validation's one-off set-up (building the fixed validation
tasks) now happens before the loop.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["ProgressLines", "progress_bar"]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class Event:
    """A recurring piece of work inside the loop (a validation, a checkpoint).

    It happens after every step ``n`` with ``n % every == 0`` (and after the last step when
    ``at_end``); until it has been measured it costs ``prior_s`` seconds, or, without that,
    ``prior_steps`` bare step-times.
    """

    every: int
    prior_steps: float = 0.0
    at_end: bool = False
    prior_s: float | None = None
    seconds: float = 0.0
    count: int = 0

    def ahead(self, n: int, total: int) -> int:
        """Occurrences after step ``n``, up to step ``total``."""
        k = total // self.every - n // self.every
        return k + int(self.at_end and total % self.every != 0 and n < total)

    def cost(self, step_s: float) -> float:
        if self.count:
            return self.seconds / self.count
        return self.prior_s if self.prior_s is not None else self.prior_steps * step_s


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
        self._events: dict[str, Event] = {}
        # (step, bare seconds: elapsed minus event time) about every 1/256 of the run, for the step rate
        self._samples: list[tuple[int, float]] = [(self.n, 0.0)]
        self._sample_every = max(1, self.total // 256)

    def schedule(
        self,
        kind: str,
        every: int,
        *,
        prior_steps: float = 0.0,
        prior_s: float | None = None,
        at_end: bool = False,
    ) -> None:
        """Declare a recurring event (see :class:`Event`) so that the time left includes it."""
        self._events[kind] = Event(int(every), float(prior_steps), bool(at_end), prior_s)

    def record(self, kind: str, seconds: float) -> None:
        """Report that an occurrence of ``kind`` took ``seconds`` (not counted as step time)."""
        event = self._events.setdefault(kind, Event(every=self.total + 1))
        event.seconds += float(seconds)
        event.count += 1

    def time_left(self, now: float) -> float | None:
        """Seconds still to come (``None`` before the first step of this run)."""
        done = self.n - self._start_n
        if done <= 0:
            return None
        bare = self._bare(now)
        # the rate of the more recent half of this run's steps: the first steps (lazily loaded data
        # sets, warm caches) are not what the rest of the run will cost
        half = self._start_n + done // 2
        n0, bare0 = max((s for s in self._samples if s[0] <= half), key=lambda s: s[0])
        if self.n - n0 < 2:
            n0, bare0 = self._samples[0]
        step_s = max(bare - bare0, 0.0) / max(self.n - n0, 1)
        left = step_s * (self.total - self.n)
        return left + sum(
            e.ahead(self.n, self.total) * e.cost(step_s) for e in self._events.values()
        )

    def _bare(self, now: float) -> float:
        return now - self._start - sum(e.seconds for e in self._events.values())

    def set_postfix(self, **values: Any) -> None:
        """Remember the values shown on the next line (e.g. ``loss``, ``tasks_s``)."""
        self._postfix = values

    def update(self, n: int = 1) -> None:
        """Count ``n`` finished steps; print a line when one is due."""
        self.n += n
        now = self._clock()
        if self.n - self._samples[-1][0] >= self._sample_every:
            self._samples.append((self.n, self._bare(now)))
        due = now - self._last >= self.every_s or self.n >= self.total
        if self.every_steps and self.n % self.every_steps == 0:
            due = True
        if due:
            self._last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = now - self._start
        parts = [
            f"{self.desc}: step {self.n}/{self.total} ({100 * self.n / max(self.total, 1):.0f}%)"
        ]
        parts += [f"{k}={v}" for k, v in self._postfix.items()]
        parts.append(f"{_duration(elapsed)} elapsed")
        left = self.time_left(now)
        if left is not None and self.n < self.total:
            parts.append(f"about {_duration(left)} left")
        return ", ".join(parts)

    def close(self) -> None:
        """Nothing to clean up (the tqdm interface)."""


@contextlib.contextmanager
def progress_bar(
    enabled: bool, total: int, initial: int, desc: str, events: Sequence[Mapping[str, Any]] = ()
) -> Iterator[Any]:
    """A tqdm bar on a terminal, :class:`ProgressLines` elsewhere (logs, CI), None when disabled.

    Both have ``update(n)`` and ``set_postfix(**values)``; the bar is closed when the block ends.
    ``events``: the loop's recurring work, each the keyword arguments of
    :meth:`ProgressLines.schedule` (``kind``, ``every``, ``prior_s`` or ``prior_steps``,
    ``at_end``); the trainer reports their durations with ``record`` when the bar has it.
    """
    if not enabled:
        yield None
        return
    if not sys.stderr.isatty():  # logs and CI: a plain line every 30 s instead of a bar
        lines = ProgressLines(total, initial, desc)
        for event in events:
            lines.schedule(**event)
        yield lines
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=int(total), initial=initial, desc=desc, unit="step")
    try:
        yield bar
    finally:
        bar.close()
