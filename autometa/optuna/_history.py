"""The study's history as MetaSampler sees it: configurations, loss ranks, running trials.

Completed and pruned trials are observations. As in Optuna's TPE, a pruned trial ranks below
every completed one; pruned trials rank among themselves by their last reported step (later is
better), then by the value reported there; pruned trials without an intermediate value come
last. The sampler uses ranks only (rank-normal scores and rank correlations), so the returned
losses are ranks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import TrialState

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

    from autometa.optuna._space import NormalizedSpace

__all__ = ["history_ranks", "loss_ranks", "trial_sort_key"]


def trial_sort_key(trial: FrozenTrial, sign: float) -> tuple[float, float, float] | None:
    """Sort key of a finished trial (smaller is better), or None when it carries no information.

    Parameters
    ----------
    trial : FrozenTrial
        A complete or pruned trial.
    sign : float
        ``1.0`` for minimization, ``-1.0`` for maximization.

    Returns
    -------
    tuple of float or None
        ``(0, 0, loss)`` for a completed trial, ``(1, -step, loss at step)`` for a pruned trial
        with intermediate values, ``(2, 0, 0)`` for one without; None for a completed trial whose
        value is missing or NaN.
    """
    if trial.state == TrialState.COMPLETE:
        if trial.value is None or math.isnan(trial.value):
            return None
        return (0.0, 0.0, sign * float(trial.value))
    if trial.state == TrialState.PRUNED:
        steps = [
            (step, value)
            for step, value in trial.intermediate_values.items()
            if not math.isnan(value)
        ]
        if not steps:
            return (2.0, 0.0, 0.0)
        step, value = max(steps)
        return (1.0, -float(step), sign * float(value))
    return None


def loss_ranks(keys: Sequence[tuple[float, float, float]]) -> np.ndarray:
    """Ranks (0 = best, ties share their mean rank) of lexicographic sort keys."""
    n = len(keys)
    if n == 0:
        return np.zeros(0)
    arr = np.asarray(keys, dtype=float)
    order = np.lexsort((arr[:, 2], arr[:, 1], arr[:, 0]))
    srt = arr[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = np.any(srt[1:] != srt[:-1], axis=1)
    group = np.cumsum(new_group) - 1
    positions = np.arange(n, dtype=float)
    mean_rank = np.bincount(group, weights=positions) / np.bincount(group)
    ranks = np.empty(n)
    ranks[order] = mean_rank[group]
    return ranks


def history_ranks(
    study: Study,
    trial: FrozenTrial,
    space: NormalizedSpace,
    states: Sequence[TrialState],
    constant_liar: bool,
    cache: dict[int, tuple[Any, np.ndarray | None, tuple[float, float, float] | None]]
    | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Observed configurations, their loss ranks, running configurations and a pending count.

    Parameters
    ----------
    study, trial
        The study and the trial being sampled (excluded from the history).
    space : NormalizedSpace
        The space the configurations are encoded in; trials outside it are skipped.
    states : sequence of TrialState
        States to read (complete, pruned, running).
    constant_liar : bool
        Whether running trials are returned (as configurations, or counted as pending when
        their parameters are not written yet).
    cache : dict, optional
        Encodings of finished trials by trial number for this study and space, stamped with the
        trial's id, state and completion time (a finished trial never changes), filled as trials
        are read: each trial is encoded once.

    Returns
    -------
    obs_x : ndarray ``[n, dim]``
    obs_rank : ndarray ``[n]``
    run_x : ndarray ``[m, dim]``
    pending : int
    """
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    obs_x, keys, run_x = [], [], []
    pending = 0
    for t in study.get_trials(deepcopy=False, states=tuple(states)):
        if t.number == trial.number:
            continue
        stamp = (t._trial_id, t.state, t.datetime_complete)
        if (
            t.state != TrialState.RUNNING
            and cache is not None
            and cache.get(t.number, (None,))[0] == stamp
        ):
            _, x, key = cache[t.number]
            if x is not None and key is not None:
                obs_x.append(x)
                keys.append(key)
            continue
        x = space.internal_from_params(t.params)
        if t.state == TrialState.RUNNING:
            if not constant_liar:
                continue
            if x is not None:
                run_x.append(x)
            elif t.number < trial.number:
                # Created before this trial, parameters not (all) written yet: its sampler is
                # probably deciding right now; leave it the proposal we would make.
                pending += 1
            continue
        key = trial_sort_key(t, sign)
        if cache is not None:
            cache[t.number] = (stamp, x, key)
        if x is None or key is None:
            continue
        obs_x.append(x)
        keys.append(key)
    d = space.dim
    return (
        np.asarray(obs_x).reshape(-1, d),
        loss_ranks(keys),
        np.asarray(run_x).reshape(-1, d),
        pending,
    )
