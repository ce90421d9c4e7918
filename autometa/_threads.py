"""One thread budget for torch, BLAS/OpenMP and scikit-learn, scoped to a call.

Torch, the BLAS behind NumPy and scikit-learn's OpenMP code each start one thread per core
by default. On a shared or busy machine those threads compete with each other and with other
processes (a warm 128-row ``AutoMetaClassifier.fit`` measured 5.7-11.5 s with default
threading on a loaded 2-core machine against 0.7-1.0 s with one thread). The estimators
therefore take ``n_jobs`` (scikit-learn's convention: ``None`` means 1, ``-1`` all CPUs) and
run ``fit``/``predict`` inside :func:`limit_threads`, which sets all three pools and restores
the caller's settings on exit.

Torch's thread count is process-wide: two estimators fitting concurrently in threads of one
process with different ``n_jobs`` see each other's setting while both run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["effective_n_jobs", "limit_threads"]


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def effective_n_jobs(n_jobs: int | None) -> int:
    """Threads meant by ``n_jobs``: ``None`` -> 1, ``-1`` -> all CPUs, ``-2`` -> all but one.

    Raises
    ------
    ValueError
        For ``n_jobs=0`` or a non-integer.
    """
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) and not hasattr(n_jobs, "__index__"):
        raise ValueError(f"n_jobs must be an int or None; got {n_jobs!r}.")
    n = int(n_jobs)
    if n == 0:
        raise ValueError(
            "n_jobs == 0 has no meaning; use None or 1 for one thread, -1 for all CPUs."
        )
    if n < 0:
        return max(1, _cpu_count() + 1 + n)
    return n


@contextlib.contextmanager
def limit_threads(n_jobs: int | None) -> Iterator[int]:
    """Run the block with ``effective_n_jobs(n_jobs)`` threads in torch and BLAS/OpenMP.

    Yields the thread count (pass it on to scikit-learn estimators' ``n_jobs``). Torch's
    intra-op thread count and every threadpoolctl-visible pool (OpenBLAS, MKL, OpenMP) are
    restored to the caller's values on exit, also when the block raises.
    """
    n = effective_n_jobs(n_jobs)
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    with threadpool_limits(limits=n):
        if before != n:
            torch.set_num_threads(n)
        try:
            yield n
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
