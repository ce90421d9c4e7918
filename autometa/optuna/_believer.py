"""Expected improvement with a kriging believer for proposals still being decided elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autometa.optuna._gp import GP, expected_improvement

__all__ = ["pick_believing", "pick_with_believer"]


def pick_with_believer(
    gp: GP,
    x_feat: np.ndarray,
    resid: np.ndarray,
    feats: np.ndarray,
    base_mean: np.ndarray,
    best: float,
    available: np.ndarray,
    pending: int,
) -> int:
    """Index of the candidate to propose, after reserving ``pending`` picks for other workers.

    Parameters
    ----------
    gp : GP
        Fitted to ``x_feat`` and ``resid`` (its hyperparameters are kept on refits).
    x_feat, resid : ndarray
        The GP's training features and residual targets.
    feats : ndarray ``[n, f]``
        Candidate features.
    base_mean : ndarray ``[n]``
        Prior mean at the candidates, added to the GP's residual prediction.
    best : float
        Incumbent (minimization) in the same units.
    available : ndarray of bool ``[n]``
        Candidates that may be proposed (modified: reserved picks are switched off).
    pending : int
        Trials whose parameters are not known yet: each takes the EI maximizer in turn, which is
        then believed to score the GP's mean there (kriging believer), so this trial gets the
        next one.

    Returns
    -------
    int
    """

    def believe(pick: int, mean: np.ndarray) -> None:
        nonlocal gp, x_feat, resid
        x_feat = np.concatenate([x_feat, feats[pick : pick + 1]], axis=0)
        resid = np.concatenate([resid, mean[pick : pick + 1]])
        gp = GP(gp.lengthscale, gp.noise).fit(x_feat, resid)

    return pick_believing(lambda: gp.predict(feats), believe, best, available, pending, base_mean)


def pick_believing(
    predict: Callable[[], tuple[np.ndarray, np.ndarray]],
    believe: Callable[[int, np.ndarray], None],
    best: float,
    available: np.ndarray,
    pending: int,
    offset: np.ndarray | None = None,
) -> int:
    """The kriging-believer loop of any surrogate: the EI maximizer after ``pending`` picks.

    ``predict()`` gives the surrogate's mean and standard deviation at the candidates (the
    mean plus ``offset``, when given, is what EI reads); each of ``pending`` trials takes the
    EI maximizer among the ``available`` candidates (switched off in ``available``) and
    ``believe(pick, mean)`` adds it to the surrogate at its predicted mean. Returns the index
    of the next maximizer, this trial's pick.
    """
    pick = 0
    for i in range(pending + 1):
        mean, std = predict()
        ei = expected_improvement(mean if offset is None else offset + mean, std, best)
        ei[~available] = -np.inf
        pick = int(np.argmax(ei))
        if i < pending:
            available[pick] = False
            believe(pick, mean)
    return pick
