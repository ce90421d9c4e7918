"""How MetaSampler reads a study: ranks of completed and pruned trials."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from autometa.optuna._history import history_ranks, loss_ranks
from autometa.optuna._space import NormalizedSpace


def test_loss_ranks_ties_share_the_mean_rank() -> None:
    keys = [(0, 0, 3.0), (0, 0, 1.0), (0, 0, 3.0), (1, -2, 0.0)]
    np.testing.assert_allclose(loss_ranks(keys), [1.5, 0.0, 1.5, 3.0])
    assert loss_ranks([]).shape == (0,)


def _trial(x: float, state: TrialState, value: float | None = None, inter: dict | None = None):
    return create_trial(
        params={"x": x},
        distributions={"x": FloatDistribution(0, 1)},
        value=value,
        state=state,
        intermediate_values=inter or {},
    )


def test_pruned_rank_below_completed_later_steps_first() -> None:
    for direction, sign in (("minimize", 1.0), ("maximize", -1.0)):
        study = optuna.create_study(direction=direction)
        study.add_trial(_trial(0.1, TrialState.COMPLETE, value=sign * 5.0))  # worst completed
        study.add_trial(_trial(0.2, TrialState.COMPLETE, value=sign * 1.0))  # best
        study.add_trial(_trial(0.3, TrialState.PRUNED, inter={0: sign * 0.0}))  # early step
        study.add_trial(
            _trial(0.4, TrialState.PRUNED, inter={0: sign * 9.0, 3: sign * 7.0})
        )  # later step
        study.add_trial(_trial(0.5, TrialState.PRUNED))  # no intermediate value: last
        study.add_trial(_trial(0.6, TrialState.FAIL))  # ignored
        space = NormalizedSpace({"x": FloatDistribution(0, 1)})
        current = study.ask()
        obs_x, ranks, run_x, pending = history_ranks(
            study,
            study._storage.get_trial(current._trial_id),
            space,
            (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING),
            True,
        )
        np.testing.assert_allclose(obs_x[:, 0], [0.1, 0.2, 0.3, 0.4, 0.5])
        np.testing.assert_allclose(ranks, [1, 0, 3, 2, 4])
        assert run_x.shape == (0, 1) and pending == 0
