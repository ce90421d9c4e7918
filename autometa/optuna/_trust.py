"""How far MetaSampler trusts an archived task: by how it behaves on the study, not by its names.

A task archived in the meta-knowledge whose parameter names match the study's is only a
*candidate*. Its trust is the posterior probability that it predicts the study, updated from a
sceptical prior by the study's own trials:

* **prior** ``PRIOR_RELEVANCE`` times the task's *compatibility*: the share of the study's
  parameters that the task knows under the same name and kind (categorical or numerical), each
  weighted by how much of the study's range the task's range covers (in the study's own scale,
  log or linear) and halved where the kinds differ (integer vs float, log vs linear scale);
* **evidence** a Bayes factor from Kendall's rank correlation ``tau`` between the task's
  prediction and the study's results on the trials observed so far: under "unrelated" ``tau`` is
  about normal with mean 0 and variance ``2 (2n + 5) / (9 n (n - 1))``; under "predicts the
  study" the mean is ``TAU_RELEVANT``.

Trust moves smoothly: each trial that the task mis-ranks lowers it a little, and a task that
ranks the study's trials no better than chance loses almost all weight within a few tens of
trials, whatever its names.

**Without source studies an archived task acts only once the study favours it** (:func:`trust`,
with the tau taken on the study's better half of trials from 6 trials on): its weight is
``max(0, 2 p - 1)`` for the posterior ``p`` above, zero while the odds are against it (always
at the sceptical prior, so before the study's own trials confirm a task it proposes nothing,
contributes no candidates and no prior mean) and rising smoothly to 1 as the evidence grows.
Without a trusted task MetaSampler proposes exactly what ``MetaSampler(knowledge=None)`` does.
With source studies (which vouch for the kind of study) the posterior itself is the weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

__all__ = ["PRIOR_RELEVANCE", "TAU_RELEVANT", "compatibility", "relevance", "trust"]

PRIOR_RELEVANCE = 0.25  # prior probability that a fully compatible archived task predicts the study
TAU_RELEVANT = 0.3  # Kendall tau expected between a predictive task and the study


def _scaled(value: float, log: bool) -> float:
    if not log:
        return float(value)
    return math.log(value) if value > 0 else -math.inf


def _range_cover(task: BaseDistribution, study: BaseDistribution) -> float:
    """Share of the study's range that the task's range covers, in the study's scale."""
    if isinstance(study, CategoricalDistribution) or isinstance(task, CategoricalDistribution):
        if not (
            isinstance(study, CategoricalDistribution) and isinstance(task, CategoricalDistribution)
        ):
            return 0.0
        return sum(c in task.choices for c in study.choices) / len(study.choices)
    log = bool(study.log)  # type: ignore[attr-defined]
    lo_t, hi_t = (_scaled(float(v), log) for v in (task.low, task.high))  # type: ignore[attr-defined]
    lo_s, hi_s = (_scaled(float(v), log) for v in (study.low, study.high))  # type: ignore[attr-defined]
    if hi_s <= lo_s:
        return 1.0 if lo_t <= lo_s <= hi_t else 0.0
    return max(0.0, min(hi_s, hi_t) - max(lo_s, lo_t)) / (hi_s - lo_s)


def compatibility(
    task: Mapping[str, BaseDistribution], study: Mapping[str, BaseDistribution]
) -> float:
    """How well a task's space fits the study's, in ``[0, 1]``.

    The mean over the study's parameters of: 0 for a parameter the task does not have (by name)
    or has as the other kind (categorical vs numerical); otherwise the share of the study's range
    (or choices) that the task's covers, halved if one is an integer and the other a float, or
    one is log-scaled and the other not.
    """
    if not study:
        return 0.0
    total = 0.0
    for name, dist in study.items():
        other = task.get(name)
        if other is None:
            continue
        cover = _range_cover(other, dist)
        if not isinstance(dist, CategoricalDistribution) and not isinstance(
            other, CategoricalDistribution
        ):
            if isinstance(dist, IntDistribution) != isinstance(other, IntDistribution):
                cover *= 0.5
            if bool(dist.log) != bool(other.log):  # type: ignore[attr-defined]
                cover *= 0.5
        total += cover
    return total / len(study)


def relevance(tau: float, n: int, prior: float) -> float:
    """Posterior probability that a task predicts the study.

    Parameters
    ----------
    tau : float
        Kendall's tau between the task's prediction and the study's results on ``n`` trials.
    n : int
        Observed trials; below 3 the prior is returned.
    prior : float
        Prior probability in ``(0, 1)``.

    Returns
    -------
    float
    """
    prior = min(max(prior, 1e-6), 1.0 - 1e-6)
    if n < 3:
        return prior
    var = 2.0 * (2 * n + 5) / (9.0 * n * (n - 1))
    log_bf = (tau * TAU_RELEVANT - 0.5 * TAU_RELEVANT**2) / var
    logit = math.log(prior / (1.0 - prior)) + log_bf
    return 1.0 / (1.0 + math.exp(-min(max(logit, -50.0), 50.0)))


def trust(posterior: float) -> float:
    """Weight of an archived task given its posterior relevance: ``max(0, 2 p - 1)``.

    Zero while the posterior odds do not favour the task (``p <= 0.5``), 1 at certainty, linear
    in between; so a task starts to act only once the study's own trials have confirmed it.
    """
    return float(min(1.0, max(0.0, 2.0 * float(posterior) - 1.0)))
