"""``MetaSampler``: the Optuna adapter around the meta-learned proposal logic."""

from __future__ import annotations

import math
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.samplers._lazy_random_state import LazyRandomState
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import TrialState
from scipy.stats import qmc

from autometa.optuna._believer import pick_with_believer
from autometa.optuna._candidates import local_and_random_candidates
from autometa.optuna._gp import GP, fit_ard, gaussianize, gp_window, kendall_tau
from autometa.optuna._history import history_ranks
from autometa.optuna._icl import MAX_DIM as ICL_MAX_DIM
from autometa.optuna._icl import ICLSurrogate, pick_with_icl
from autometa.optuna._knowledge import MetaKnowledge, TuningTask, task_from_study
from autometa.optuna._space import NormalizedSpace
from autometa.optuna._storage import compatible_studies
from autometa.optuna._trust import PRIOR_RELEVANCE, compatibility, relevance, trust

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

__all__ = ["MetaSampler"]

_MAX_TASK_POINTS = 256  # points per task surrogate (best third + a random rest)
_N_FIXED_RANDOM = 384  # fixed space-filling candidates per space
_N_FRESH_RANDOM = 64  # fresh random candidates per proposal
_N_LOCAL = 64  # perturbations around the best observed configurations
_MIN_TASK_POINTS = 4
_SIMILARITY_TEMPERATURE = 4.0
_EVIDENCE_POINTS = 200.0  # a task with n configurations gets prior weight n / (n + this)
_MAX_PLANS = 256
_MIN_ARCHIVE_COVERAGE = 0.5  # an archived task must share this share of the study's parameters
_MAX_ICL_CONTEXT = 48  # context points given to the in-context surrogate
_MAX_GP_POINTS = 192  # the study GP sees at most this many trials (best half + a random rest)
_ARD_PRIOR_SD = 1.0  # study GP: log-normal prior width on each parameter's length scale
# Study GP noise: prior centre and bounds. Rank-normal scores of a deterministic objective look
# noisy to a stationary GP, and a fitted noise level far above 1e-2 makes expected improvement
# settle on near-copies of the incumbent (the smooth collision objectives in
# autometa/optuna/_collision.py); the held-out noisy family did as well with the cap.
_NOISE_CENTRE = 1e-3
_NOISE_BOUNDS = (1e-6, 1e-2)
_NOISE_PRIOR_SD = 1.4  # log-normal prior width on the noise level
_MAX_HYPER_POINTS = 64  # the study GP's hyperparameters are fitted on at most this many trials
_STUDY_LENGTHSCALE = 0.25  # study GP: centre of the length-scale prior, per sqrt(n_features)


@dataclass
class _TaskModel:
    """A GP mean fitted to one task on the columns of the current space it shares."""

    name: str
    columns: np.ndarray  # indices into the space's parameters
    subspace: NormalizedSpace
    gp: GP
    n_points: int  # configurations the task evaluated in this space
    archived: bool = (
        False  # from the meta-knowledge's archive (trusted by behaviour), not a source study
    )
    compat: float = 1.0  # archived: how well its space fits the study's (_trust.compatibility)

    def predict(self, internal: np.ndarray) -> np.ndarray:
        feats = self.subspace.features_from_internal(internal[:, self.columns])
        mean, _ = self.gp.predict(feats, return_std=False)
        return mean


@dataclass
class _SpaceState:
    """Everything cached for one search space: task surrogates and fixed candidates."""

    space: NormalizedSpace
    tasks: list[_TaskModel]
    cand_internal: np.ndarray
    cand_features: np.ndarray
    cand_task_means: np.ndarray  # [n_tasks, n_candidates]
    cand_task_ranks: np.ndarray  # [n_tasks, n_candidates], percentile in [0, 1)
    cand_from_tasks: np.ndarray  # [n_candidates] bool: an evaluated configuration of some task
    cand_owner: np.ndarray  # [n_candidates] int: the task whose configuration it is, -1 if none
    cand_index: dict[bytes, int]  # feature key -> candidate index
    extra: OrderedDict[bytes, np.ndarray] = field(default_factory=OrderedDict)  # other points

    def task_means(self, internal: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Task means ``[n_tasks, n]`` at ``internal`` points; cached for candidates.

        Tasks where ``active`` is False are skipped (left at zero).
        """
        out = np.zeros((len(self.tasks), internal.shape[0]))
        if internal.shape[0] == 0 or not self.tasks:
            return out
        keys = _row_keys(self.space.features_from_internal(internal), as_list=True)
        idx = np.array([self.cand_index.get(k, -1) for k in keys])
        hit = idx >= 0
        out[:, hit] = self.cand_task_means[:, idx[hit]]
        for j in np.flatnonzero(~hit):
            if keys[j] in self.extra:
                out[:, j] = self.extra[keys[j]]
                hit[j] = True
        if (~hit).any():
            for t, model in enumerate(self.tasks):
                if active is None or active[t]:
                    out[t, ~hit] = model.predict(internal[~hit])
            if active is None:  # complete columns only
                for j in np.flatnonzero(~hit):
                    self.extra[keys[j]] = out[:, j].copy()
                while len(self.extra) > 4096:
                    self.extra.popitem(last=False)
        return out


class MetaSampler(BaseSampler):
    """A meta-learned sampler that warm-starts new studies.

    The first ``n_startup_trials`` configurations come from an initial design:

    * when trusted past tasks share parameters with the study (``source_studies``, or tasks
      archived in the meta-knowledge whose parameters match by name and which the study's own
      trials have confirmed), a greedy portfolio over those tasks: each new point minimizes the
      similarity-weighted regret, across tasks, of the set proposed so far (tasks are
      re-weighted by the rank correlation between their surrogate and the study's results as
      trials complete). A task archived in the meta-knowledge is trusted by behaviour, not by
      name (:mod:`autometa.optuna._trust`): without source studies it acts only once the
      posterior odds, from a sceptical prior scaled by how well its ranges and types fit the
      study's, favour it; until then the sampler proposes exactly what
      ``MetaSampler(knowledge=None)`` proposes;
    * otherwise, a space-filling design (:func:`space_filling_design`: scrambled Sobol for the
      numerical parameters, every combination of categorical choices once before repeats).

    Later trials maximize expected improvement under a Gaussian process whose prior mean is
    the similarity-weighted combination of the trusted task surrogates and which has one
    length scale per parameter, fitted to the study.

    Parameters
    ----------
    source_studies : sequence of optuna.Study, optional
        Past studies (from any storage) to transfer from. Their finished trials are read once,
        when the sampler is created. Parameters are matched by name; values outside the new
        study's ranges or choices are ignored.
    knowledge : MetaKnowledge, path, ``"default"`` or None, default="default"
        The meta-knowledge: ``"default"`` is the one shipped with autometa (trained with
        ``python -m autometa.optuna.train``), a path loads a file written by that command,
        ``None`` uses none (no archive; the design and the study GP are the same either way).
    n_startup_trials : int, default=10
        Number of configurations taken from the initial design.
    independent_sampler : optuna.samplers.BaseSampler, optional
        Sampler for parameters outside the relative search space (conditional parameters,
        parameters whose range changed, the first trial of a study without matching past
        tasks). By default such a parameter is drawn uniformly in the normalized space (log
        scale for ``log=True``) until the study has ``n_startup_trials`` finished trials, then
        by Optuna's univariate TPE; both draw from a generator keyed by ``seed``, the trial number
        and the parameter name, so that parallel workers sharing a seed still draw different
        values.
    constant_liar : bool, default=True
        Treat running trials as finished with the worst observed value, and reserve one
        proposal for each running trial whose parameters are not yet known, so that parallel
        workers on one storage do not propose the same configuration.
    surrogate : ICLSurrogate, optional
        A meta-trained in-context surrogate (:func:`autometa.optuna._icl.train_icl_surrogate`)
        used instead of the GP after the initial design, for spaces of at most 8 parameters
        without matching past tasks (experimental; see ``docs/sampler.md`` for how it measures).
    seed : int, optional
        Seed for every random choice. Same seed and same history give the same proposals.

    Notes
    -----
    Pruned trials are information, as in Optuna's TPE: they rank below every completed trial,
    among themselves by their last reported step (later is better) and the value reported there,
    so the sampler moves away from pruned regions and never re-proposes a pruned configuration.
    Failed and NaN-valued trials are ignored; ``inf`` values are kept (ranked last or first). Multi-objective studies are not supported (a ``ValueError`` is raised).

    Examples
    --------
    >>> import optuna
    >>> from autometa.optuna import MetaSampler
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(sampler=MetaSampler(seed=0))
    >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=15)
    >>> study.best_value < 0.5
    True
    """

    def __init__(
        self,
        source_studies: Sequence[optuna.Study] | None = None,
        *,
        knowledge: MetaKnowledge | str | Path | None = "default",
        n_startup_trials: int = 10,
        independent_sampler: BaseSampler | None = None,
        constant_liar: bool = True,
        surrogate: ICLSurrogate | None = None,
        seed: int | None = None,
    ) -> None:
        if (
            isinstance(n_startup_trials, bool)
            or not isinstance(n_startup_trials, int)
            or n_startup_trials < 1
        ):
            raise ValueError(f"n_startup_trials must be a positive int, got {n_startup_trials!r}.")
        if isinstance(knowledge, MetaKnowledge) or knowledge is None:
            self._knowledge = knowledge
        elif isinstance(knowledge, str) and knowledge == "default":
            self._knowledge = MetaKnowledge.default()
        elif isinstance(knowledge, (str, Path)):
            self._knowledge = MetaKnowledge.load(knowledge)
        else:
            raise TypeError(
                "knowledge must be a MetaKnowledge, a path, 'default' or None; "
                f"got {type(knowledge).__name__}."
            )
        if source_studies is not None and isinstance(source_studies, optuna.Study):
            source_studies = [source_studies]
        self._source_tasks: list[TuningTask] = []
        for s in source_studies or []:
            if not isinstance(s, optuna.Study):
                raise TypeError(
                    f"source_studies must contain optuna.Study objects, got {type(s).__name__}; "
                    "load past studies with optuna.load_study(study_name=..., storage=...)."
                )
            task = task_from_study(s)
            if task.losses:
                self._source_tasks.append(task)
        self._n_startup_trials = n_startup_trials
        self._independent_sampler = independent_sampler
        self._constant_liar = constant_liar
        self._surrogate = surrogate
        self._seed = seed
        self._rng = LazyRandomState(seed)
        self._base_seed: int | None = None
        self._init_caches()

    @classmethod
    def from_storage(
        cls,
        storage: str | optuna.storages.BaseStorage,
        study_names: Sequence[str] | None = None,
        *,
        search_space: Mapping[str, BaseDistribution] | None = None,
        exclude: Sequence[str] = (),
        **kwargs: Any,
    ) -> MetaSampler:
        """A sampler whose source studies are the compatible past studies of an Optuna storage.

        Parameters
        ----------
        storage : str or optuna.storages.BaseStorage
            An RDB URL (``"sqlite:///past.db"``, ``"postgresql://..."``) or a storage object
            (``RDBStorage``, ``JournalStorage``...).
        study_names : sequence of str, optional
            Studies to read; by default every study of the storage.
        search_space : mapping of str to BaseDistribution, optional
            The new study's space. When given, a study is compatible only if it shares at least
            one parameter with it by name and kind (categorical or numerical).
        exclude : sequence of str
            Study names to leave out (for example the study about to run in the same storage).
        **kwargs
            Passed to :class:`MetaSampler` (``seed``, ``knowledge``, ``n_startup_trials``...).

        Returns
        -------
        MetaSampler

        Warns
        -----
        UserWarning
            Once per skipped study, naming it and the reason: several objectives, fewer than
            4 finished trials with a finite value, no parameter shared with ``search_space``.

        Raises
        ------
        ValueError
            If a name in ``study_names`` is not in the storage.
        """
        sources = compatible_studies(storage, study_names, search_space, exclude, _MIN_TASK_POINTS)
        return cls(source_studies=sources, **kwargs)

    # -- Optuna plumbing ------------------------------------------------------------------
    def _init_caches(self) -> None:
        self._lock = threading.Lock()
        self._states: OrderedDict[tuple[Any, ...], _SpaceState] = OrderedDict()
        self._plans: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
        self._tpe: optuna.samplers.TPESampler | None = None
        self._encoded: dict[
            tuple[Any, ...], dict[int, Any]
        ] = {}  # (study, space) -> trial encodings
        self._search_spaces: dict[tuple[int, int], IntersectionSearchSpace] = {}
        self._hyper: OrderedDict[tuple[Any, ...], tuple[Any, float]] = (
            OrderedDict()
        )  # study GP fits

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_lock", "_states", "_plans", "_tpe", "_encoded", "_search_spaces", "_hyper"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_caches()

    def reseed_rng(self) -> None:
        self._rng.rng.seed()
        self._base_seed = None
        if self._independent_sampler is not None:
            self._independent_sampler.reseed_rng()

    def _trial_rng(self, trial: FrozenTrial, salt: int = 0) -> np.random.Generator:
        with self._lock:
            if self._base_seed is None:
                self._base_seed = int(self._rng.rng.randint(0, 2**31 - 1))
            base = self._base_seed
        return np.random.default_rng([base, trial.number, salt])

    @staticmethod
    def _check_single_objective(study: Study) -> None:
        if len(study.directions) != 1:
            raise ValueError(
                "MetaSampler supports single-objective studies only; use "
                "optuna.samplers.TPESampler or NSGAIISampler for multi-objective optimization."
            )

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        self._check_single_objective(study)
        key = (id(study._storage), study._study_id)
        with self._lock:  # incremental: each finished trial is read once per study
            if key not in self._search_spaces:
                self._search_spaces[key] = IntersectionSearchSpace(include_pruned=True)
                while len(self._search_spaces) > 8:
                    self._search_spaces.pop(next(iter(self._search_spaces)))
            space = self._search_spaces[key].calculate(study)
        return {name: dist for name, dist in space.items() if not dist.single()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._check_single_objective(study)
        if not search_space:
            return {}
        return self._propose(study, trial, NormalizedSpace(search_space))

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        self._check_single_objective(study)
        plan = self._plan(study, trial)
        if param_name in plan:
            value = plan[param_name]
            try:
                internal = param_distribution.to_internal_repr(value)
                if param_distribution._contains(internal):
                    return value
            except (ValueError, TypeError):
                pass
        if self._independent_sampler is not None:
            return self._independent_sampler.sample_independent(
                study, trial, param_name, param_distribution
            )
        # Keyed by (seed, trial number, parameter name): two workers sharing a seed still draw
        # different values for different trials.
        salt = 1 + zlib.crc32(param_name.encode())
        rng = self._trial_rng(trial, salt=salt)
        if self._n_finished(study) >= self._n_startup_trials:
            return self._tpe_independent(study, trial, param_name, param_distribution, rng)
        # Stratified: the k-th earlier trial that has this parameter got the k-th point of a van
        # der Corput sequence under a random shift keyed by (seed, parameter), so a conditional
        # parameter drawn a few times spreads over its range instead of clumping.
        k = sum(
            param_name in t.params
            for t in study.get_trials(deepcopy=False)
            if t.number < trial.number
        )
        shift = float(np.random.default_rng([self._base_seed or 0, salt]).random())
        u = np.array([[(_van_der_corput(k) + shift) % 1.0]])
        space = NormalizedSpace({param_name: param_distribution})
        return space.params_from_internal(space.internal_from_unit(u)[0])[param_name]

    @staticmethod
    def _n_finished(study: Study) -> int:
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        return len(study.get_trials(deepcopy=False, states=states))

    def _tpe_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
        rng: np.random.Generator,
    ) -> Any:
        """Univariate TPE for a parameter outside the relative space (conditional parameters).

        Optuna's TPE draws from its own random state; it is re-seeded from the per-trial key
        before each draw so that proposals depend on (seed, trial number, parameter) only.
        """
        with self._lock:
            if self._tpe is None:
                self._tpe = optuna.samplers.TPESampler(
                    n_startup_trials=self._n_startup_trials,
                    constant_liar=self._constant_liar,
                    seed=0,
                )
            self._tpe._rng.rng.seed(int(rng.integers(0, 2**31 - 1)))  # private: see docstring
            return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        if self._independent_sampler is not None:
            self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._plans.pop((study._study_id, trial.number), None)
        if self._independent_sampler is not None:
            self._independent_sampler.after_trial(study, trial, state, values)

    # -- the plan for parameters outside the relative space --------------------------------
    def _all_tasks(self) -> list[TuningTask]:
        archived = self._knowledge.tasks if self._knowledge is not None else []
        return [*self._source_tasks, *archived]

    def _plan(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        """Initial-design values for parameters that the relative space does not cover yet.

        Only for early trials (before ``n_startup_trials`` have completed) and only for
        parameters that past tasks know about; other parameters go to the independent sampler.
        """
        key = (study._study_id, trial.number)
        with self._lock:
            if key in self._plans:
                return self._plans[key]
        plan: dict[str, Any] = {}
        # Only source studies plan parameters outside the relative space: an archived task is not
        # trusted before the study's own trials confirm it (autometa/optuna/_trust.py), and at
        # that point the relative space covers the parameters it knows.
        tasks = list(self._source_tasks)
        if tasks and trial.number < 4 * self._n_startup_trials:
            n_complete = len(
                study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            )
            if n_complete < self._n_startup_trials:
                dists: dict[str, BaseDistribution] = {}
                for t in tasks:
                    for name, dist in t.distributions.items():
                        dists.setdefault(name, dist)
                dists = {n: d for n, d in dists.items() if not d.single()}
                if dists:
                    plan = self._propose(study, trial, NormalizedSpace(dists))
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > _MAX_PLANS:
                self._plans.popitem(last=False)
        return plan

    # -- proposals --------------------------------------------------------------------------
    def _space_state(self, space: NormalizedSpace) -> _SpaceState:
        key = space.signature
        with self._lock:
            if key in self._states:
                self._states.move_to_end(key)
                return self._states[key]
        state = self._build_space_state(space)
        with self._lock:
            self._states[key] = state
            while len(self._states) > 8:
                self._states.popitem(last=False)
        return state

    def _lengthscale(self, space: NormalizedSpace) -> float:
        base = self._knowledge.gp_lengthscale if self._knowledge is not None else 0.25
        return base * math.sqrt(max(space.n_features, 1))

    def _noise(self) -> float:
        return self._knowledge.gp_noise if self._knowledge is not None else 1e-3

    def _build_space_state(self, space: NormalizedSpace) -> _SpaceState:
        with self._lock:
            if self._base_seed is None:
                self._base_seed = int(self._rng.rng.randint(0, 2**31 - 1))
            base = self._base_seed
        rng = np.random.default_rng([base, 7919, space.dim])
        # Drawn first, so that without tasks (or with the archive's candidates masked) the
        # candidates are those of MetaSampler(knowledge=None).
        rand = space.internal_from_unit(rng.random((_N_FIXED_RANDOM, space.dim)))
        models: list[_TaskModel] = []
        task_points: list[np.ndarray] = []
        exact: list[dict[bytes, float]] = []
        n_sources = len(self._source_tasks)
        for i, task in enumerate(self._all_tasks()):
            # An archived task must share at least half of the study's parameters: a name that
            # happens to match (say ``batch_size``) says little about a different model.
            min_cols = 1 if i < n_sources else math.ceil(_MIN_ARCHIVE_COVERAGE * space.dim)
            fitted = self._fit_task(task, space, rng, min_cols)
            if fitted is not None:
                model, pts, values = fitted
                if i >= n_sources:
                    model.archived = True
                    model.compat = compatibility(task.distributions, space.distributions)
                models.append(model)
                task_points.append(pts)
                exact.append(values)
        n_rand = rand.shape[0]
        owner = np.concatenate(
            [np.full(n_rand, -1)] + [np.full(len(p), t) for t, p in enumerate(task_points)]
        )
        cand = np.concatenate([rand, *task_points], axis=0) if task_points else rand
        feats = space.features_from_internal(cand)
        _, keep = np.unique(np.round(feats, 9), axis=0, return_index=True)
        keep.sort()
        cand, feats, owner = cand[keep], feats[keep], owner[keep]
        from_tasks = owner >= 0
        if models:
            means = np.stack([m.predict(cand) for m in models])
            # Where a task evaluated a candidate, trust the evaluation over the surrogate.
            for t, model in enumerate(models):
                keys = _row_keys(
                    model.subspace.features_from_internal(cand[:, model.columns]), as_list=True
                )
                for c, key in enumerate(keys):
                    if key in exact[t]:
                        means[t, c] = exact[t][key]
            ranks = np.argsort(np.argsort(means, axis=1, kind="stable"), axis=1) / means.shape[1]
        else:
            means = np.zeros((0, cand.shape[0]))
            ranks = np.zeros((0, cand.shape[0]))
        index = {k: i for i, k in enumerate(_row_keys(feats, as_list=True))}
        return _SpaceState(space, models, cand, feats, means, ranks, from_tasks, owner, index)

    def _fit_task(
        self, task: TuningTask, space: NormalizedSpace, rng: np.random.Generator, min_cols: int = 1
    ) -> tuple[_TaskModel, np.ndarray, dict[bytes, float]] | None:
        cols = [
            j
            for j, name in enumerate(space.names)
            if name in task.distributions
            and isinstance(task.distributions[name], CategoricalDistribution)
            == isinstance(space.distributions[name], CategoricalDistribution)
        ]
        if not cols or len(cols) < min_cols:
            return None
        sub = space.subspace([space.names[j] for j in cols])
        rows, losses = [], []
        for p, loss in zip(task.params, task.losses, strict=True):
            if math.isnan(loss):
                continue
            x = sub.internal_from_params(p)
            if x is not None:
                rows.append(x)
                losses.append(loss)
        if len(rows) < _MIN_TASK_POINTS:
            return None
        x_all = np.asarray(rows)
        y_all = np.asarray(losses, dtype=float)
        feats_all = sub.features_from_internal(x_all)
        _, uniq = np.unique(np.round(feats_all, 9), axis=0, return_index=True)
        x_all, y_all, feats_all = x_all[uniq], y_all[uniq], feats_all[uniq]
        n_total = len(y_all)
        if n_total < _MIN_TASK_POINTS:
            return None
        yg_all = gaussianize(y_all)
        values = dict(zip(_row_keys(feats_all, as_list=True), yg_all.tolist(), strict=True))
        idx = np.arange(n_total)
        if n_total > _MAX_TASK_POINTS:
            # The surrogate sees the best third and a random rest; exact values cover all.
            order = np.argsort(y_all, kind="stable")
            n_top = _MAX_TASK_POINTS // 3
            rest = rng.choice(order[n_top:], size=_MAX_TASK_POINTS - n_top, replace=False)
            idx = np.sort(np.concatenate([order[:n_top], rest]))
        feats, yg = feats_all[idx], yg_all[idx]
        gp = self._fit_gp(sub, feats, yg, noise=self._noise() + 1e-2, mults=(0.25, 0.5, 1.0, 2.0))
        # Candidate points for the full space: the task's configurations, other columns random.
        full = space.internal_from_unit(rng.random((n_total, space.dim)))
        full[:, cols] = x_all
        return _TaskModel(task.name, np.asarray(cols), sub, gp, n_total), full, values

    def _history(
        self, study: Study, trial: FrozenTrial, space: NormalizedSpace
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Observed configurations and their loss ranks, running configurations, pending count.

        Completed and pruned trials are observations. As in Optuna's TPE, a pruned trial ranks
        below every completed one; pruned trials rank among themselves by their last reported
        step (later is better), then by the value reported there, and pruned trials without an
        intermediate value come last. The returned "losses" are these ranks (ties share the
        mean rank); everything downstream uses ranks only.
        """
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        with self._lock:
            cache = self._encoded.setdefault(
                (id(study._storage), study._study_id, space.signature), {}
            )
            while len(self._encoded) > 8:
                self._encoded.pop(next(iter(self._encoded)))
        return history_ranks(study, trial, space, states, self._constant_liar, cache)

    def _propose(self, study: Study, trial: FrozenTrial, space: NormalizedSpace) -> dict[str, Any]:
        # The matrices are tiny: multi-threaded BLAS only adds contention (10x slower on 2 cores).
        with single_threaded_blas():
            params = self._propose_impl(study, trial, space, 0)
            if not self._constant_liar:
                return params
            # Another worker may have written the same configuration while we were deciding
            # (its trial was invisible or had no parameters when we read the study): re-check.
            for extra in (1, 2, 3):
                clash = any(
                    t.number != trial.number and t.params == params
                    for t in study.get_trials(
                        deepcopy=False,
                        states=(TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED),
                    )
                )
                if not clash:
                    break
                params = self._propose_impl(study, trial, space, extra)
            return params

    def _propose_impl(
        self, study: Study, trial: FrozenTrial, space: NormalizedSpace, extra_skip: int
    ) -> dict[str, Any]:
        obs_x, obs_y, run_x, pending = self._history(study, trial, space)
        pending += extra_skip
        rng = self._trial_rng(trial)
        n_seen = len(obs_y) + len(run_x) + pending
        if len(obs_y) < self._n_startup_trials and n_seen < 4 * self._n_startup_trials:
            state = self._space_state(space)
            if state.tasks and self._portfolio_turn(state, obs_x, obs_y, n_seen):
                x = self._portfolio_step(state, obs_x, obs_y, run_x, pending)
            else:
                x = self._design_step(space, obs_x, run_x, pending, rng)
        else:
            x = self._bo_step(space, obs_x, obs_y, run_x, pending, rng)
        return space.params_from_internal(x)

    def _portfolio_turn(
        self, state: _SpaceState, obs_x: np.ndarray, obs_y: np.ndarray, k: int
    ) -> bool:
        """Whether initial-design trial ``k`` takes the tasks' portfolio pick or a space-filling one.

        With source studies, always the portfolio. With archived tasks only, the share of
        portfolio picks follows the archive's trust ``T`` (:meth:`_task_weights`): trial ``k`` is
        a portfolio pick when ``ceil((k + 1) T) > ceil(k T)``. The first trial takes the
        archive's pick; with the sceptical prior (``T`` about 0.4 or less) the next ones
        alternate with space filling, and as the study's own trials confirm or contradict the
        archive, ``T`` and with it the share of the archive's picks rises or falls.
        """
        if self._source_tasks:
            return True
        _, t_all, _ = self._task_weights(state.tasks, state.task_means(obs_x), obs_y)
        return math.ceil((k + 1) * t_all - 1e-9) > math.ceil(k * t_all - 1e-9)

    # -- initial design ---------------------------------------------------------------------
    def _task_weights(
        self, tasks: Sequence[_TaskModel], task_means_obs: np.ndarray, obs_y: np.ndarray
    ) -> tuple[np.ndarray, float, bool]:
        """Task weights (summing to 1), the trust ``T`` in ``[0, 1]`` of the tasks' prediction, and
        whether any archived task has a positive trust.

        A task's similarity is an evidence prior times ``exp(4 * tau)``, with ``tau`` Kendall's
        rank correlation between the task's surrogate and the study's results (from 3
        observations on). A source study is trusted; an archived task is weighted by its
        relevance (:func:`~autometa.optuna._trust.relevance`: a sceptical prior scaled by how well
        its space fits the study's, updated by ``tau``). Without source studies that relevance
        only counts once the study favours the task (:func:`~autometa.optuna._trust.trust`:
        zero at odds against, so an unconfirmed archive does nothing); with source studies, which
        vouch for the kind of study, it is used as it is. ``T`` is the similarity-weighted mean of
        the tasks' trusts (1 with source studies only); it scales the tasks' prior mean in the
        Bayesian-optimization phase and sets the share of the archive's picks in the initial
        design.
        """
        gate = trust if not self._source_tasks else float
        prior = np.array([t.n_points / (t.n_points + _EVIDENCE_POINTS) for t in tasks])
        finite = np.isfinite(obs_y)
        n_obs = int(finite.sum())
        taus = np.zeros(len(tasks))
        if n_obs >= 3:
            taus = np.array([kendall_tau(m[finite], obs_y[finite]) for m in task_means_obs])
            prior = prior * np.exp(_SIMILARITY_TEMPERATURE * taus)
        ev_taus, n_ev = taus, n_obs
        if not self._source_tasks and n_obs >= 6:
            # Without sources, an archived task must rank the study's better half: a task that
            # only tells good from bad regions (as a shared name often does) but not where the
            # optimum lies would pull the search to its own optimum.
            y = obs_y[finite]
            top = np.argsort(y, kind="stable")[: n_obs // 2]
            ev_taus = np.array([kendall_tau(m[finite][top], y[top]) for m in task_means_obs])
            n_ev = len(top)
        trusts = np.array(
            [
                gate(relevance(float(tau), n_ev, PRIOR_RELEVANCE * t.compat)) if t.archived else 1.0
                for t, tau in zip(tasks, ev_taus, strict=True)
            ]
        )
        base = prior / prior.sum()
        weights = base * trusts
        total = float(weights.sum())
        archive_on = bool(any(t.archived and w > 0 for t, w in zip(tasks, trusts, strict=True)))
        return (weights / total if total > 0 else base), float(total), archive_on

    def _portfolio_step(
        self,
        state: _SpaceState,
        obs_x: np.ndarray,
        obs_y: np.ndarray,
        run_x: np.ndarray,
        pending: int,
    ) -> np.ndarray:
        chosen = np.concatenate([obs_x, run_x], axis=0)
        n_cand = state.cand_internal.shape[0]
        if chosen.shape[0]:
            means_chosen = state.task_means(chosen)
            # Percentile of each chosen point among the candidates, per task.
            pct = np.stack(
                [
                    np.searchsorted(np.sort(state.cand_task_means[t]), means_chosen[t]) / n_cand
                    for t in range(len(state.tasks))
                ]
            )
            best = pct.min(axis=1)
            weights, _, _ = self._task_weights(
                state.tasks, means_chosen[:, : obs_x.shape[0]], obs_y
            )
        else:
            best = np.ones(len(state.tasks))
            weights, _, _ = self._task_weights(
                state.tasks, np.zeros((len(state.tasks), 0)), obs_y[:0]
            )
        taken = _row_keys(state.space.features_from_internal(chosen)) if chosen.shape[0] else set()
        available = np.array([k not in taken for k in _row_keys(state.cand_features, as_list=True)])
        tasks_ok = state.cand_from_tasks & (np.append(weights, 0.0)[state.cand_owner] > 0)
        if (available & tasks_ok).any():
            available &= tasks_ok  # propose configurations some trusted task has evaluated
        ranks = state.cand_task_ranks
        pick = 0
        for _ in range(pending + 1):
            if not available.any():
                available[:] = True
            score = weights @ np.minimum(best[:, None], ranks) + 1e-3 * (weights @ ranks)
            score[~available] = np.inf
            pick = int(np.argmin(score))
            best = np.minimum(best, ranks[:, pick])
            available[pick] = False
        return state.cand_internal[pick]

    def _design_step(
        self,
        space: NormalizedSpace,
        obs_x: np.ndarray,
        run_x: np.ndarray,
        pending: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The next point of the space-filling design (:func:`space_filling_design`).

        Design points already taken (by a finished, running or pending trial) are skipped. Once
        all are taken (a space of few categorical values), the design point whose configuration
        was taken least often is repeated, so categorical choices stay balanced.
        """
        with self._lock:
            base = self._base_seed or 0
        design = space_filling_design(space, 4 * self._n_startup_trials, base)
        pts = space.internal_from_unit(design)
        keys = _row_keys(space.features_from_internal(pts), as_list=True)
        chosen = np.concatenate([obs_x, run_x], axis=0)
        chosen_keys = _row_keys(space.features_from_internal(chosen), as_list=True)
        counts: dict[bytes, int] = {}
        for k in chosen_keys:
            counts[k] = counts.get(k, 0) + 1
        for _ in range(pending + 1):
            # the first design point whose configuration was taken least often
            j = min(range(len(keys)), key=lambda i: (counts.get(keys[i], 0), i))
            counts[keys[j]] = counts.get(keys[j], 0) + 1
        if counts[keys[j]] > 1 and len(set(keys)) >= len(keys) // 2:
            # a continuous space whose design is used up: a fresh random point
            return space.internal_from_unit(rng.random((1, space.dim)))[0]
        return pts[j]

    # -- Bayesian optimization ------------------------------------------------------------------
    def _bo_step(
        self,
        space: NormalizedSpace,
        obs_x: np.ndarray,
        obs_y: np.ndarray,
        run_x: np.ndarray,
        pending: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        state = self._space_state(space)
        if obs_y.size == 0:
            return space.internal_from_unit(rng.random((1, space.dim)))[0]
        z = gaussianize(obs_y)
        if self._surrogate is not None and not state.tasks and space.dim <= ICL_MAX_DIM:
            new = local_and_random_candidates(space, obs_x, z, _N_FRESH_RANDOM, _N_LOCAL, rng)
            cand = np.concatenate([state.cand_internal, new], axis=0)
            win = gp_window(z, _MAX_ICL_CONTEXT, rng)  # the network was trained on <= 56 points
            return cand[
                pick_with_icl(
                    self._surrogate, space, obs_x[win], z[win], run_x, cand, pending, obs_x
                )
            ]
        # Candidates: fixed ones (cached per space), fresh random ones, perturbations of the best.
        new = local_and_random_candidates(space, obs_x, z, _N_FRESH_RANDOM, _N_LOCAL, rng)
        cand = np.concatenate([state.cand_internal, new], axis=0)
        feats = np.concatenate([state.cand_features, space.features_from_internal(new)], axis=0)
        # Prior mean from similarity-weighted task surrogates.
        archive_masked = False
        if state.tasks:
            obs_means = state.task_means(obs_x)
            w, t_all, archive_on = self._task_weights(state.tasks, obs_means, obs_y)
            archive_masked = not archive_on
            active = w > 1e-3 / len(w)
            new_means = state.task_means(new, active)
            prior_c = w @ np.concatenate([state.cand_task_means, new_means], axis=1)
            prior_o = w @ obs_means
            prior_r = w @ state.task_means(run_x, active)
            vo = prior_o.var()
            a = (
                float(np.clip(np.cov(prior_o, z, bias=True)[0, 1] / vo, 0.0, 2.0))
                if vo > 1e-12
                else 0.0
            )
            a *= t_all  # an archive the study does not confirm fades out of the prior mean
            b = float(np.mean(z - a * prior_o))
        else:
            prior_c = np.zeros(cand.shape[0])
            prior_o = np.zeros(obs_x.shape[0])
            prior_r = np.zeros(run_x.shape[0])
            a, b = 0.0, float(np.mean(z))
        resid = z - (a * prior_o + b)
        x_feat = space.features_from_internal(obs_x)
        taken = _row_keys(x_feat)
        win = gp_window(z, _MAX_GP_POINTS, rng)
        x_feat, resid = x_feat[win], resid[win]
        gp = self._fit_study_gp(space, x_feat, resid, obs_x, obs_y)
        if run_x.size:
            lie = float(z.max()) - (a * prior_r + b)
            run_feat = space.features_from_internal(run_x)
            taken |= _row_keys(run_feat)
            x_feat = np.concatenate([x_feat, run_feat], axis=0)
            resid = np.concatenate([resid, lie])
            gp = GP(gp.lengthscale, gp.noise).fit(x_feat, resid)
        available = np.array([k not in taken for k in _row_keys(feats, as_list=True)])
        if archive_masked:
            # No archived task is trusted yet: its configurations are not candidates either.
            n_fixed = state.cand_owner.shape[0]
            available[:n_fixed] &= state.cand_owner < 0
        if not available.any():
            available[:] = True
        pick = pick_with_believer(
            gp, x_feat, resid, feats, a * prior_c + b, float(z.min()), available, pending
        )
        return cand[pick]

    def _fit_study_gp(
        self,
        space: NormalizedSpace,
        x: np.ndarray,
        y: np.ndarray,
        obs_x: np.ndarray,
        obs_y: np.ndarray,
    ) -> GP:
        """GP on the study: one length scale per parameter and a noise level, fitted by evidence.

        The meta-learned length scale is the centre of a log-normal prior on each parameter's
        length scale, and the noise has one centred on ``_NOISE_CENTRE`` within
        ``_NOISE_BOUNDS``; the study's marginal likelihood moves each length scale away from it
        (:func:`~autometa.optuna._gp.fit_ard`), so a parameter the objective hardly depends on
        gets a long length scale and the sensitive ones keep their resolution (one isotropic
        length scale must be as short as the most sensitive parameter needs, everywhere). The
        hyperparameters are fitted to the rank-normal scores of the study's own trials
        (``obs_x``, ``obs_y`` in trial order): all of them below 20 trials, then the first
        ``n - n % (n // 10)`` (so they are refitted every ``n // 10`` trials; the best half and
        a seeded random rest of them beyond ``_MAX_HYPER_POINTS``). The fit is memoized by that
        data, so a proposal stays a function of the history alone. The GP with these
        hyperparameters is then fitted to ``x``, ``y`` (the windowed residuals).
        """
        # The prior centre is the untuned default, with or without knowledge: the meta-learned
        # length scale (0.23 x sqrt(n_features)) is within this prior's width of it, and with the
        # same study GP a study that confirms no knowledge is tuned exactly as with
        # knowledge=None (docs/sampler.md, "Name collisions").
        base = _STUDY_LENGTHSCALE * math.sqrt(max(space.n_features, 1))
        noise0 = _NOISE_CENTRE
        n = obs_y.shape[0]
        if n < 3:
            return GP(base, noise0).fit(x, y)
        m = n if n < 20 else n - n % max(1, n // 10)
        hx, hy = obs_x[:m], gaussianize(obs_y[:m])
        if m > _MAX_HYPER_POINTS:
            keep = gp_window(hy, _MAX_HYPER_POINTS, np.random.default_rng(m))
            hx, hy = hx[keep], hy[keep]
        key = (space.signature, base, noise0, hx.tobytes(), hy.tobytes())
        with self._lock:
            cached = self._hyper.get(key)
        if cached is None:
            feats = space.features_from_internal(hx)
            gp_h, _, _ = fit_ard(
                feats,
                hy,
                space.feature_slices,
                base,
                _NOISE_CENTRE,
                prior_sd=_ARD_PRIOR_SD,
                noise_prior_sd=_NOISE_PRIOR_SD,
                noise_bounds=_NOISE_BOUNDS,
            )
            cached = (gp_h.lengthscale, gp_h.noise)
            with self._lock:
                self._hyper[key] = cached
                while len(self._hyper) > 16:
                    self._hyper.popitem(last=False)
        return GP(cached[0], cached[1]).fit(x, y)

    def _fit_gp(
        self,
        space: NormalizedSpace,
        x: np.ndarray,
        y: np.ndarray,
        noise: float | None = None,
        mults: Sequence[float] = (0.5, 1.0, 2.0),
    ) -> GP:
        """Fit with the meta-learned length scale times the multiplier of highest evidence."""
        base = self._lengthscale(space)
        noise = self._noise() if noise is None else noise
        best_gp, best_lml = None, -np.inf
        for mult in mults:
            gp = GP(base * mult, noise).fit(x, y)
            lml = gp.log_marginal_likelihood()
            if lml > best_lml:
                best_gp, best_lml = gp, lml
        assert best_gp is not None
        return best_gp


def _van_der_corput(k: int) -> float:
    """The ``k``-th point (from 0) of the base-2 van der Corput sequence."""
    out, denom = 0.0, 1.0
    while k:
        denom *= 2.0
        k, bit = divmod(k, 2)
        out += bit / denom
    return out


def space_filling_design(space: NormalizedSpace, n: int, seed: int) -> np.ndarray:
    """Space-filling initial design in the unit cube, ``[m, space.dim]`` with ``m >= n``.

    A scrambled Sobol sequence (seeded) for the numerical parameters. The categorical ones
    jointly take the combinations of their choices in a seeded random order, each combination
    once before any repeats (so two categorical parameters with 4 and 3 choices see 10 different
    pairs in 10 trials, where independent draws see about 7); beyond 4,096 combinations each
    categorical parameter cycles through its choices in its own seeded order instead.
    """
    m = int(math.ceil(math.log2(max(n, 2))))
    design = qmc.Sobol(space.dim, scramble=True, seed=seed).random_base2(m)
    cats = [
        j
        for j, name in enumerate(space.names)
        if isinstance(space.distributions[name], CategoricalDistribution)
    ]
    if not cats:
        return design
    sizes = [len(space.distributions[space.names[j]].choices) for j in cats]  # type: ignore[attr-defined]
    rng = np.random.default_rng([seed, 104729, space.dim])
    n_pts = design.shape[0]
    if math.prod(sizes) <= 4096:
        total = math.prod(sizes)
        combos = np.concatenate([rng.permutation(total) for _ in range(-(-n_pts // total))])
        idx = np.stack(np.unravel_index(combos[:n_pts], sizes), axis=1)
    else:
        idx = np.stack(
            [
                np.concatenate([rng.permutation(c) for _ in range(-(-n_pts // c))])[:n_pts]
                for c in sizes
            ],
            axis=1,
        )
    for col, (j, c) in enumerate(zip(cats, sizes, strict=True)):
        design[:, j] = (idx[:, col] + 0.5) / c
    return design


_CONTROLLER: Any = None


def single_threaded_blas() -> Any:
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _row_keys(a: np.ndarray, as_list: bool = False) -> Any:
    rounded = np.round(np.asarray(a, dtype=float), 9) + 0.0  # +0.0 turns -0.0 into 0.0
    keys = [row.tobytes() for row in rounded]
    return keys if as_list else set(keys)
