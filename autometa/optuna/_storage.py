"""Past studies of an Optuna storage as MetaSampler source studies."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import TrialState

__all__ = ["compatible_studies"]


def _shares_a_parameter(study: optuna.Study, space: Mapping[str, BaseDistribution]) -> bool:
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        for name, dist in t.distributions.items():
            if name in space and isinstance(dist, CategoricalDistribution) == isinstance(
                space[name], CategoricalDistribution
            ):
                return True
    return False


def compatible_studies(
    storage: str | optuna.storages.BaseStorage,
    study_names: Sequence[str] | None,
    search_space: Mapping[str, BaseDistribution] | None,
    exclude: Sequence[str],
    min_trials: int,
) -> list[optuna.Study]:
    """Load the studies of ``storage`` that can serve as source studies; warn about the others.

    A study is compatible when it has one objective, at least ``min_trials`` completed trials
    with a finite value and, when ``search_space`` is given, at least one parameter of the same
    name and kind (categorical or numerical) as the space.

    Raises
    ------
    ValueError
        If a name in ``study_names`` is not in the storage.
    """
    available = [
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    ]
    if study_names is None:
        names = available
    else:
        missing = [n for n in study_names if n not in available]
        if missing:
            raise ValueError(
                f"studies {missing} are not in the storage; it holds {sorted(available)}."
            )
        names = list(study_names)
    out: list[optuna.Study] = []
    for name in names:
        if name in exclude:
            continue
        study = optuna.load_study(study_name=name, storage=storage)
        reason = None
        if len(study.directions) != 1:
            reason = f"it has {len(study.directions)} objectives"
        else:
            n_ok = sum(
                t.value is not None and math.isfinite(t.value)
                for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            )
            if n_ok < min_trials:
                reason = f"it has {n_ok} completed trials with a finite value (at least {min_trials} needed)"
            elif search_space is not None and not _shares_a_parameter(study, search_space):
                reason = "it shares no parameter (name and kind) with search_space"
        if reason is not None:
            warnings.warn(
                f"MetaSampler.from_storage: skipping study {name!r}: {reason}.",
                UserWarning,
                stacklevel=3,
            )
            continue
        out.append(study)
    return out
